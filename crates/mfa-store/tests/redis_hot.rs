//! RedisStore, composed with PostgreSQL and with SQLite through `Split`: the
//! conformance suite, races through two clients, expiry and sweeping, and fail-closed
//! behaviour when Redis is unreachable. Each test works under key prefixes of its own,
//! deleted at the end.
//!
//! Needs `MFA_TEST_REDIS_URL` (e.g. `redis://127.0.0.1:6379`), and for the composed
//! PostgreSQL store `MFA_TEST_POSTGRES_URL`; without them the tests say they skip.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_core::store::{
    AttemptRequest, AttemptRules, AttemptStore, ChallengeId, ChallengeOwner, ChallengeStore,
    ChallengeUse, FailureKey, FailureStore, PendingChallenge, RecordData, StoreError, Verdict,
};
use mfa_core::testkit::{self, SeededRandom};
use mfa_core::{FactorId, Timestamp, UserId};
use mfa_store::{MemoryStore, RedisOptions, RedisStore, Split, SqliteStore};

use crate::postgres::TestDb;
use crate::support::{TempDb, races_across_instances, server, unique, unreachable};

const VAR: &str = "MFA_TEST_REDIS_URL";

/// The test server (or cluster) and the prefixes a test used (their keys are deleted
/// on drop).
pub(crate) struct TestRedis {
    pub(crate) url: String,
    prefixes: Mutex<Vec<String>>,
}

impl TestRedis {
    async fn new(test: &str) -> Option<Self> {
        Self::named_by(VAR, test).await
    }

    /// The server or cluster named by the variable `var`, or `None` after saying the
    /// test skips (failing instead under `MFA_REQUIRE_EXTERNAL=1`).
    pub(crate) async fn named_by(var: &str, test: &str) -> Option<Self> {
        let url = server(var, test)?;
        let probe =
            RedisStore::connect(&url, RedisOptions::default().prefix(unique("mfa_probe"))).await;
        if let Err(e) = probe {
            unreachable(test, "Redis", &e);
            return None;
        }
        Some(Self {
            url,
            prefixes: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn prefix(&self) -> String {
        let p = unique("mfa_test");
        self.prefixes.lock().unwrap().push(p.clone());
        p
    }

    pub(crate) async fn store_in(&self, prefix: &str) -> RedisStore {
        RedisStore::connect(&self.url, RedisOptions::default().prefix(prefix))
            .await
            .unwrap()
    }

    pub(crate) async fn store(&self) -> RedisStore {
        let p = self.prefix();
        self.store_in(&p).await
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let prefixes =
            std::mem::take(&mut *self.prefixes.lock().unwrap_or_else(|e| e.into_inner()));
        let url = self.url.clone();
        let done = testkit::on_own_thread(move || async move {
            for p in prefixes {
                let options = RedisOptions::default().prefix(p);
                let s = RedisStore::connect(&url, options).await.unwrap();
                s.delete_all().await.unwrap();
            }
        });
        if !done {
            eprintln!("could not delete the test keys");
        }
    }
}

/// The conformance suite and the journal's on `Split<PostgresStore, RedisStore>`, Redis
/// named by `var`.
pub(crate) async fn postgres_plus(var: &str, test: &str) {
    let Some(redis) = TestRedis::named_by(var, test).await else {
        return;
    };
    let Some(db) = TestDb::new(test).await else {
        return;
    };
    let split = || {
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(async { Split::new(db.store().await, redis.store().await) })
        })
    };
    testkit::conformance(split).await;
    // The journal lives in the durable half; a reset's hot half follows its transaction.
    testkit::journal_conformance(split).await;
}

/// The conformance suite on `Split<SqliteStore, RedisStore>`, Redis named by `var`.
pub(crate) async fn sqlite_plus(var: &str, test: &str) {
    let Some(redis) = TestRedis::named_by(var, test).await else {
        return;
    };
    let files = Mutex::new(Vec::new());
    testkit::conformance(|| {
        let db = TempDb::new("mfa_split");
        let durable = SqliteStore::open_blocking(&db.0).unwrap();
        files.lock().unwrap().push(db);
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current()
                .block_on(async { Split::new(durable, redis.store().await) })
        })
    })
    .await;
}

