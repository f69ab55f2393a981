//! RedisStore on a Redis Cluster under faults, while verifications race: a master
//! killed (`kill -9` of its process) and its replica promoted, and slots migrated
//! (`redis-cli --cluster reshard`). The store fails closed meanwhile (typed errors),
//! works again afterwards, loses no challenge the cluster kept, and accepts nothing
//! twice. Each test leaves the cluster at `cluster_state:ok` with every node up (a
//! guard restarts a killed node even when the test fails), and bounds every wait.
//!
//! They need the cluster of `MFA_TEST_REDIS_CLUSTER_URL` on this machine (its nodes are
//! started again from their own configuration) and `redis-cli`.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mfa_core::store::{
    AttemptRequest, AttemptRules, AttemptStore, ChallengeId, ChallengeOwner, ChallengeStore,
    ChallengeUse, FailureKey, FailureStore, PendingChallenge, RecordData, StoreError, Verdict,
};
use mfa_core::testkit::SeededRandom;
use mfa_core::{FactorId, Timestamp, UserId};
use mfa_store::{RedisOptions, RedisStore};
use redis::cluster_routing::Slot;

use crate::redis_cluster::CLUSTER_VAR;
use crate::redis_hot::TestRedis;
use crate::support::REDIS_CLUSTER;

/// How long a racer keeps retrying a call that failed before it declares that the
/// store never recovered (a bound on the test, not a timing assertion).
const GIVE_UP: Duration = Duration::from_secs(60);
const PAUSE: Duration = Duration::from_millis(50);
const NOW: u64 = 10;

/// One line of `CLUSTER NODES`.
#[derive(Clone, Debug)]
struct Node {
    id: String,
    port: u16,
    master: bool,
    failed: bool,
    /// Slot ranges, inclusive.
    slots: Vec<(u16, u16)>,
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn nodes(port: u16) -> Vec<Node> {
    cli(port, &["cluster", "nodes"])
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let port = f
                .get(1)?
                .split('@')
                .next()?
                .rsplit_once(':')?
                .1
                .parse()
                .ok()?;
            let flags = f.get(2)?;
            let slots = f
                .iter()
                .skip(8)
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(Node {
                id: (*f.first()?).to_owned(),
                port,
                master: flags.contains("master"),
                failed: flags.contains("fail"),
                slots,
            })
        })
        .collect()
}

