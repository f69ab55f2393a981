//! Store throughput against a floor measured in the same run (the mfa-store README's
//! speed table).
//!
//! * PostgreSQL: TOTP-shaped verifications (read the factor, conditional write of the
//!   new version) at 1, 8 and 32 concurrent tasks through one `PostgresStore`, beside
//!   `pgbench` running the same two statements at the same concurrency. Also counts the
//!   round trips per verification and per take through a counting TCP proxy (a round
//!   trip is the client sending after the server answered).
//! * The `mfa` service on PostgreSQL: real TOTP verifications through `Service::verify`
//!   (lockout gate, listing, envelope, pure check, compare-and-swap, counters cleared,
//!   `amr`) at 1, 8 and 32 tasks, divided by the floor above at the same concurrency in
//!   the same run: `pgbench` running the two statements a single-use verification
//!   cannot avoid (the issue's floor), and the store's own bare read-and-conditional-write
//!   shape through `PostgresStore`; and beside `pgbench` running the service's own two
//!   statements (the begin and the commit), which is the database's share of a
//!   verification. Each task owns its users and a ticker moves the service's clock one
//!   TOTP step every 20 ms; a user is asked again only in a later step, so every
//!   verification is a fresh, accepted code.
//! * SQLite (one file, WAL): the same shape through `SqliteStore`, beside a bare
//!   rusqlite loop running the same statements on the same file.
//! * Redis: challenge takes and failure increments through `RedisStore`, beside
//!   `redis-benchmark` running `GETDEL` and `INCR` at the same concurrency; on one
//!   server (`MFA_TEST_REDIS_URL`) and on a Redis Cluster
//!   (`MFA_TEST_REDIS_CLUSTER_URL`, beside `redis-benchmark --cluster`). A verification's
//!   hot half (the attempt's count, then the success's settle, one script each) is
//!   compared with `INCR` then `DEL`, and on one server also with `redis-benchmark`
//!   replaying the two scripts exactly as the store sent them (captured with `MONITOR`):
//!   the server's share, without our client.
//!
//! Run with `MFA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test
//! MFA_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p mfa-benches --bench store`;
//! `MFA_BENCH_SECS` sets each measurement's length (default 3 s). A backend whose URL is
//! not set is skipped. Works in its own schema / key prefix and removes it.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::panic, reason = "benchmark")]
#![allow(clippy::cast_precision_loss, reason = "benchmark")]
#![allow(clippy::indexing_slicing, clippy::too_many_lines, reason = "benchmark")]

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, FactorRecord, FactorStore, FailureKey,
    FailureStore, PendingChallenge, RecordData,
};
use mfa_core::{FactorId, FactorKind, OsRandom, Timestamp, UserId};
use mfa_store::{PostgresOptions, PostgresStore, RedisOptions, RedisStore, SqliteStore};

#[path = "wire.rs"]
mod wire;
use wire::counting_proxy;

const USERS: u64 = 1_000;
const CONCURRENCY: [usize; 3] = [1, 8, 32];
const DATA: &[u8] = &[0x5a; 64];