/// The 64-way races through two clients of one prefix (and two pools of one schema).
pub(crate) async fn races_through_two_clients(var: &str, test: &str) {
    let Some(redis) = TestRedis::named_by(var, test).await else {
        return;
    };
    let Some(db) = TestDb::new(test).await else {
        return;
    };
    let prefix = redis.prefix();
    let schema = db.schema().await;
    let a = Arc::new(Split::new(
        db.store_in(&schema).await,
        redis.store_in(&prefix).await,
    ));
    let b = Arc::new(Split::new(
        db.store_in(&schema).await,
        redis.store_in(&prefix).await,
    ));
    races_across_instances(a, b).await;
}

/// The hot half's attempt checks on a `RedisStore` alone (named by `var`), each on a
/// fresh prefix: the counted attempt and its challenge, and the races on one factor and
/// on one account, which its one script judges as a sequence.
pub(crate) async fn attempts_on_redis_alone(var: &str, test: &str) {
    let Some(redis) = TestRedis::named_by(var, test).await else {
        return;
    };
    testkit::attempts(&redis.store().await).await;
    testkit::attempt_race(Arc::new(redis.store().await)).await;
    testkit::account_race(Arc::new(redis.store().await)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_counts_attempts_in_one_script() {
    attempts_on_redis_alone(VAR, "redis_counts_attempts_in_one_script").await;
}

/// Random rules and a random run of attempts (two factors of one user, time moving on
/// by 0-7 s, now and then a settle): the script judges and counts each attempt exactly
/// as the memory store, the reference, does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_judges_attempts_like_the_memory_store() {
    let Some(redis) = TestRedis::new("redis_judges_attempts_like_the_memory_store").await else {
        return;
    };
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let u = UserId::new("olga").unwrap();
    let factors = [FactorId::new("f1").unwrap(), FactorId::new("f2").unwrap()];
    for round in 0..12 {
        let backoff: Vec<Duration> = (0..next(4))
            .map(|_| Duration::from_secs(next(12)))
            .collect();
        let limit = if next(2) == 0 { 1_000 } else { next(6) + 1 };
        let rules = AttemptRules::new(
            u32::try_from(limit).unwrap(),
            Duration::from_secs(next(30) + 1),
            &backoff,
            Duration::from_secs(next(40)),
        )
        .unwrap();
        let (memory, store) = (MemoryStore::new(), redis.store().await);
        let mut now = 1_000;
        for step in 0..60 {
            now += next(8);
            let t = Timestamp::from_unix_secs(now);
            let f = &factors[usize::try_from(next(2)).unwrap()];
            if next(10) == 0 {
                memory.settle_attempt(&u, f, None, t).await.unwrap();
                store.settle_attempt(&u, f, None, t).await.unwrap();
                continue;
            }
            let req = AttemptRequest::new(&u, f, &rules, t);
            let m = memory.count_attempt(&req).await.unwrap();
            let r = store.count_attempt(&req).await.unwrap();
            assert_eq!(
                (m.verdict, m.account, m.factor),
                (r.verdict, r.account, r.factor),
                "round {round}, step {step}, {rules:?}"
            );
        }
    }
}

/// With `replica_acks`, an attempt that wrote (counted, took) and a settle that took
/// are reported only once a replica has them: on a server without replicas they fail
/// closed. A refused attempt wrote nothing and a settle without a take only clears, so
/// neither waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_attempts_wait_for_a_replica_only_when_they_write() {
    let test = "redis_attempts_wait_for_a_replica_only_when_they_write";
    let Some(redis) = TestRedis::new(test).await else {
        return;
    };
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("replication")
        .query_async(&mut raw)
        .await
        .unwrap();
    if !info.contains("connected_slaves:0") {
        eprintln!("{test}: skipped, {} has replicas", redis.url);
        return;
    }
    let prefix = redis.prefix();
    let plain = redis.store_in(&prefix).await;
    let options = RedisOptions::default()
        .prefix(&prefix)
        .replica_acks(1, Duration::from_millis(50));
    let acked = RedisStore::connect(&redis.url, options).await.unwrap();
    let (u, f) = (UserId::new("nora").unwrap(), FactorId::new("f1").unwrap());
    let owner = ChallengeOwner::User(u.clone());
    let mut rng = SeededRandom::new(5);
    let put = async |id: &ChallengeId| {
        let c = PendingChallenge::new(
            id.clone(),
            owner.clone(),
            RecordData::plain(b"c".to_vec()),
            Timestamp::from_unix_secs(1_000),
        );
        plain.put_challenge(c).await.unwrap();
    };
    let (first, second) = (
        ChallengeId::generate(&mut rng).unwrap(),
        ChallengeId::generate(&mut rng).unwrap(),
    );
    put(&first).await;
    put(&second).await;
    let rules = AttemptRules::new(1, Duration::from_secs(600), &[], Duration::ZERO).unwrap();
    let t = Timestamp::from_unix_secs(100);
    let req = AttemptRequest::new(&u, &f, &rules, t).with_challenge(ChallengeUse::Take(&first));
    // Counted and taken, unconfirmed: an error, and the challenge is not handed out
    // (nor left to be taken again).
    let r = acked.count_attempt(&req).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    assert!(plain.challenge(&first, &owner, t).await.unwrap().is_none());
    // The count stood: the account is at its limit, so the next attempt is refused
    // having written nothing, and answers without waiting.
    let a = acked.count_attempt(&req).await.unwrap();
    assert_eq!(a.verdict, Verdict::AccountLocked);
    assert!(a.challenge.is_none());
    let r = acked.settle_attempt(&u, &f, Some(&second), t).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    acked.settle_attempt(&u, &f, None, t).await.unwrap();
    let account = FailureKey::user(&u);
    let never = mfa_core::store::NEVER_LAPSES;
    assert_eq!(plain.failures(&account, t, never).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_plus_redis_passes_the_conformance_suite() {
    postgres_plus(VAR, "postgres_plus_redis_passes_the_conformance_suite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_plus_redis_passes_the_conformance_suite() {
    sqlite_plus(VAR, "sqlite_plus_redis_passes_the_conformance_suite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_races_across_two_clients() {
    races_through_two_clients(VAR, "redis_races_across_two_clients").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_challenges_expire_by_the_callers_clock_and_are_swept() {
    let Some(redis) = TestRedis::new("redis_challenges_expire").await else {
        return;
    };
    let store = redis.store().await;
    let owner = ChallengeOwner::User(UserId::new("alice").unwrap());
    let mut rng = SeededRandom::new(9);
    let mut ids = Vec::new();
    for exp in [100, 200, 300] {
        let id = ChallengeId::generate(&mut rng).unwrap();
        store
            .put_challenge(PendingChallenge::new(
                id.clone(),
                owner.clone(),
                RecordData::plain(b"c".to_vec()),
                Timestamp::from_unix_secs(exp),
            ))
            .await
            .unwrap();
        ids.push(id);
    }
    let t = Timestamp::from_unix_secs;
    assert!(
        store
            .challenge(&ids[0], &owner, t(100))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .challenge(&ids[0], &owner, t(101))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.purge_expired_challenges(t(250)).await.unwrap(), 2);
    assert_eq!(store.purge_expired_challenges(t(250)).await.unwrap(), 0);
    assert!(
        store
            .take_challenge(&ids[1], &owner, t(0))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .take_challenge(&ids[2], &owner, t(250))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn redis_unreachable_fails_closed() {
    // Nothing listens on port 1: connecting fails typed, quickly, to one server or a
    // cluster.
    for url in [
        "redis://127.0.0.1:1",
        "redis+cluster://127.0.0.1:1,127.0.0.1:2",
    ] {
        let r = RedisStore::connect(url, RedisOptions::default()).await;
        assert!(matches!(r, Err(StoreError::Backend(_))), "{url}: {r:?}");
    }
    // A prefix with a brace would take the place of the owner's hash tag: refused
    // before connecting.
    let r = RedisStore::connect(
        "redis://127.0.0.1:1",
        RedisOptions::default().prefix("a{b}"),
    )
    .await;
    let Err(StoreError::Backend(e)) = r else {
        panic!("a prefix with a brace: {r:?}")
    };
    assert!(e.to_string().contains("prefix"), "{e}");
}

/// A TCP proxy to `target` that can be cut: a Redis that goes away under the store.
struct Proxy {
    addr: std::net::SocketAddr,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let tasks = Arc::clone(&tasks);
            async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let conn = tokio::spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    tasks.lock().unwrap().push(conn);
                }
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { addr, tasks }
    }

    /// Closes every connection and stops listening.
    fn cut(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_fails_counters_closed() {
    let Some(redis) = TestRedis::new("redis_going_away_fails_counters_closed").await else {
        return;
    };
    let target = redis
        .url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 6379)));
    let proxy = Proxy::start(target).await;
    let prefix = redis.prefix();
    let store = RedisStore::connect(
        &format!("redis://{}", proxy.addr),
        RedisOptions::default().prefix(&prefix),
    )
    .await
    .unwrap();
    let key = FailureKey::user(&UserId::new("mallory").unwrap());
    let w = Duration::from_secs(600);
    let t = Timestamp::from_unix_secs(10);
    assert_eq!(store.record_failure(&key, t, w).await.unwrap().count, 1);
    assert_eq!(store.record_failure(&key, t, w).await.unwrap().count, 2);
    proxy.cut();
    // Redis is gone: counting, reading the count and taking a challenge are backend
    // errors, never "no failures" or a challenge.
    let r = store.record_failure(&key, t, w).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    let r = store.failures(&key, t, w).await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    let id = ChallengeId::generate(&mut SeededRandom::new(3)).unwrap();
    let r = store
        .take_challenge(&id, &ChallengeOwner::Usernameless, t)
        .await;
    assert!(matches!(r, Err(StoreError::Backend(_))), "{r:?}");
    // The count itself survived on the server.
    let direct = redis.store_in(&prefix).await;
    assert_eq!(
        direct.failures(&key, t, w).await.unwrap().map(|f| f.count),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_of_the_old_layout_are_migrated_so_a_lockout_survives_the_upgrade() {
    let test = "redis_keys_of_the_old_layout_are_migrated";
    let Some(redis) = TestRedis::new(test).await else {
        return;
    };
    let p = redis.prefix();
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    // What the previous release wrote: kim's account counter that never lapses (she is
    // locked out at 7), a windowed destination counter, a challenge and its indexes.
    let old = [
        (
            format!("{p}:f:user:3:kim:"),
            vec![("c", "7"), ("first", "100"), ("last", "200")],
        ),
        (
            format!("{p}:f:destination:0::+15551234567"),
            vec![
                ("c", "2"),
                ("first", "100"),
                ("last", "150"),
                ("lapse", "750"),
            ],
        ),
        (format!("{p}:c:someid"), vec![("o", "u:kim"), ("v", "1")]),
    ];
    for (key, fields) in &old {
        let _: () = redis::AsyncCommands::hset_multiple(&mut raw, key, fields)
            .await
            .unwrap();
    }
    let _: () = redis::AsyncCommands::expire(&mut raw, &old[1].0, 3_600)
        .await
        .unwrap();
    let _: () = redis::AsyncCommands::set(&mut raw, format!("{p}:seq"), 41)
        .await
        .unwrap();
    let _: () = redis::AsyncCommands::sadd(&mut raw, format!("{p}:uf:kim"), &old[0].0)
        .await
        .unwrap();

    let store = redis.store_in(&p).await;
    let kim = UserId::new("kim").unwrap();
    let account = FailureKey::user(&kim);
    let never = mfa_core::store::NEVER_LAPSES;
    let t = Timestamp::from_unix_secs(300);
    // Before the migration the new layout does not see the old keys.
    assert_eq!(store.failures(&account, t, never).await.unwrap(), None);
    assert_eq!(store.migrate_legacy_keys().await.unwrap(), (2, 3));
    assert_eq!(
        store.migrate_legacy_keys().await.unwrap(),
        (0, 0),
        "idempotent"
    );
    let f = store.failures(&account, t, never).await.unwrap().unwrap();
    assert_eq!(
        (f.count, f.first_at.unix_secs(), f.last_at.unix_secs()),
        (7, 100, 200)
    );
    let number = FailureKey::destination("+15551234567").unwrap();
    let f = store
        .failures(&number, t, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(f.map(|f| f.count), Some(2));
    // The next failure counts on from the old count; the TTLs came along.
    let f = store.record_failure(&account, t, never).await.unwrap();
    assert_eq!(f.count, 8);
    let left: i64 =
        redis::AsyncCommands::ttl(&mut raw, format!("{p}:f:{{-:destination:+15551234567}}"))
            .await
            .unwrap();
    assert!(left > 0 && left <= 3_600, "{left}");
    // Nothing of the old layout is left, and a reset finds the moved counter.
    for key in [
        old[0].0.clone(),
        old[1].0.clone(),
        old[2].0.clone(),
        format!("{p}:seq"),
        format!("{p}:uf:kim"),
    ] {
        let there: bool = redis::AsyncCommands::exists(&mut raw, &key).await.unwrap();
        assert!(!there, "{key} is left");
    }
    assert_eq!(store.reset_user_hot(&kim).await.unwrap(), (0, 1));
    assert_eq!(store.failures(&account, t, never).await.unwrap(), None);
}
