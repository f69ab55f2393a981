//! TOTP verification on PostgreSQL at 1,000 and at 1,000,000 users: the rate and the
//! p50/p99 latency of `Service::verify` should not depend on how many users are enrolled
//! (issue 20, item 5: within 10%).
//!
//! * Set-up, once per size, in its own schema (`mfa_scale_1k`, `mfa_scale_1m`, or
//!   `mfa_scale_<n>`): N users, each with one confirmed TOTP factor. The users are
//!   enrolled through a real `Service` (start and finish the enrollment with a valid
//!   code) on a `MemoryStore`, 10,000 at a time on a thread of their own, so every row is
//!   sealed by the service's envelope for its own user and factor id; the rows are taken
//!   back with `FactorStore::list_factors` and loaded into `mfa_factors` with a binary
//!   `COPY`, in one transaction. The secrets go into a table of the bench's own,
//!   `scale_users`, so a later run can compute codes without enrolling again: set-up is
//!   skipped when the schema already holds exactly N users (the output says so). The
//!   keyring's key is a constant for the same reason.
//! * Measurement: a `Service` with that keyring on a `PostgresStore` (a pool of 32) in
//!   the schema verifies a fresh valid code for a user drawn uniformly from all N (so the
//!   indexes are exercised, not a few cached rows), from 1, 8 and 32 concurrent tasks for
//!   `MFA_SCALE_SECS` each. A TOTP step is accepted once per factor: each user carries the
//!   last step it was asked in and a busy flag, a task claims a user only for a later step
//!   and not while another task verifies it, and the service's clock moves one step on
//!   after N/4 claims. Only accepted verifications count towards the rate and the
//!   latencies; rejections and errors are reported apart (they should be 0). Each round
//!   starts with `VACUUM` of the two tables a verification writes (what autovacuum would
//!   have done; test servers may run without it) and a `CHECKPOINT`, then warms each size
//!   up for 2 s; the sizes then take turns cell by cell, so other work on the machine
//!   weighs on both alike, and the report gives the median of the rounds.
//! * Report: verifications/s, p50 and p99 per size and task count, the ratios of the
//!   largest size to the smallest (markdown, for the README); then, one size at a time
//!   right after a checkpoint, what a verification costs the server (heap and index
//!   blocks of `mfa_factors` found in shared buffers or read, HOT updates, WAL records,
//!   full-page images and bytes); and the generic `EXPLAIN` plans of the begin (the
//!   attempt function joined with the user's factors), of the statements the two
//!   verification functions run inside (counter read, counter upsert, compare-and-swap,
//!   the clearing of both counters) written out as PostgresStore's migration 4 has them,
//!   and of the listing, so the claim about indexes stays checkable.
//!
//! Run with `cargo bench -p mfa-benches --bench scale`. Settings:
//! `MFA_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`),
//! `MFA_SCALE_USERS` (default `1000,1000000`), `MFA_SCALE_SECS` (default 10),
//! `MFA_SCALE_ROUNDS` (default 1; more even out a machine shared with other work) and
//! `MFA_SCALE_PG_OPTIONS` (server settings for the measured connections, for experiments:
//! `-c wal_compression=lz4`). Loading 1,000,000 users takes under a minute on a small
//! machine; the schemas are kept for the next run (drop them with `DROP SCHEMA
//! mfa_scale_1m CASCADE`). Never run in CI: under `cargo test` (no `--bench` argument) it
//! does nothing.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark")]
#![allow(clippy::expect_used, clippy::panic, reason = "benchmark")]
#![allow(clippy::indexing_slicing, clippy::too_many_lines, reason = "benchmark")]
#![allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    reason = "benchmark"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mfa::otp::{Secret, TotpParams, TotpRecord};
use mfa::policy::Policy;
use mfa::policy::input::Session;
use mfa::store::{MemoryStore, PostgresOptions, PostgresStore};
use mfa::{KeyId, Keyring, Response, Service};
use mfa_core::store::{FactorRecord, FactorStore, LookupScope};
use mfa_core::{AuthMethod, Clock, FactorId, FixedClock, SecretBytes, Timestamp, UserId};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const TASKS: [usize; 3] = [1, 8, 32];
/// The data key every run seals and opens with, so the rows of an earlier run still open.
const KEY: [u8; 32] = [0x5c; 32];
/// When the users were enrolled; measurements start an hour later at the earliest.
const ENROLLED_AT: u64 = 1_700_000_000;
/// Users enrolled per `MemoryStore` (and per `COPY`).
const CHUNK: usize = 10_000;
const POLICY: &str = "version = 1\nmode = \"always\"\n";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