fn secs() -> u64 {
    std::env::var("MFA_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

fn record(u: u64) -> FactorRecord {
    FactorRecord::new(
        UserId::new(format!("u{u}")).unwrap(),
        FactorId::new("totp").unwrap(),
        FactorKind::Totp,
        RecordData::plain(DATA.to_vec()),
        Timestamp::from_unix_secs(1_700_000_000),
    )
    .with_confirmed(true)
}

/// A cheap per-task sequence of user numbers.
fn next_user(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    (*state >> 33) % USERS + 1
}

/// Runs `tasks` tasks calling `op` until the time is up; returns operations per second.
async fn throughput<S, F, Fut>(store: Arc<S>, tasks: usize, op: F) -> f64
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, u64) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = ()> + Send,
{
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (store, stop, done) = (Arc::clone(&store), Arc::clone(&stop), Arc::clone(&done));
        handles.push(tokio::spawn(async move {
            let mut state = t as u64 + 1;
            while !stop.load(Ordering::Relaxed) {
                op(Arc::clone(&store), next_user(&mut state)).await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs())).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// One TOTP-shaped verification: read the factor, write the next version if unchanged.
async fn verify<S: FactorStore>(store: Arc<S>, u: u64) {
    let user = UserId::new(format!("u{u}")).unwrap();
    let id = FactorId::new("totp").unwrap();
    let Some(f) = store.factor(&user, &id).await.unwrap() else {
        panic!("missing factor u{u}")
    };
    let mut next = f.value;
    next.last_used_at = Some(Timestamp::from_unix_secs(1_700_000_030));
    // A lost race is a rejected replay, as in the service; it still costs the two trips.
    let _ = store.update_factor_if_version(next, f.version).await;
}

fn row(name: &str, tasks: usize, ours: f64, floor: f64, floor_name: &str) {
    println!(
        "{name:<28} tasks {tasks:>2}: {ours:>9.0}/s   {floor_name} {floor:>9.0}/s   ratio {:.2}",
        ours / floor
    );
}

/// Users of the service throughput run (each of the 32 tasks owns 8: with a step every
/// 20 ms that is 400 fresh codes a second per task, more than one task can verify).
const SERVICE_USERS: usize = 256;

/// What a service verification on PostgreSQL is compared with, at one concurrency.
struct Floors {
    /// The store's bare read and conditional write through `PostgresStore`.
    store: f64,
    /// pgbench running the two statements a single-use verification cannot avoid.
    pgbench: f64,
    /// pgbench running the service's own two statements (`pgbench_service_script`).
    statements: f64,
}

/// `Service::verify` throughput on PostgreSQL against the store's floor (`floors`, one
/// per entry of [`CONCURRENCY`], measured just before in the same schema).
async fn service_on_postgres(url: &str, schema: &str, floors: &[Floors]) {
    use mfa::otp::{Secret, TotpParams, TotpRecord};
    use mfa::policy::Policy;
    use mfa::policy::input::Session;
    use mfa::{KeyId, Keyring, Response, Service};
    use mfa_core::{AuthMethod, Clock, FixedClock};

    let store = PostgresStore::connect(
        url,
        PostgresOptions::default()
            .schema(schema.to_owned())
            .max_connections(32),
    )
    .await
    .unwrap();
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(1_700_000_000)));
    let service = Arc::new(
        Service::builder(
            store,
            Policy::from_toml("version = 1\nmode = \"always\"\n").unwrap(),
            Keyring::generate(KeyId::new("k1").unwrap(), &mut OsRandom).unwrap(),
        )
        .shared_clock(clock.clone())
        .issuer("Bench")
        .build()
        .unwrap(),
    );
    let session = |at| Session::primary(AuthMethod::Pwd, at);
    let mut users = Vec::new();
    for u in 0..SERVICE_USERS {
        let user = UserId::new(format!("svc{u}")).unwrap();
        let e = service
            .start_totp_enrollment(&user, "phone", &session(clock.now()))
            .await
            .unwrap();
        let totp = TotpRecord::new(
            Secret::from_base32(&e.secret_base32).unwrap(),
            TotpParams::default(),
        )
        .totp();
        let code = totp.code_at(clock.now()).unwrap();
        service
            .finish_enrollment(&user, &e.factor_id, code.as_str(), &Session::default())
            .await
            .unwrap();
        users.push((user, e.factor_id, totp));
    }
    let users = Arc::new(users);
    // One TOTP step every 20 ms, so each user can verify 50 times a second; a tick
    // between computing a code and its check stays inside the ±1 window.
    let ticking = Arc::new(AtomicBool::new(true));
    let ticker = {
        let (clock, ticking) = (clock.clone(), ticking.clone());
        tokio::spawn(async move {
            while ticking.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                clock.advance(Duration::from_secs(30));
            }
        })
    };
    for (tasks, floors) in CONCURRENCY.into_iter().zip(floors) {
        let stop = Arc::new(AtomicBool::new(false));
        let (done, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let start = Instant::now();
        let mut handles = Vec::new();
        for t in 0..tasks {
            let (service, users, clock) = (service.clone(), users.clone(), clock.clone());
            let (stop, done, failed) = (stop.clone(), done.clone(), failed.clone());
            handles.push(tokio::spawn(async move {
                let mine: Vec<_> = users.iter().skip(t).step_by(tasks).collect();
                // The step each user last verified in: a user is only asked again in a
                // later step (a code twice in one step would be a replay).
                let mut last = vec![0u64; mine.len()];
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let now = clock.now();
                    let step = now.unix_secs() / 30;
                    let Some(k) = (0..mine.len())
                        .map(|k| (i + k) % mine.len())
                        .find(|&k| last[k] < step)
                    else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    i = k + 1;
                    last[k] = step;
                    let (user, id, totp) = mine[k];
                    let code = totp.code_at(now).unwrap();
                    let ok = service
                        .verify(user, id, Response::Code(code.as_str()), &session(now))
                        .await
                        .is_ok();
                    let counter = if ok { &done } else { &failed };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(secs())).await;
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.await.unwrap();
        }
        let per_sec = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        let name = "service TOTP verify (pg)";
        row(name, tasks, per_sec, floors.store, "store floor");
        row(name, tasks, per_sec, floors.pgbench, "pgbench");
        row(name, tasks, per_sec, floors.statements, "its SQL");
        // A code goes stale only when two ticks pass during one verification.
        let failed = failed.load(Ordering::Relaxed);
        if failed > 0 {
            println!("  ({failed} verifications refused as stale: the machine is overloaded)");
        }
    }
    ticking.store(false, Ordering::Relaxed);
    ticker.await.unwrap();
}

/// The `SELECT` and `UPDATE` PostgresStore sends, with literal values, for pgbench.
fn pgbench_script() -> String {
    let data: String = DATA.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "\\set u random(1, {USERS})\n\
         SELECT version AS v, user_id, factor_id, kind, label, confirmed, created_at, \
         last_used_at, lookup_scope, lookup_namespace, lookup_value, data_format, data_key_id, \
         data FROM mfa_factors WHERE user_id = 'u' || :u AND factor_id = 'totp' \\gset\n\
         UPDATE mfa_factors SET version = nextval('mfa_version_seq'), kind = 'totp', \
         label = '', confirmed = true, created_at = 1700000000, last_used_at = 1700000030, \
         lookup_scope = NULL, lookup_namespace = NULL, lookup_value = NULL, lookup_owner = NULL, \
         data_format = 0, data_key_id = NULL, data = '\\x{data}'::bytea \
         WHERE user_id = 'u' || :u AND factor_id = 'totp' AND version = :v RETURNING version;\n"
    )
}

/// The service's own two statements for a TOTP verification, with literal values, for
/// pgbench: the begin (`mfa_count_attempt`, which judges and counts the attempt, joined
/// with the user's factors) and the commit (`mfa_commit_attempt`: the compare-and-swap
/// and the counters' clearing), as `PostgresStore` sends them. Each client keeps to its
/// own users (client `c` takes users `c + 1 + 32 k`), as the service bench's tasks do, so
/// no swap loses a race. This separates the database's share of a service verification
/// from the client's.
fn pgbench_service_script() -> String {
    let data: String = DATA.iter().map(|b| format!("{b:02x}")).collect();
    let counters = "'u' || :u, 'user', 'u' || :u, '', 'factor', 'u' || :u, 'totp'";
    format!(
        "\\set u 1 + :client_id + 32 * random(0, {spread})\n\
         WITH g AS MATERIALIZED (SELECT * FROM mfa_count_attempt({counters}, 1700000030, \
         900, 900, 10, '{{0,0,60,300,900}}', 900, NULL, false, false)) \
         SELECT g.*, f.version AS v, f.user_id, f.factor_id, f.kind, f.label, f.confirmed, \
         f.created_at, f.last_used_at, f.lookup_scope, f.lookup_namespace, f.lookup_value, \
         f.data_format, f.data_key_id, f.data FROM g LEFT JOIN mfa_factors f \
         ON g.o_verdict = 0 AND f.user_id = 'u' || :u \
         ORDER BY f.created_at, f.factor_id COLLATE \"C\" \\gset\n\
         SELECT mfa_commit_attempt({counters}, NULL, 1700000030, true, 'totp', :v, 'totp', \
         '', true, 1700000000, 1700000030, NULL, NULL, NULL, NULL, 0, NULL, \
         '\\x{data}'::bytea);\n",
        spread = (USERS - 32) / 32,
    )
}

fn pgbench(url: &str, schema: &str, clients: usize, script: &std::path::Path) -> f64 {
    let threads = clients.min(2);
    let out = Command::new("pgbench")
        .env("PGOPTIONS", format!("-c search_path={schema}"))
        .args(["-n", "-M", "prepared", "-c", &clients.to_string()])
        .args(["-j", &threads.to_string(), "-T", &secs().to_string(), "-f"])
        .arg(script)
        .arg(url)
        .output()
        .expect("pgbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no tps in pgbench output: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

async fn postgres(url: &str) {
    let (admin, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let schema = format!("mfa_bench_{}", std::process::id());
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    let store = PostgresStore::connect(
        url,
        PostgresOptions::default()
            .schema(schema.clone())
            .max_connections(32),
    )
    .await
    .unwrap();
    for u in 1..=USERS {
        store.insert_factor(record(u)).await.unwrap();
    }
    let script = std::env::temp_dir().join(format!("{schema}.pgbench"));
    std::fs::write(&script, pgbench_script()).unwrap();
    let store = Arc::new(store);
    // Warm the pool and every connection's statement cache.
    throughput(Arc::clone(&store), 32, verify).await;

    // Round trips, through a counting proxy, with one connection whose statements are
    // already prepared.
    let config: tokio_postgres::Config = url.parse().unwrap();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let (proxy, trips) = counting_proxy(format!("{host}:{port}")).await;
    let proxied_url = url.replacen(&format!("{host}:{port}"), &proxy, 1);
    let counted = Arc::new(
        PostgresStore::connect(
            &proxied_url,
            PostgresOptions::default()
                .schema(schema.clone())
                .max_connections(1),
        )
        .await
        .unwrap(),
    );
    let owner = ChallengeOwner::Usernameless;
    let challenge = || {
        PendingChallenge::new(
            ChallengeId::generate(&mut OsRandom).unwrap(),
            owner.clone(),
            RecordData::plain(b"c".to_vec()),
            Timestamp::from_unix_secs(u64::from(u32::MAX)),
        )
    };
    // Warm: prepare every statement once on the one connection.
    verify(Arc::clone(&counted), 1).await;
    let c = challenge();
    counted.put_challenge(c.clone()).await.unwrap();
    counted
        .take_challenge(&c.id, &owner, Timestamp::from_unix_secs(1))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..1_000 {
        let c = challenge();
        counted.put_challenge(c.clone()).await.unwrap();
        ids.push(c.id);
    }
    let before = trips.load(Ordering::SeqCst);
    for u in 1..=1_000 {
        verify(Arc::clone(&counted), u).await;
    }
    let mid = trips.load(Ordering::SeqCst);
    for id in &ids {
        let taken = counted
            .take_challenge(id, &owner, Timestamp::from_unix_secs(1))
            .await
            .unwrap();
        assert!(taken.is_some());
    }
    let after = trips.load(Ordering::SeqCst);
    println!(
        "postgres: {:.2} round trips per verification, {:.2} per take",
        (mid - before) as f64 / 1_000.0,
        (after - mid) as f64 / 1_000.0
    );
    drop(counted);

    let service_script = std::env::temp_dir().join(format!("{schema}.service.pgbench"));
    std::fs::write(&service_script, pgbench_service_script()).unwrap();
    let mut floors = Vec::new();
    for tasks in CONCURRENCY {
        let ours = throughput(Arc::clone(&store), tasks, verify).await;
        let floor = tokio::task::block_in_place(|| pgbench(url, &schema, tasks, &script));
        row("postgres verification", tasks, ours, floor, "pgbench");
        // The database's share of a service verification: its two statements, run by
        // pgbench's C client, against the floor.
        let statements =
            tokio::task::block_in_place(|| pgbench(url, &schema, tasks, &service_script));
        row(
            "pgbench: service's SQL",
            tasks,
            statements,
            floor,
            "pgbench",
        );
        floors.push(Floors {
            store: ours,
            pgbench: floor,
            statements,
        });
    }
    service_on_postgres(url, &schema, &floors).await;
    let _ = std::fs::remove_file(&script);
    let _ = std::fs::remove_file(&service_script);
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// The statements SqliteStore runs for a verification, on a connection of its own.
fn sqlite_floor(path: &std::path::Path) -> f64 {
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs());
    let start = Instant::now();
    let mut n = 0u64;
    let mut state = 7;
    while Instant::now() < deadline {
        let u = format!("u{}", next_user(&mut state));
        let version: i64 = conn
            .prepare_cached(
                "SELECT version, user_id, factor_id, kind, label, confirmed, created_at, \
                 last_used_at, lookup_scope, lookup_namespace, lookup_value, data_format, \
                 data_key_id, data FROM mfa_factors WHERE user_id = ?1 AND factor_id = 'totp'",
            )
            .unwrap()
            .query_row([&u], |r| r.get(0))
            .unwrap();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let v: i64 = tx
            .prepare_cached(
                "UPDATE mfa_sequence SET value = value + 1 WHERE id = 1 RETURNING value",
            )
            .unwrap()
            .query_row([], |r| r.get(0))
            .unwrap();
        tx.prepare_cached(
            "UPDATE mfa_factors SET version = ?3, kind = 'totp', label = '', confirmed = 1, \
             created_at = 1700000000, last_used_at = 1700000030, lookup_scope = NULL, \
             lookup_namespace = NULL, lookup_value = NULL, lookup_owner = NULL, \
             data_format = 0, data_key_id = NULL, data = ?4 \
             WHERE user_id = ?1 AND factor_id = 'totp' AND version = ?2",
        )
        .unwrap()
        .execute(rusqlite::params![u, version, v, DATA])
        .unwrap();
        tx.commit().unwrap();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn sqlite() {
    let path = std::env::temp_dir().join(format!("mfa_bench_{}.sqlite3", std::process::id()));
    let store = SqliteStore::open(&path).await.unwrap();
    for u in 1..=USERS {
        store.insert_factor(record(u)).await.unwrap();
    }
    let store = Arc::new(store);
    for tasks in CONCURRENCY {
        // The floor right before each row, so both see the same disk load.
        let floor = tokio::task::block_in_place(|| sqlite_floor(&path));
        let ours = throughput(Arc::clone(&store), tasks, verify).await;
        row(
            "sqlite verification",
            tasks,
            ours,
            floor,
            "rusqlite loop (1 conn)",
        );
    }
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn redis_benchmark(url: &str, clients: usize, command: &[&str]) -> f64 {
    // A cluster is measured through its first node with `--cluster`; its keys carry a
    // `{tag}` that redis-benchmark replaces with one that lands on each master.
    let (rest, cluster) = match url.strip_prefix("redis+cluster://") {
        Some(rest) => (rest.split(',').next().unwrap_or(rest), true),
        None => (url.trim_start_matches("redis://"), false),
    };
    let hostport = rest.split('/').next().unwrap_or("127.0.0.1:6379");
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "6379"));
    let command: Vec<String> = command
        .iter()
        .map(|a| {
            if cluster {
                a.replace("__rand_int__", "{tag}:__rand_int__")
            } else {
                (*a).to_owned()
            }
        })
        .collect();
    let n = 20_000 * secs();
    let out = Command::new("redis-benchmark")
        .args(["-h", host, "-p", port, "-c", &clients.to_string()])
        .args(if cluster { &["--cluster"][..] } else { &[][..] })
        .args(["-n", &n.to_string(), "-r", "100000", "--csv"])
        .args(command)
        .output()
        .expect("redis-benchmark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| !l.starts_with("\"test\""))
        .find_map(|l| l.split(',').nth(1))
        .map(|f| f.trim_matches('"').to_owned())
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| panic!("no rate in redis-benchmark output: {text}"))
}

/// The scripts a store operation runs, as one server's `MONITOR` shows them: each
/// `EVALSHA` with its keys and arguments, for `redis-benchmark` to replay without our
/// client. `None` when the URL names credentials or a cluster (measured without).
async fn monitored_scripts<F: Future<Output = ()>>(url: &str, op: F) -> Option<Vec<Vec<String>>> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let rest = url.strip_prefix("redis://")?;
    if rest.contains('@') {
        return None;
    }
    let hostport = rest.split('/').next()?;
    let mut monitor = tokio::net::TcpStream::connect(hostport).await.ok()?;
    monitor.write_all(b"MONITOR\r\n").await.ok()?;
    let mut lines = BufReader::new(monitor);
    let mut line = String::new();
    lines.read_line(&mut line).await.ok()?;
    assert_eq!(line.trim_end(), "+OK", "MONITOR refused");
    op.await;
    // A marker through another connection: every command of `op` was shown before it.
    let marker = format!("mfa-bench-end-{}", std::process::id());
    let mut other = tokio::net::TcpStream::connect(hostport).await.ok()?;
    other
        .write_all(format!("ECHO {marker}\r\n").as_bytes())
        .await
        .ok()?;
    let mut scripts = Vec::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if line.contains(&marker) {
            return Some(scripts);
        }
        // `+<time> [<db> <client>] "EVALSHA" "<sha>" ...`
        let Some((_, command)) = line.split_once("] ") else {
            continue;
        };
        // A byte outside ASCII could not be handed to redis-benchmark as it was.
        let args = unquote_monitor(command.trim_end())?;
        if args
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("EVALSHA"))
        {
            scripts.push(args);
        }
    }
}

/// The quoted, space-separated arguments of a `MONITOR` line (the server writes each
/// with `sdscatrepr`: `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b` and `\xHH` escapes);
/// `None` if one holds a byte outside ASCII.
fn unquote_monitor(line: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => arg.push('\n'),
                    Some('r') => arg.push('\r'),
                    Some('t') => arg.push('\t'),
                    Some('a') => arg.push('\u{7}'),
                    Some('b') => arg.push('\u{8}'),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).collect();
                        let byte = u8::from_str_radix(&hex, 16).ok().filter(u8::is_ascii)?;
                        arg.push(char::from(byte));
                    }
                    Some(other) => arg.push(other),
                    None => break,
                },
                c => arg.push(c),
            }
        }
        args.push(arg);
    }
    Some(args)
}

