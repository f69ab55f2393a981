//! Opening a store from a URL.

use mfa_store::{AnyStore, OpenError};

#[tokio::test]
async fn memory_urls_open_a_memory_store() {
    for url in ["memory://", "memory:", "MEMORY://"] {
        let store = AnyStore::open(url).await;
        assert!(
            matches!(&store, Ok(s) if s.scheme() == "memory"),
            "{url}: {store:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_urls_open_their_store() {
    use mfa_core::store::FactorStore;

    let path = std::env::temp_dir().join(format!("{}.sqlite3", crate::support::unique("mfa_any")));
    let url = format!("sqlite://{}", path.display());
    let store = AnyStore::open(&url).await.unwrap();
    assert_eq!(store.scheme(), "sqlite");
    store
        .insert_factor(mfa_core::testkit::factor_record("alice", "f", 1, b"x"))
        .await
        .unwrap();
    drop(store);
    // Persistent: opening the URL again finds the factor.
    let again = AnyStore::open(&url).await.unwrap();
    let f = again
        .factor(
            &mfa_core::UserId::new("alice").unwrap(),
            &mfa_core::FactorId::new("f").unwrap(),
        )
        .await
        .unwrap();
    assert!(f.is_some());
    if let Ok(redis) = std::env::var("MFA_TEST_REDIS_URL") {
        let split = AnyStore::open_split(&url, &redis).await.unwrap();
        assert_eq!(split.scheme(), "sqlite+redis");
    }
    if let Ok(cluster) = std::env::var("MFA_TEST_REDIS_CLUSTER_URL") {
        let _shared = crate::support::REDIS_CLUSTER.read().await;
        let split = AnyStore::open_split(&url, &cluster).await.unwrap();
        assert_eq!(split.scheme(), "sqlite+redis");
        let AnyStore::SqliteRedis(split) = split else {
            panic!("not a split store")
        };
        assert!(split.hot().is_cluster());
    }
    drop(again);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    // Redis alone is not a whole store; composing needs a Redis URL second.
    for url in [
        "redis://cache:6379",
        "rediss://cache:6380",
        "redis+cluster://cache:7000,cache:7001",
    ] {
        assert_eq!(invalid_scheme(url).await, Some("redis"), "{url}");
    }
    assert!(matches!(
        AnyStore::open_split("sqlite://x.db", "postgres://db").await,
        Err(OpenError::Invalid { .. })
    ));
    assert!(matches!(
        AnyStore::open_split("memory://", "redis://127.0.0.1:1").await,
        Err(OpenError::Invalid { .. }) | Err(OpenError::Backend(_))
    ));
    // A cluster URL that names no node, or a database a cluster does not have, is a
    // typed error before anything connects.
    for hot in ["redis+cluster://", "redis+cluster://127.0.0.1:1/2"] {
        let r = AnyStore::open_split("memory://", hot).await;
        assert!(matches!(r, Err(OpenError::Backend(_))), "{hot}: {r:?}");
    }
    for url in ["sqlite://", "sqlite:", "sqlite://x.db?mode=ro"] {
        assert_eq!(invalid_scheme(url).await, Some("sqlite"), "{url}");
    }
    // A server that is not there is a typed backend error.
    assert!(matches!(
        AnyStore::open("postgres://nobody@127.0.0.1:1/none").await,
        Err(OpenError::Backend(_))
    ));
}

#[tokio::test]
async fn unknown_and_malformed_urls_are_refused() {
    assert!(matches!(
        AnyStore::open("mysql://db").await,
        Err(OpenError::UnknownScheme(s)) if s == "mysql"
    ));
    assert!(matches!(
        AnyStore::open("no scheme").await,
        Err(OpenError::NoScheme)
    ));
    assert!(matches!(AnyStore::open("").await, Err(OpenError::NoScheme)));
    // A setting the memory store cannot honour is refused, not ignored.
    assert!(matches!(
        AnyStore::open("memory://persist-to-disk").await,
        Err(OpenError::Invalid {
            scheme: "memory",
            ..
        })
    ));
}

/// The scheme [`AnyStore::open`] names when it refuses `url` as invalid for it.
async fn invalid_scheme(url: &str) -> Option<&'static str> {
    match AnyStore::open(url).await {
        Err(OpenError::Invalid { scheme, .. }) => Some(scheme),
        _ => None,
    }
}