fn keyring() -> Keyring {
    Keyring::new(KeyId::new("scale").unwrap(), SecretBytes::new(KEY.to_vec())).unwrap()
}

fn user_id(n: usize) -> UserId {
    UserId::new(format!("u{n:07}@scale.example")).unwrap()
}

fn schema(n: usize) -> String {
    match n {
        1_000 => "mfa_scale_1k".to_owned(),
        1_000_000 => "mfa_scale_1m".to_owned(),
        n => format!("mfa_scale_{n}"),
    }
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--list") {
        println!("scale: run with `cargo bench -p mfa-benches --bench scale`");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

/// One size under test: its schema, its service and its users.
struct Size {
    n: usize,
    db: Client,
    service: Arc<Service<PostgresStore>>,
    clock: Arc<FixedClock>,
    users: Arc<Users>,
}

/// Every user's ids and secret, and the claim word a task takes before asking it:
/// `step << 1 | busy`.
struct Users {
    ids: Vec<(UserId, FactorId, Vec<u8>)>,
    claims: Vec<AtomicU64>,
    /// Claims since the clock last moved.
    claimed: AtomicU64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Run {
    accepted: u64,
    rejected: u64,
    errors: u64,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn run() {
    let url: String = env_or(
        "MFA_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test".to_owned(),
    );
    let sizes: Vec<usize> = env_or("MFA_SCALE_USERS", "1000,1000000".to_owned())
        .split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse()
                .expect("MFA_SCALE_USERS: numbers")
        })
        .collect();
    let secs: u64 = env_or("MFA_SCALE_SECS", 10);
    let rounds: usize = env_or("MFA_SCALE_ROUNDS", 1_usize).max(1);

    let mut prepared = Vec::new();
    for &n in &sizes {
        prepared.push(prepare(&url, n).await);
    }
    // runs[size][task count] = one Run per round. The sizes take turns cell by cell, so
    // whatever else the machine does at a time weighs on both alike.
    let mut runs = vec![vec![Vec::new(); TASKS.len()]; sizes.len()];
    for round in 0..rounds {
        settle(&prepared).await;
        for size in &prepared {
            // Pool connections, prepared statements and the buffer cache.
            measure(size, 8, Duration::from_secs(2)).await;
        }
        for (t, &tasks) in TASKS.iter().enumerate() {
            for (k, size) in prepared.iter().enumerate() {
                let r = measure(size, tasks, Duration::from_secs(secs)).await;
                println!(
                    "round {} {:>4} users, {tasks:>2} tasks: {:>7.0}/s  p50 {:>6.2} ms  \
                     p99 {:>6.2} ms  ({} accepted, {} rejected, {} errors)",
                    round + 1,
                    label(size.n),
                    r.per_sec,
                    ms(r.p50),
                    ms(r.p99),
                    r.accepted,
                    r.rejected,
                    r.errors
                );
                runs[k][t].push(r);
            }
        }
    }
    // The counters, one size at a time (the WAL's are the whole server's): 8 tasks for
    // one cell's length right after the checkpoint, then time for every connection to
    // report its statistics (an idle backend flushes them within 10 s).
    let mut stats = Vec::new();
    for size in &prepared {
        settle(std::slice::from_ref(size)).await;
        let before = table_stats(&size.db).await;
        let r = measure(size, 8, Duration::from_secs(secs)).await;
        tokio::time::sleep(Duration::from_secs(11)).await;
        let after = table_stats(&size.db).await;
        let d: Vec<i64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
        stats.push((d, r.accepted));
    }
    let median = |rs: &Vec<Run>| -> Run {
        let mut by_rate: Vec<f64> = rs.iter().map(|r| r.per_sec).collect();
        by_rate.sort_by(f64::total_cmp);
        let mut by_p50: Vec<Duration> = rs.iter().map(|r| r.p50).collect();
        let mut by_p99: Vec<Duration> = rs.iter().map(|r| r.p99).collect();
        by_p50.sort();
        by_p99.sort();
        Run {
            p50: by_p50[by_p50.len() / 2],
            p99: by_p99[by_p99.len() / 2],
            accepted: rs.iter().map(|r| r.accepted).sum(),
            rejected: rs.iter().map(|r| r.rejected).sum(),
            errors: rs.iter().map(|r| r.errors).sum(),
            per_sec: by_rate[by_rate.len() / 2],
        }
    };
    let table: Vec<Vec<Run>> = runs
        .iter()
        .map(|per_t| per_t.iter().map(median).collect())
        .collect();

    println!();
    println!(
        "`Service::verify` (TOTP) on PostgreSQL, {secs} s per cell, {rounds} round(s), \
         median of rounds; users drawn uniformly:"
    );
    println!();
    println!("| users | tasks | verifications/s | p50 (ms) | p99 (ms) | rejected | errors |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (size, per_t) in prepared.iter().zip(&table) {
        for (tasks, r) in TASKS.iter().zip(per_t) {
            println!(
                "| {} | {tasks} | {:.0} | {:.2} | {:.2} | {} | {} |",
                label(size.n),
                r.per_sec,
                ms(r.p50),
                ms(r.p99),
                r.rejected,
                r.errors
            );
        }
    }
    if let (Some(first), Some(last)) = (runs.first(), runs.last())
        && sizes.len() > 1
    {
        let (a, b) = (label(sizes[0]), label(sizes[sizes.len() - 1]));
        println!();
        println!(
            "Ratios of the cells measured side by side (same round, one after the other), \
             median over the rounds:"
        );
        println!();
        println!("| tasks | rate {b}÷{a} | p50 {b}÷{a} | p99 {b}÷{a} | rate and p99 within 10% |");
        println!("| ---: | ---: | ---: | ---: | :---: |");
        let paired = |x: &[Run], y: &[Run], f: fn(&Run) -> f64| -> f64 {
            let mut r: Vec<f64> = x.iter().zip(y).map(|(x, y)| f(y) / f(x)).collect();
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        };
        for ((tasks, x), y) in TASKS.iter().zip(first).zip(last) {
            let rate = paired(x, y, |r| r.per_sec);
            let p50 = paired(x, y, |r| r.p50.as_secs_f64());
            let p99 = paired(x, y, |r| r.p99.as_secs_f64());
            let ok = (0.9..=1.1).contains(&rate) && (0.9..=1.1).contains(&p99);
            println!(
                "| {tasks} | {rate:.2} | {p50:.2} | {p99:.2} | {} |",
                if ok { "yes" } else { "no" }
            );
        }
    }
    println!();
    println!(
        "Per accepted verification, {secs} s at 8 tasks right after a checkpoint, one size \
         at a time (WAL counts are the whole server's):"
    );
    println!();
    println!(
        "| users | mfa_factors heap blocks hit / read | index blocks hit / read | HOT updates | \
         WAL records | WAL full-page images | WAL bytes |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (size, (d, done)) in prepared.iter().zip(&stats) {
        let d = d.as_slice();
        let per = |x: i64| x as f64 / (*done).max(1) as f64;
        println!(
            "| {} | {:.2} / {:.2} | {:.2} / {:.2} | {:.0}% | {:.1} | {:.2} | {:.0} |",
            label(size.n),
            per(d[1]),
            per(d[0]),
            per(d[3]),
            per(d[2]),
            100.0 * d[5] as f64 / d[4].max(1) as f64,
            per(d[6]),
            per(d[7]),
            per(d[8]),
        );
    }
    if let Some(size) = prepared.last() {
        explain(size).await;
    }
    for size in &prepared {
        size.db
            .batch_execute("ANALYZE mfa_factors; ANALYZE mfa_failures")
            .await
            .unwrap();
    }
}

/// What autovacuum would have done by now (the test server may run without it), then a
/// checkpoint: every round starts at the same point of the checkpoint cycle, right after
/// one, where the first change of each page writes the whole page to the WAL.
async fn settle(sizes: &[Size]) {
    for size in sizes {
        for sql in ["VACUUM mfa_factors", "VACUUM mfa_failures"] {
            size.db.batch_execute(sql).await.unwrap();
        }
    }
    if let Some(size) = sizes.first() {
        size.db.batch_execute("CHECKPOINT").await.unwrap();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// Connects to the size's schema, loads its users unless they are there already, and
/// builds the measured service.
async fn prepare(url: &str, n: usize) -> Size {
    let schema = schema(n);
    let (admin, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url}: {e}"));
    tokio::spawn(conn);
    admin
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .await
        .unwrap();
    // Server settings for the measured connections (an experiment, such as
    // `-c wal_compression=on`): then the schema goes into the same startup options.
    let options = PostgresOptions::default().max_connections(32);
    let store = match std::env::var("MFA_SCALE_PG_OPTIONS") {
        Ok(extra) if !extra.trim().is_empty() => {
            let opts = format!("-c search_path={schema} {}", extra.trim());
            let sep = if url.contains('?') { '&' } else { '?' };
            let url = format!(
                "{url}{sep}options={}",
                opts.replace(' ', "%20").replace('=', "%3D")
            );
            println!("{schema}: measured connections start with `{opts}`");
            PostgresStore::connect(&url, options).await
        }
        _ => PostgresStore::connect(url, options.schema(schema.clone())).await,
    }
    .unwrap();
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.options(format!("-c search_path={schema}"));
    let (mut db, conn) = config.connect(NoTls).await.unwrap();
    tokio::spawn(conn);
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS scale_users (n INTEGER PRIMARY KEY, user_id TEXT NOT NULL, \
         factor_id TEXT NOT NULL, secret BYTEA NOT NULL)",
    )
    .await
    .unwrap();
    let count = |sql: &'static str| {
        let db = &db;
        async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
    };
    let have = (
        count("SELECT count(*) FROM scale_users").await,
        count("SELECT count(*) FROM mfa_factors").await,
    );
    if have == (n as i64, n as i64) {
        println!("{schema}: {n} users already enrolled, set-up skipped");
    } else {
        load(&mut db, n).await;
    }

    let ids = db
        .query(
            "SELECT user_id, factor_id, secret FROM scale_users ORDER BY n",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                UserId::new(r.get::<_, String>(0)).unwrap(),
                FactorId::new(r.get::<_, String>(1)).unwrap(),
                r.get::<_, Vec<u8>>(2),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(ids.len(), n);
    // Later than every step an earlier run accepted (last_used_at is when it was).
    let last: Option<i64> = db
        .query_one("SELECT max(last_used_at) FROM mfa_factors", &[])
        .await
        .unwrap()
        .get(0);
    let start = (ENROLLED_AT + 3_600).max(last.map_or(0, |t| t as u64 + 90));
    let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(start)));
    let service = Service::builder(store, Policy::from_toml(POLICY).unwrap(), keyring())
        .shared_clock(clock.clone())
        .issuer("Scale")
        .build()
        .unwrap();
    let users = Users {
        claims: (0..n).map(|_| AtomicU64::new(0)).collect(),
        ids,
        claimed: AtomicU64::new(0),
    };
    Size {
        n,
        db,
        service: Arc::new(service),
        clock,
        users: Arc::new(users),
    }
}