/// Rounds of each Redis measurement (ours and the floor alternating).
const REDIS_ROUNDS: usize = 3;

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

async fn redis(url: &str, label: &str) {
    let prefix = format!("mfa_bench_{}", std::process::id());
    let store = Arc::new(
        RedisStore::connect(url, RedisOptions::default().prefix(prefix.clone()))
            .await
            .unwrap(),
    );
    let increment = |store: Arc<RedisStore>, u: u64| async move {
        let key = FailureKey::user(&UserId::new(format!("u{u}")).unwrap());
        store
            .record_failure(
                &key,
                Timestamp::from_unix_secs(1_700_000_000),
                Duration::from_secs(900),
            )
            .await
            .unwrap();
    };
    // A take needs a challenge: each operation puts one and takes it; the take is
    // timed with the put, so the floor is GETDEL plus a SET.
    let take = |store: Arc<RedisStore>, _u: u64| async move {
        let id = ChallengeId::generate(&mut OsRandom).unwrap();
        let owner = ChallengeOwner::Usernameless;
        let c = PendingChallenge::new(
            id.clone(),
            owner.clone(),
            RecordData::plain(b"c".to_vec()),
            Timestamp::from_unix_secs(1_700_000_300),
        );
        store.put_challenge(c).await.unwrap();
        let got = store
            .take_challenge(&id, &owner, Timestamp::from_unix_secs(1_700_000_000))
            .await
            .unwrap();
        assert!(got.is_some());
    };
    // A Redis-backed verification's hot half: its attempt counted (one script) and, the
    // code right, settled (one script); the floor is the two commands it cannot do
    // without — count (`INCR`), then clear (`DEL`) — in sequence.
    let attempt = |store: Arc<RedisStore>, u: u64| async move {
        use mfa_core::store::{AttemptRequest, AttemptRules, AttemptStore as _, Verdict};
        // The rules are small; building them per call costs nothing beside a round trip.
        // Rules that never refuse: concurrent tasks may draw the same user, and the
        // bench measures the scripts, not the lockout.
        let rules =
            AttemptRules::new(u32::MAX, Duration::from_secs(900), &[], Duration::ZERO).unwrap();
        let user = UserId::new(format!("u{u}")).unwrap();
        let factor = FactorId::new("f1").unwrap();
        let now = Timestamp::from_unix_secs(1_700_000_000);
        let req = AttemptRequest::new(&user, &factor, &rules, now);
        let counted = store.count_attempt(&req).await.unwrap();
        assert_eq!(counted.verdict, Verdict::Proceed);
        store
            .settle_attempt(&user, &factor, None, now)
            .await
            .unwrap();
    };
    throughput(Arc::clone(&store), 8, increment).await;
    // The two scripts of one attempt, captured once they are loaded, for redis-benchmark
    // to run as they are: the server's share of the hot half, without our client.
    attempt(Arc::clone(&store), 1).await;
    let scripts = monitored_scripts(url, attempt(Arc::clone(&store), 1)).await;
    if let Some(scripts) = &scripts {
        assert_eq!(
            scripts.len(),
            2,
            "one script to count, one to settle: {scripts:?}"
        );
    }
    for tasks in CONCURRENCY {
        let (mut ours, mut floor, mut replayed) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..REDIS_ROUNDS {
            ours.push(throughput(Arc::clone(&store), tasks, attempt).await);
            if let Some(scripts) = &scripts {
                let rates: Vec<f64> = scripts
                    .iter()
                    .map(|args| {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        tokio::task::block_in_place(|| redis_benchmark(url, tasks, &args))
                    })
                    .collect();
                replayed.push(1.0 / rates.iter().map(|r| 1.0 / r).sum::<f64>());
            }
            let incr = tokio::task::block_in_place(|| {
                redis_benchmark(url, tasks, &["INCR", &format!("{prefix}:v:__rand_int__")])
            });
            let del = tokio::task::block_in_place(|| {
                redis_benchmark(url, tasks, &["DEL", &format!("{prefix}:v:__rand_int__")])
            });
            floor.push(1.0 / (1.0 / incr + 1.0 / del));
        }
        let name = format!("{label} attempt+settle");
        let ours = median(ours);
        row(&name, tasks, ours, median(floor), "INCR+DEL");
        if !replayed.is_empty() {
            row(&name, tasks, ours, median(replayed), "its scripts");
        }
    }
    // Ours and the floor alternate, three rounds each, and the row shows the medians: on
    // a shared machine the load moves between two back-to-back measurements.
    for tasks in CONCURRENCY {
        let (mut ours, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..REDIS_ROUNDS {
            ours.push(throughput(Arc::clone(&store), tasks, increment).await);
            floor.push(tokio::task::block_in_place(|| {
                redis_benchmark(url, tasks, &["INCR", &format!("{prefix}:b:__rand_int__")])
            }));
        }
        let name = format!("{label} failure increment");
        row(&name, tasks, median(ours), median(floor), "INCR");
    }
    for tasks in CONCURRENCY {
        let (mut ours, mut floor) = (Vec::new(), Vec::new());
        for _ in 0..REDIS_ROUNDS {
            ours.push(throughput(Arc::clone(&store), tasks, take).await);
            let set = tokio::task::block_in_place(|| {
                redis_benchmark(
                    url,
                    tasks,
                    &["SET", &format!("{prefix}:t:__rand_int__"), "x"],
                )
            });
            let getdel = tokio::task::block_in_place(|| {
                redis_benchmark(url, tasks, &["GETDEL", &format!("{prefix}:t:__rand_int__")])
            });
            // Two round trips in sequence: the harmonic combination of the two rates.
            floor.push(1.0 / (1.0 / set + 1.0 / getdel));
        }
        let name = format!("{label} challenge put+take");
        row(&name, tasks, median(ours), median(floor), "SET+GETDEL");
    }
    store.delete_all().await.unwrap();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        if std::env::args().any(|a| a == "--list") {
            return;
        }
        match std::env::var("MFA_TEST_POSTGRES_URL") {
            Ok(url) => postgres(&url).await,
            Err(_) => println!("postgres: skipped (MFA_TEST_POSTGRES_URL is not set)"),
        }
        sqlite().await;
        match std::env::var("MFA_TEST_REDIS_URL") {
            Ok(url) => redis(&url, "redis").await,
            Err(_) => println!("redis: skipped (MFA_TEST_REDIS_URL is not set)"),
        }
        match std::env::var("MFA_TEST_REDIS_CLUSTER_URL") {
            Ok(url) => {
                redis(&url, "redis cluster").await;
                // The same with every take and increment waiting for one replica (WAIT).
                let acks = format!("{}/?replica_acks=1", url.trim_end_matches('/'));
                redis(&acks, "redis cluster, WAIT 1").await;
            }
            Err(_) => println!("redis cluster: skipped (MFA_TEST_REDIS_CLUSTER_URL is not set)"),
        }
    });
}