/// The port of the first node in the cluster URL.
fn seed_port(url: &str) -> u16 {
    url.trim_start_matches("redis+cluster://")
        .split([',', '/'])
        .next()
        .and_then(|h| h.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap()
}

fn live_port(ports: &[u16]) -> u16 {
    *ports
        .iter()
        .find(|p| cli(**p, &["ping"]).trim() == "PONG")
        .unwrap()
}

fn cluster_ok(port: u16) -> bool {
    cli(port, &["cluster", "info"]).contains("cluster_state:ok")
}

/// Waits (bounded) until every node answers and reports `cluster_state:ok`, and every
/// replica's link to its master is up.
fn wait_healthy(ports: &[u16]) {
    for _ in 0..600 {
        let ok = ports.iter().all(|p| {
            cluster_ok(*p) && {
                let info = cli(*p, &["info", "replication"]);
                !info.contains("role:slave") || info.contains("master_link_status:up")
            }
        });
        if ok {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let state: Vec<String> = ports
        .iter()
        .map(|p| {
            let info = cli(*p, &["cluster", "info"]);
            let repl = cli(*p, &["info", "replication"]);
            let pick = |text: &str, key: &str| {
                text.lines()
                    .find(|l| l.starts_with(key))
                    .unwrap_or_default()
                    .trim()
                    .to_owned()
            };
            format!(
                "{p}: {} {} {}",
                pick(&info, "cluster_state"),
                pick(&repl, "role"),
                pick(&repl, "master_link_status")
            )
        })
        .collect();
    assert!(
        state.is_empty(),
        "the cluster did not become healthy again: {state:?}"
    );
}

/// Users (named `PREFIXn`) whose keys hash into one of `slots`.
fn users_in(prefix: &str, slots: &[(u16, u16)], n: usize) -> Vec<UserId> {
    let inside = |s: Slot| {
        slots
            .iter()
            .any(|&(a, b)| (a..=b).any(|x| Slot::new(x) == Some(s)))
    };
    (0..2_000_000)
        .map(|i| format!("{prefix}{i}"))
        .filter(|name| inside(Slot::for_key(format!("{{u{}:{name}}}", name.len()))))
        .take(n)
        .map(|name| UserId::new(name).unwrap())
        .collect()
}

/// The test cluster, the port of its seed node and every node's port, once it is
/// healthy; `None` after saying the test skips.
async fn cluster(test: &str) -> Option<(TestRedis, u16, Vec<u16>)> {
    let redis = TestRedis::named_by(CLUSTER_VAR, test).await?;
    let seed = seed_port(&redis.url);
    let all: Vec<u16> = nodes(seed).iter().map(|n| n.port).collect();
    wait_healthy(&all);
    Some((redis, seed, all))
}

/// A Redis node's process, started again with the same settings when dropped if it is
/// not running: the cluster is left whole even when the test fails.
struct Restart {
    port: u16,
    args: Vec<String>,
}

impl Restart {
    fn of(port: u16) -> Self {
        let get = |name: &str| {
            cli(port, &["config", "get", name])
                .lines()
                .nth(1)
                .unwrap_or_default()
                .to_owned()
        };
        let args = [
            "--daemonize yes".to_owned(),
            "--bind 127.0.0.1".to_owned(),
            format!("--port {port}"),
            "--cluster-enabled yes".to_owned(),
            format!("--cluster-config-file {}", get("cluster-config-file")),
            format!("--cluster-node-timeout {}", get("cluster-node-timeout")),
            format!("--dir {}", get("dir")),
            format!("--logfile {}", get("logfile")),
            "--appendonly no".to_owned(),
        ];
        let mut args: Vec<String> = args
            .iter()
            .flat_map(|a| a.split(' ').map(str::to_owned).collect::<Vec<_>>())
            .collect();
        args.extend(["--save".to_owned(), String::new()]);
        Self { port, args }
    }

    fn start(&self) {
        if cli(self.port, &["ping"]).trim() == "PONG" {
            return;
        }
        let status = Command::new("redis-server").args(&self.args).status();
        assert!(status.is_ok_and(|s| s.success()), "restart {}", self.port);
    }
}

impl Drop for Restart {
    fn drop(&mut self) {
        self.start();
    }
}

fn challenge(user: &UserId, seed: u64) -> PendingChallenge {
    PendingChallenge::new(
        ChallengeId::generate(&mut SeededRandom::new(seed)).unwrap(),
        ChallengeOwner::User(user.clone()),
        RecordData::plain(b"state".to_vec()),
        Timestamp::from_unix_secs(10_000),
    )
}

/// What the racers saw.
#[derive(Default)]
struct Tally {
    accepted: AtomicUsize,
    errors: AtomicUsize,
}

/// Takes `c` as a WebAuthn assertion does, in the count of an attempt (at factor
/// `f{factor}` of the owner, under rules that never refuse).
async fn take_by_attempt(
    store: &RedisStore,
    c: &PendingChallenge,
    factor: usize,
) -> Result<Option<PendingChallenge>, StoreError> {
    let user = c.owner.user().unwrap();
    let f = FactorId::new(format!("f{factor}")).unwrap();
    let rules =
        AttemptRules::new(u32::MAX, Duration::from_secs(3_600), &[], Duration::ZERO).unwrap();
    let request = AttemptRequest::new(user, &f, &rules, Timestamp::from_unix_secs(NOW))
        .with_challenge(ChallengeUse::Take(&c.id));
    let a = store.count_attempt(&request).await?;
    assert_eq!(a.verdict, Verdict::Proceed);
    Ok(a.challenge.map(|c| c.value))
}

/// Two racers per challenge — one takes it with `take_challenge`, the other in the
/// count of an attempt (its own factor per challenge) — each starting after its own
/// delay (so the takes spread over the fault) and retrying a failed call until it gets
/// an answer: returns how many takes got each challenge.
async fn race_takes(
    store: &Arc<RedisStore>,
    challenges: &[PendingChallenge],
    spread: Duration,
    tally: &Arc<Tally>,
) -> Vec<usize> {
    let mut tasks = Vec::new();
    let n = u32::try_from(challenges.len()).unwrap();
    for (i, c) in challenges.iter().enumerate() {
        for by_attempt in [false, true] {
            let (store, c, tally) = (Arc::clone(store), c.clone(), Arc::clone(tally));
            let delay = spread * u32::try_from(i).unwrap() / n;
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let start = tokio::time::Instant::now();
                loop {
                    let taken = if by_attempt {
                        take_by_attempt(&store, &c, i).await
                    } else {
                        let now = Timestamp::from_unix_secs(NOW);
                        store.take_challenge(&c.id, &c.owner, now).await
                    };
                    match taken {
                        Ok(Some(got)) => {
                            assert_eq!(got, c, "the challenge comes back as it was put");
                            tally.accepted.fetch_add(1, Ordering::Relaxed);
                            return 1;
                        }
                        Ok(None) => return 0,
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                            assert!(start.elapsed() < GIVE_UP, "the store never recovered");
                            tokio::time::sleep(PAUSE).await;
                        }
                    }
                }
            }));
        }
    }
    let mut per = vec![0; challenges.len()];
    for (i, t) in tasks.into_iter().enumerate() {
        let got = t.await.unwrap();
        if let Some(n) = per.get_mut(i / 2) {
            *n += got;
        }
    }
    per
}