/// One chunk of enrolled users: their factor rows and `(n, secret)`.
type Chunk = (Vec<FactorRecord>, Vec<(i32, Vec<u8>)>);

/// Enrolls users `range` through a service on a fresh memory store and returns its rows.
fn enroll(range: std::ops::Range<usize>) -> Chunk {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let clock = Arc::new(FixedClock::new(Timestamp::from_unix_secs(ENROLLED_AT)));
        let service = Service::builder(
            MemoryStore::new(),
            Policy::from_toml(POLICY).unwrap(),
            keyring(),
        )
        .shared_clock(clock.clone())
        .issuer("Scale")
        .build()
        .unwrap();
        let session = Session::primary(AuthMethod::Pwd, clock.now());
        let mut rows = Vec::with_capacity(range.len());
        let mut secrets = Vec::with_capacity(range.len());
        for n in range {
            let user = user_id(n);
            let e = service
                .start_totp_enrollment(&user, "phone", &session)
                .await
                .unwrap();
            let secret = Secret::from_base32(&e.secret_base32).unwrap();
            let bytes = secret.expose_secret().to_vec();
            let code = TotpRecord::new(secret, TotpParams::default())
                .totp()
                .code_at(clock.now())
                .unwrap();
            service
                .finish_enrollment(&user, &e.factor_id, code.as_str(), &session)
                .await
                .unwrap();
            let mut mine = service.store().list_factors(&user).await.unwrap();
            assert_eq!(mine.len(), 1);
            rows.push(mine.remove(0).value);
            secrets.push((i32::try_from(n).unwrap(), bytes));
        }
        (rows, secrets)
    })
}

