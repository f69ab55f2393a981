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

#[tokio::test]
async fn planned_backends_are_a_typed_error_naming_their_feature() {
    let cases = [
        ("sqlite:///var/lib/mfa.db", "sqlite", "sqlite"),
        ("postgres://mfa@db/mfa", "postgres", "postgres"),
        ("postgresql://mfa@db/mfa", "postgres", "postgres"),
        ("redis://cache:6379", "redis", "redis"),
        ("rediss://cache:6380", "redis", "redis"),
    ];
    for (url, want_scheme, want_feature) in cases {
        match AnyStore::open(url).await {
            Err(OpenError::NotCompiledIn { scheme, feature }) => {
                assert_eq!((scheme, feature), (want_scheme, want_feature), "{url}");
            }
            other => panic!("{url}: expected NotCompiledIn, got {other:?}"),
        }
    }
    let msg = AnyStore::open("sqlite://x").await.unwrap_err().to_string();
    assert!(
        msg.contains("sqlite") && msg.contains("not compiled"),
        "{msg}"
    );
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