/// One racer per user counting failures: returns, per user, how many increments were
/// acknowledged and the highest count one returned; the count never goes down.
async fn race_counts(
    store: &Arc<RedisStore>,
    users: &[UserId],
    per_user: usize,
    spread: Duration,
    tally: &Arc<Tally>,
) -> Vec<(u32, u32)> {
    let mut tasks = Vec::new();
    for u in users {
        let (store, key, tally) = (Arc::clone(store), FailureKey::user(u), Arc::clone(tally));
        let step = spread / u32::try_from(per_user).unwrap();
        tasks.push(tokio::spawn(async move {
            let (mut acked, mut highest) = (0u32, 0u32);
            let start = tokio::time::Instant::now();
            while (acked as usize) < per_user {
                let window = Duration::from_secs(3_600);
                match store
                    .record_failure(&key, Timestamp::from_unix_secs(NOW), window)
                    .await
                {
                    Ok(f) => {
                        assert!(
                            f.count > highest,
                            "a count went back: {} after {highest}",
                            f.count
                        );
                        acked += 1;
                        highest = f.count;
                        tokio::time::sleep(step).await;
                    }
                    Err(_) => {
                        tally.errors.fetch_add(1, Ordering::Relaxed);
                        assert!(start.elapsed() < GIVE_UP, "the store never recovered");
                        tokio::time::sleep(PAUSE).await;
                    }
                }
            }
            (acked, highest)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Each user's count after the fault is at least what its racer saw acknowledged
/// (`counts` from [`race_counts`]).
async fn assert_counts_kept(
    store: &RedisStore,
    users: &[UserId],
    counts: &[(u32, u32)],
    after: &str,
) {
    for (u, (acked, highest)) in users.iter().zip(counts) {
        let now = store
            .failures(
                &FailureKey::user(u),
                Timestamp::from_unix_secs(NOW),
                Duration::from_secs(3_600),
            )
            .await
            .unwrap()
            .map_or(0, |f| f.count);
        assert!(
            now >= *acked && now >= *highest,
            "{u}: {acked} increments acknowledged (up to {highest}), {now} counted after {after}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_master_killed_mid_run_fails_closed_and_loses_nothing_acknowledged() {
    let test = "redis_cluster_master_killed_mid_run";
    let _exclusive = REDIS_CLUSTER.write().await;
    let Some((redis, seed, all)) = cluster(test).await else {
        return;
    };
    let prefix = redis.prefix();
    // Every take (by itself or in an attempt's count) and increment is reported only
    // once a replica has it.
    let options = RedisOptions::default()
        .prefix(&prefix)
        .replica_acks(1, Duration::from_secs(1))
        .cluster_retries(2);
    let store = Arc::new(RedisStore::connect(&redis.url, options).await.unwrap());

    let before = nodes(seed);
    let victim = before
        .iter()
        .find(|n| n.master && !n.slots.is_empty())
        .unwrap()
        .clone();
    let on_victim = users_in("victim", &victim.slots, 4);
    let elsewhere: Vec<(u16, u16)> = before
        .iter()
        .filter(|n| n.master && n.id != victim.id)
        .flat_map(|n| n.slots.clone())
        .collect();
    let survivors = users_in("survivor", &elsewhere, 4);
    let users: Vec<UserId> = on_victim.iter().chain(&survivors).cloned().collect();
    let mut challenges = Vec::new();
    for (i, u) in users.iter().enumerate() {
        for j in 0..20 {
            let c = challenge(u, (i * 100 + j) as u64);
            store.put_challenge(c.clone()).await.unwrap();
            challenges.push(c);
        }
    }
    let pid: u32 = cli(victim.port, &["info", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|p| p.trim().parse().ok())
        .unwrap();
    let restart = Restart::of(victim.port);

    // The fault: kill the master a little into the run; once its replica is promoted,
    // start it again (it comes back as the new master's replica, which the
    // acknowledgements need).
    let controller = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(400));
        let killed = Command::new("kill").args(["-9", &pid.to_string()]).status();
        assert!(killed.is_ok_and(|s| s.success()));
        let other = live_port(&all);
        for _ in 0..600 {
            let promoted = nodes(other)
                .iter()
                .any(|n| n.master && !n.failed && n.port != victim.port && n.slots == victim.slots);
            if promoted {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        restart.start();
        wait_healthy(&all);
        drop(restart);
    });

    let tally = Arc::new(Tally::default());
    let spread = Duration::from_secs(3);
    let (per, counts) = tokio::join!(
        race_takes(&store, &challenges, spread, &tally),
        race_counts(&store, &users, 30, spread, &tally)
    );
    controller.await.unwrap();

    // Nothing accepted twice; every challenge on a master that lived was accepted once.
    let mut by_user: HashMap<&UserId, (usize, usize)> = HashMap::new();
    for (c, n) in challenges.iter().zip(&per) {
        assert!(*n <= 1, "a challenge was accepted {n} times");
        let u = c.owner.user().unwrap();
        let e = by_user.entry(u).or_default();
        e.0 += n;
        e.1 += 1;
    }
    for u in &survivors {
        let (got, of) = by_user[u];
        assert_eq!(got, of, "{u}: a challenge on a surviving master was lost");
    }
    // Every acknowledged increment survived the failover: the count after it is at
    // least what was acknowledged, never zero.
    assert_counts_kept(&store, &users, &counts, "the failover").await;
    eprintln!(
        "{test}: {} takes accepted, {} calls failed closed during the failover",
        tally.accepted.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_slot_migration_loses_no_challenge_and_accepts_none_twice() {
    let test = "redis_cluster_slot_migration";
    let _exclusive = REDIS_CLUSTER.write().await;
    let Some((redis, seed, all)) = cluster(test).await else {
        return;
    };
    let prefix = redis.prefix();
    let options = RedisOptions::default().prefix(&prefix).cluster_retries(5);
    let store = Arc::new(RedisStore::connect(&redis.url, options).await.unwrap());

    // `reshard` moves the source's lowest slots first: put the users there.
    const SLOTS: u16 = 8;
    let masters: Vec<Node> = nodes(seed)
        .into_iter()
        .filter(|n| n.master && !n.slots.is_empty())
        .collect();
    // From the owner of slot 0, so the moved slots are also the destination's lowest
    // and moving them back restores the layout.
    let from = masters
        .iter()
        .find(|n| n.slots.iter().any(|r| r.0 == 0))
        .unwrap()
        .clone();
    let to = masters.iter().find(|n| n.id != from.id).unwrap().clone();
    let lowest = 0;
    let moving = [(lowest, lowest + SLOTS - 1)];
    assert!(
        from.slots
            .iter()
            .any(|&(a, b)| a <= lowest && lowest + SLOTS - 1 <= b),
        "the source's lowest {SLOTS} slots are one range: {:?}",
        from.slots
    );
    let users = users_in("moved", &moving, 4);
    let mut challenges = Vec::new();
    for (i, u) in users.iter().enumerate() {
        for j in 0..25 {
            let c = challenge(u, (1_000 + i * 100 + j) as u64);
            store.put_challenge(c.clone()).await.unwrap();
            challenges.push(c);
        }
    }
    let reshard = move |from: &str, to: &str| {
        let out = Command::new("redis-cli")
            .args(["--cluster", "reshard", &format!("127.0.0.1:{seed}")])
            .args(["--cluster-from", from, "--cluster-to", to])
            .args(["--cluster-slots", &SLOTS.to_string(), "--cluster-yes"])
            .args(["--cluster-pipeline", "1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "reshard: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    let (from_id, to_id) = (from.id.clone(), to.id.clone());
    let migration = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(200));
        reshard(&from_id, &to_id);
    });
    let tally = Arc::new(Tally::default());
    let spread = Duration::from_secs(2);
    let (per, counts) = tokio::join!(
        race_takes(&store, &challenges, spread, &tally),
        race_counts(&store, &users, 20, spread, &tally)
    );
    migration.await.unwrap();
    // The users' slots did move.
    let after = nodes(seed);
    let dest = after.iter().find(|n| n.id == to.id).unwrap();
    assert!(
        dest.slots.iter().any(|&(a, b)| a <= lowest && lowest <= b),
        "slot {lowest} is not on the destination: {:?}",
        dest.slots
    );

    for (c, n) in challenges.iter().zip(&per) {
        assert_eq!(*n, 1, "challenge {:?} accepted {n} times", c.id);
    }
    assert_counts_kept(&store, &users, &counts, "the migration").await;
    // A reset and new challenges work on the moved slots; the reset finds the account
    // counter and the factor counter of each of the user's 25 attempts.
    let u = users.first().unwrap();
    let (nc, nf) = store.reset_user_hot(u).await.unwrap();
    assert_eq!((nc, nf), (0, 1 + 25));
    let c = challenge(u, 9_999);
    store.put_challenge(c.clone()).await.unwrap();
    assert!(
        store
            .take_challenge(&c.id, &c.owner, Timestamp::from_unix_secs(NOW))
            .await
            .unwrap()
            .is_some()
    );
    eprintln!(
        "{test}: {} takes accepted, {} calls refused and retried during the migration",
        tally.accepted.load(Ordering::Relaxed),
        tally.errors.load(Ordering::Relaxed)
    );
    // Move the slots back, so the cluster is as it was.
    let (back_from, back_to) = (to.id.clone(), from.id.clone());
    tokio::task::spawn_blocking(move || reshard(&back_from, &back_to))
        .await
        .unwrap();
    wait_healthy(&all);
}