/// Replaces the schema's factors with `n` freshly enrolled users, in one transaction:
/// enrollment on a thread of its own, `COPY` here as the chunks arrive.
async fn load(db: &mut Client, n: usize) {
    let start = Instant::now();
    let (tx_chunks, mut chunks) = tokio::sync::mpsc::channel::<Chunk>(2);
    let producer = std::thread::spawn(move || {
        for first in (0..n).step_by(CHUNK) {
            let chunk = enroll(first..(first + CHUNK).min(n));
            if tx_chunks.blocking_send(chunk).is_err() {
                return;
            }
        }
    });
    let tx = db.transaction().await.unwrap();
    tx.batch_execute("TRUNCATE mfa_factors, mfa_failures, scale_users")
        .await
        .unwrap();
    let mut loaded = 0usize;
    while let Some((rows, secrets)) = chunks.recv().await {
        copy_factors(&tx, &rows, loaded).await;
        let sink = tx
            .copy_in("COPY scale_users (n, user_id, factor_id, secret) FROM STDIN (FORMAT binary)")
            .await
            .unwrap();
        let writer =
            BinaryCopyInWriter::new(sink, &[Type::INT4, Type::TEXT, Type::TEXT, Type::BYTEA]);
        let mut writer = std::pin::pin!(writer);
        for (row, (k, secret)) in rows.iter().zip(&secrets) {
            writer
                .as_mut()
                .write(&[k, &row.user.as_str(), &row.id.as_str(), secret])
                .await
                .unwrap();
        }
        writer.finish().await.unwrap();
        loaded += rows.len();
        if loaded.is_multiple_of(100_000) || loaded == n {
            println!(
                "{}: {loaded} users enrolled and copied ({:.0} s)",
                schema(n),
                start.elapsed().as_secs_f64()
            );
        }
    }
    producer.join().unwrap();
    // Versions the service hands out next must be new for every row.
    tx.execute("SELECT setval('mfa_version_seq', $1)", &[&(n as i64 + 1)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // One statement per call: several would make one transaction, which VACUUM refuses.
    for table in ["mfa_factors", "scale_users"] {
        db.batch_execute(&format!("VACUUM ANALYZE {table}"))
            .await
            .unwrap();
    }
    println!(
        "{}: {n} users loaded in {:.0} s",
        schema(n),
        start.elapsed().as_secs_f64()
    );
}

/// The rows into `mfa_factors`, column for column as `PostgresStore` writes them
/// (mfa-store's `sql::FactorCols`), with versions `offset + 1 ..`.
async fn copy_factors(tx: &tokio_postgres::Transaction<'_>, rows: &[FactorRecord], offset: usize) {
    let sink = tx
        .copy_in(
            "COPY mfa_factors (user_id, factor_id, version, kind, label, confirmed, created_at, \
             last_used_at, lookup_scope, lookup_namespace, lookup_value, lookup_owner, \
             data_format, data_key_id, data) FROM STDIN (FORMAT binary)",
        )
        .await
        .unwrap();
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::BYTEA,
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        Type::BYTEA,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for (k, r) in rows.iter().enumerate() {
        let version = (offset + k + 1) as i64;
        let created_at = r.created_at.unix_secs() as i64;
        let last_used_at = r.last_used_at.map(|t| t.unix_secs() as i64);
        let lookup = r.lookup_key.as_ref();
        let scope = lookup.map(|k| match k.scope() {
            LookupScope::Global => "global",
            _ => "per-user",
        });
        let namespace = lookup.map(|k| k.namespace());
        let value = lookup.map(|k| k.value());
        let owner = lookup.map(|k| match k.scope() {
            LookupScope::Global => "",
            _ => r.user.as_str(),
        });
        let format = i32::from(r.data.format());
        let values: [&(dyn ToSql + Sync); 15] = [
            &r.user.as_str(),
            &r.id.as_str(),
            &version,
            &r.kind.as_str(),
            &r.label.as_str(),
            &r.confirmed,
            &created_at,
            &last_used_at,
            &scope,
            &namespace,
            &value,
            &owner,
            &format,
            &r.data.key_id(),
            &r.data.expose_bytes(),
        ];
        writer.as_mut().write(&values).await.unwrap();
    }
    writer.finish().await.unwrap();
}

/// Verifies fresh codes from `tasks` tasks for `length`.
async fn measure(size: &Size, tasks: usize, length: Duration) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (service, users, clock, stop) = (
            size.service.clone(),
            size.users.clone(),
            size.clock.clone(),
            stop.clone(),
        );
        let mut seed = (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ RUNS
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0xff51_afd7_ed55_8ccd);
        handles.push(tokio::spawn(async move {
            let n = users.ids.len() as u64;
            let quota = (n / 4).max(1);
            let mut run = Run::default();
            let mut latencies = Vec::with_capacity(1 << 16);
            while !stop.load(Ordering::Relaxed) {
                let now = clock.now();
                let step = now.unix_secs() / 30;
                // A user not asked in this step yet and not being asked now.
                let mut tries = 0u32;
                let i = loop {
                    let i = (splitmix(&mut seed) % n) as usize;
                    let c = users.claims[i].load(Ordering::Relaxed);
                    if c & 1 == 0
                        && c >> 1 < step
                        && users.claims[i]
                            .compare_exchange(c, step << 1 | 1, Ordering::AcqRel, Ordering::Relaxed)
                            .is_ok()
                    {
                        break i;
                    }
                    tries += 1;
                    if tries.is_multiple_of(64) {
                        tokio::task::yield_now().await;
                    }
                };
                if users.claimed.fetch_add(1, Ordering::Relaxed) + 1 >= quota {
                    users.claimed.store(0, Ordering::Relaxed);
                    clock.advance(Duration::from_secs(30));
                }
                let (user, factor, secret) = &users.ids[i];
                // A step that began after `now` is inside the ±1 window the service allows.
                let code = TotpRecord::new(
                    Secret::from_bytes(secret.clone()).unwrap(),
                    TotpParams::default(),
                )
                .totp()
                .code_at(now)
                .unwrap();
                let session = Session::primary(AuthMethod::Pwd, now);
                let began = Instant::now();
                let out = service
                    .verify(user, factor, Response::Code(code.as_str()), &session)
                    .await;
                let took = began.elapsed();
                users.claims[i].store(step << 1, Ordering::Release);
                match out {
                    Ok(_) => {
                        run.accepted += 1;
                        latencies.push(took);
                    }
                    Err(e) if e.is_rejection() => run.rejected += 1,
                    Err(e) => {
                        if run.errors == 0 {
                            eprintln!("verification error: {e}");
                        }
                        run.errors += 1;
                    }
                }
            }
            (run, latencies)
        }));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Run::default();
    let mut latencies = Vec::new();
    for h in handles {
        let (r, l) = h.await.unwrap();
        total.accepted += r.accepted;
        total.rejected += r.rejected;
        total.errors += r.errors;
        latencies.extend(l);
    }
    total.per_sec = total.accepted as f64 / start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| -> Duration {
        if latencies.is_empty() {
            return Duration::ZERO;
        }
        let k = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len());
        latencies[k - 1]
    };
    total.p50 = at(0.50);
    total.p99 = at(0.99);
    total
}

/// How many tasks were started: each task draws its own sequence of users.
static RUNS: AtomicU64 = AtomicU64::new(0);

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How many numbers [`table_stats`] returns.
const STATS: usize = 9;

/// `mfa_factors`' heap and index blocks (read from the OS, found in shared buffers), its
/// updates (all, HOT), and the server's WAL records, full-page images and bytes.
async fn table_stats(db: &Client) -> [i64; STATS] {
    let r = db
        .query_one(
            "SELECT coalesce(io.heap_blks_read, 0), coalesce(io.heap_blks_hit, 0), \
             coalesce(io.idx_blks_read, 0), coalesce(io.idx_blks_hit, 0), \
             t.n_tup_upd, t.n_tup_hot_upd, w.wal_records, w.wal_fpi, w.wal_bytes::bigint \
             FROM pg_statio_user_tables io JOIN pg_stat_user_tables t USING (relid), \
             pg_stat_wal w WHERE io.relid = 'mfa_factors'::regclass",
            &[],
        )
        .await
        .unwrap();
    std::array::from_fn(|i| r.get::<_, i64>(i))
}

/// The plans PostgreSQL keeps for the statements of a verification (generic plans, as a
/// prepared statement ends up with), in the largest schema, for a real user.
async fn explain(size: &Size) {
    let (user, factor, _) = &size.users.ids[size.users.ids.len() / 2];
    let (u, f) = (user.as_str(), factor.as_str());
    println!();
    println!(
        "Plans in {} ({} users), generic (plan_cache_mode = force_generic_plan), the \
         statements as PostgresStore sends them:",
        schema(size.n),
        size.n
    );
    size.db
        .batch_execute(
            "SET plan_cache_mode = force_generic_plan; \
             PREPARE scale_list(text) AS SELECT user_id, factor_id, version, kind, label, \
               confirmed, created_at, last_used_at, lookup_scope, lookup_namespace, \
               lookup_value, data_format, data_key_id, data FROM mfa_factors \
               WHERE user_id = $1 ORDER BY created_at, factor_id COLLATE \"C\"; \
             PREPARE scale_upsert(text, text, text, bigint, bigint, bigint) AS \
               INSERT INTO mfa_failures AS f (kind, owner, subject, count, first_at, last_at, \
               lapses_at) VALUES ($1, $2, $3, 1, $4, $4, $4::BIGINT + $6::BIGINT) \
               ON CONFLICT (kind, owner, subject) DO UPDATE SET \
               count = CASE WHEN $4 - f.last_at > $5 THEN 1 \
                            ELSE LEAST(f.count, 2147483646) + 1 END, \
               first_at = CASE WHEN $4 - f.last_at > $5 THEN $4 ELSE f.first_at END, \
               last_at = CASE WHEN $4 - f.last_at > $5 THEN $4 ELSE GREATEST(f.last_at, $4) END, \
               lapses_at = CASE WHEN $4 - f.last_at > $5 THEN $4 \
                                ELSE GREATEST(f.last_at, $4) END + $6::BIGINT \
               RETURNING count, first_at, last_at; \
             PREPARE scale_failures(text, text, text, bigint, bigint) AS SELECT count, \
               first_at, last_at FROM mfa_failures WHERE kind = $1 AND owner = $2 \
               AND subject = $3 AND NOT ($4 - last_at > $5); \
             PREPARE scale_clear(text, text, text, text, text, text) AS DELETE FROM mfa_failures \
               WHERE (kind = $1 AND owner = $2 AND subject = $3) \
                  OR (kind = $4 AND owner = $5 AND subject = $6); \
             PREPARE scale_begin(text, text) AS WITH g AS MATERIALIZED (SELECT * FROM \
               mfa_count_attempt($1, 'user', $1, '', 'factor', $1, $2, 1700000000, 900, 900, \
               15, ARRAY[0, 0, 0, 1, 2]::BIGINT[], 900, NULL, FALSE, FALSE)) \
               SELECT g.*, f.user_id, f.factor_id, f.version, f.kind, f.label, f.confirmed, \
               f.created_at, f.last_used_at, f.lookup_scope, f.lookup_namespace, \
               f.lookup_value, f.data_format, f.data_key_id, f.data FROM g \
               LEFT JOIN mfa_factors f ON g.o_verdict = 0 AND f.user_id = $1 \
               ORDER BY f.created_at, f.factor_id COLLATE \"C\"; \
             PREPARE scale_cas(text, text, bigint, text, text, boolean, bigint, bigint, text, \
               text, bytea, text, integer, text, bytea) AS UPDATE mfa_factors SET \
               version = nextval('mfa_version_seq'), kind = $4, label = $5, confirmed = $6, \
               created_at = $7, last_used_at = $8, lookup_scope = $9, lookup_namespace = $10, \
               lookup_value = $11, lookup_owner = $12, data_format = $13, data_key_id = $14, \
               data = $15 WHERE user_id = $1 AND factor_id = $2 AND version = $3 \
               RETURNING version",
        )
        .await
        .unwrap();
    let statements = [
        (
            "the begin, one statement: mfa_count_attempt joined with the user's factors \
             (VerificationStore::begin_verification)",
            format!("EXECUTE scale_begin('{u}', '{f}')"),
        ),
        (
            "inside mfa_count_attempt: read a counter (the account's, the factor's)",
            format!("EXECUTE scale_failures('factor', '{u}', '{f}', 1700000000, 900)"),
        ),
        (
            "the begin's listing alone (FactorStore::list_factors)",
            format!("EXECUTE scale_list('{u}')"),
        ),
        (
            "inside mfa_count_attempt: count (the factor's, then the account's upsert)",
            format!("EXECUTE scale_upsert('factor', '{u}', '{f}', 1700000000, 900, 900)"),
        ),
        (
            "inside mfa_commit_attempt: the compare-and-swap",
            format!(
                "EXECUTE scale_cas('{u}', '{f}', 1, 'totp', 'phone', true, 1700000000, \
                 1700003600, NULL, NULL, NULL, NULL, 1, 'scale', '\\x00')"
            ),
        ),
        (
            "inside mfa_commit_attempt: clear both counters",
            format!("EXECUTE scale_clear('user', '{u}', '', 'factor', '{u}', '{f}')"),
        ),
    ];
    for (what, sql) in statements {
        println!();
        println!("-- {what}");
        for m in size
            .db
            .simple_query(&format!("EXPLAIN {sql}"))
            .await
            .unwrap()
        {
            if let SimpleQueryMessage::Row(r) = m {
                println!("   {}", r.get(0).unwrap_or(""));
            }
        }
    }
    size.db
        .batch_execute("DEALLOCATE ALL; RESET plan_cache_mode")
        .await
        .unwrap();
}
