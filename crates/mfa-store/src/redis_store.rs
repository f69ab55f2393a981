//! The Redis backend for hot state: pending challenges and failure counters, on one
//! server or a Redis Cluster.

use std::time::Duration;

use mfa_core::Clock as _;
use mfa_core::store::{
    AttemptCount, AttemptRequest, AttemptStore, ChallengeId, ChallengeOwner, ChallengeStore,
    ChallengeUse, FailureKey, FailureStore, Failures, NEVER_LAPSES, PendingChallenge, RecordData,
    StoreError, Verdict, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};
use redis::AsyncCommands;

use crate::sql::{Message, backend};

mod conn;
mod keys;
mod legacy;
mod scripts;

use conn::Conn;
use keys::Keys;
use scripts::Scripts;

/// Extra time-to-live past a record's own expiry, so that Redis never drops a record
/// the caller's clock still considers live; expiry is decided on the caller's `now`.
const GRACE: Duration = Duration::from_secs(60);
/// The longest TTL set (a challenge or window this long is a configuration error, but
/// must not overflow Redis' expiry arithmetic).
const MAX_TTL: Duration = Duration::from_secs(400 * 24 * 3600);
/// How often a reset reads the user's indexes again when challenges were added or
/// taken between its read and its delete.
const RESET_ATTEMPTS: usize = 16;
/// Records per sweep script on a single server (a cluster sweeps one record per call,
/// since records of different owners live in different slots).
const SWEEP_BATCH: usize = 250;

/// Settings of a [`RedisStore`] beyond its URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prefix of every key the store uses (default `mfa`); several deployments (or
    /// test runs) share one server by using different prefixes. It may not contain
    /// `{` or `}`: the owner's hash tag must be the first in every key.
    pub prefix: String,
    /// How long one command may take before it fails with [`StoreError::Backend`]
    /// (default 2 s). A dead server therefore fails requests quickly and closed.
    pub response_timeout: Duration,
    /// On a cluster, how often the client retries a command that met a redirection
    /// (`MOVED`, `ASK`, `TRYAGAIN` during a slot migration) or a lost connection
    /// (during a failover) before it fails with [`StoreError::Backend`] (default 3,
    /// with the client's exponential backoff).
    pub cluster_retries: u32,
    /// How many replicas must acknowledge a take, a challenge update and a failure
    /// increment before the store reports it (`WAIT`), and how long to wait for them
    /// (default 0: do not wait). Redis replicates asynchronously: a master that dies
    /// after answering but before its replica copied the write loses it in the failover
    /// (a taken challenge comes back, an increment is forgotten). With 1, such a write
    /// is reported only once a replica has it; if no replica confirms in time, the
    /// operation fails with [`StoreError::Backend`] (fail closed: the take's challenge is
    /// not handed out, the verification is refused). Needs that many replicas per master.
    pub replica_acks: u32,
    /// How long a write waits for [`replica_acks`](Self::replica_acks) (default 500 ms).
    pub replica_ack_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "mfa".into(),
            response_timeout: Duration::from_secs(2),
            cluster_retries: 3,
            replica_acks: 0,
            replica_ack_timeout: Duration::from_millis(500),
        }
    }
}

impl RedisOptions {
    /// With a key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// With a response timeout.
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Reports a take, a challenge update or a failure increment only once `replicas`
    /// replicas acknowledged it, waiting at most `timeout` (see
    /// [`replica_acks`](Self::replica_acks)).
    #[must_use]
    pub fn replica_acks(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replica_acks = replicas;
        self.replica_ack_timeout = timeout;
        self
    }

    /// With a number of cluster retries.
    #[must_use]
    pub fn cluster_retries(mut self, retries: u32) -> Self {
        self.cluster_retries = retries;
        self
    }
}

/// Challenges and failure counters in Redis — one server or a Redis Cluster: the
/// short-lived, high-rate state.
///
/// Not a whole [`Store`](mfa_core::store::Store): factors, devices and users belong in
/// a durable store, and [`Split`](crate::Split) composes the two (PostgreSQL + Redis).
///
/// * Every key carries its owner's hash tag — the user for their challenges and
///   counters, the challenge itself for a usernameless one, the counted thing for a
///   counter no user owns — and every script is given all its keys in `KEYS`, so each
///   operation touches one slot: it runs on a cluster, and no key is shared by all
///   users (the crate README lists the keys).
/// * A challenge is a hash with a native TTL (its expiry plus a minute of grace; the
///   caller's `now` decides expiry, the TTL only sweeps). Put, compare-and-swap and take
///   are Lua scripts, each atomic on the server: of any number of clients taking one
///   challenge, one gets it. Versions come from the owner's own sequence (a user's
///   `seq` key, never reset), or for a usernameless challenge from the server clock in
///   microseconds, never below the last version plus one.
/// * A failure counter is a hash updated by one script (windowed increment, returning
///   the new count) with a TTL of the window plus a minute, or none for a counter that
///   never lapses.
///
/// **Fail-closed.** Every Redis error — unreachable server, timeout, script error, a
/// cluster failing over or migrating a slot past the client's retries — is
/// [`StoreError::Backend`]; nothing is defaulted. A counter that cannot be read or
/// incremented is never "zero failures": the service must refuse the verification (the
/// `mfa` service treats any store error as a rejection). A take that cannot reach Redis
/// returns an error, never the challenge.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    /// Replicas that must acknowledge a write, and for how long to wait (ms).
    acks: (u32, u64),
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.keys.prefix())
            .field("cluster", &self.conn.is_cluster())
            .finish_non_exhaustive()
    }
}

fn rds(e: redis::RedisError) -> StoreError {
    backend(e)
}

/// A decimal padded to 20 digits, so Lua compares instants as strings.
fn padded(t: u64) -> String {
    format!("{t:020}")
}

/// An optional string as one argument: `-` for none, `+value` for some.
fn opt(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("+{s}"),
        None => "-".into(),
    }
}

fn unopt(s: &[u8]) -> Result<Option<String>, StoreError> {
    match s.split_first() {
        Some((b'-', [])) => Ok(None),
        Some((b'+', rest)) => String::from_utf8(rest.to_vec())
            .map(Some)
            .map_err(|e| StoreError::Corrupt(e.to_string())),
        _ => Err(StoreError::Corrupt("optional field".into())),
    }
}

/// Milliseconds from the wall clock until `at`, plus the grace, capped. Only the
/// sweep uses the wall clock (Redis' TTLs run on it); expiry is decided on the caller's
/// `now`.
fn ttl_until(at: Timestamp) -> u64 {
    let wall = mfa_core::SystemClock.now();
    ttl_ms(at.saturating_since(wall))
}

fn ttl_ms(d: Duration) -> u64 {
    let d = d.saturating_add(GRACE).min(MAX_TTL);
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A failure counter's TTL: its window plus the grace, or 0 (no expiry) for a window
/// longer than [`MAX_TTL`] allows, such as [`NEVER_LAPSES`](mfa_core::store::NEVER_LAPSES):
/// a counter must never expire before its window ends.
fn counter_ttl_ms(window: Duration) -> u64 {
    if window.saturating_add(GRACE) > MAX_TTL {
        0
    } else {
        ttl_ms(window)
    }
}

/// A failure counter's lapse as a script argument: its window in seconds, or '' for a
/// counter that never lapses (no `lapse` field, never purged).
fn lapse_arg(window: Duration) -> String {
    crate::sql::lapse_secs(window).map_or_else(String::new, |w| w.to_string())
}

fn text(b: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn number(b: &[u8]) -> Result<u64, StoreError> {
    text(b)?
        .parse()
        .map_err(|_| StoreError::Corrupt("a number field".into()))
}

impl RedisStore {
    /// Connects to `url`:
    ///
    /// * `redis://host:port/db` — one server, through a reconnecting connection
    ///   manager (`rediss://` needs a TLS feature of the `redis` crate this build does
    ///   not enable);
    /// * `redis+cluster://host:port,host:port` — a Redis Cluster, through the `redis`
    ///   crate's cluster client; any reachable seed node is enough (it discovers the
    ///   rest and follows redirections and failovers). A password goes before the first
    ///   host (`redis+cluster://:secret@h1:7000,h2:7000`) and applies to every node.
    ///
    /// Either form takes `?replica_acks=N` (as [`RedisOptions::replica_acks`], with the
    /// options' timeout), so a URL alone — `AnyStore::open_split`'s — can ask for it.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a URL that does not parse, a prefix with a brace, or a
    /// server that cannot be reached.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        if options.prefix.contains(['{', '}']) {
            return Err(backend(Message(
                "a RedisStore prefix may not contain { or }: the owner's hash tag must come first",
            )));
        }
        let (url, acks) = conn::replica_acks(url).map_err(|m| backend(Message(m)))?;
        let options = match acks {
            Some(n) => RedisOptions {
                replica_acks: n,
                ..options
            },
            None => options,
        };
        let target = conn::target(&url).map_err(|m| backend(Message(m)))?;
        let conn = Conn::open(target, &options).await.map_err(rds)?;
        let wait_ms = u64::try_from(options.replica_ack_timeout.as_millis()).unwrap_or(u64::MAX);
        Ok(Self {
            conn,
            acks: (options.replica_acks, wait_ms.max(1)),
            keys: Keys::new(options.prefix),
            scripts: std::sync::Arc::new(Scripts::new()),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        self.keys.prefix()
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// Deletes every key under this store's prefix (for tests and teardown); returns
    /// how many. Uses `SCAN` on every master, so it does not block a server.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when Redis fails.
    pub async fn delete_all(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let keys = conn.scan(&self.keys.all_pattern()).await.map_err(rds)?;
        let mut n = 0;
        for key in keys {
            let d: usize = conn.del(key).await.map_err(rds)?;
            n += d;
        }
        Ok(n)
    }

    /// The hot half of [`UserStore::reset_user`](mfa_core::store::UserStore::reset_user):
    /// removes the user's challenges and the counters the user owns, in one script on
    /// the user's slot; returns `(challenges, counters)` removed. The client reads the
    /// user's two indexes, and the script deletes only if they still list exactly what
    /// was read (else the client reads again), so a challenge put meanwhile is never
    /// left behind.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when Redis fails, or when the user's indexes kept
    /// changing for every attempt (then nothing was removed).
    pub async fn reset_user_hot(&self, user: &UserId) -> Result<(usize, usize), StoreError> {
        let mut conn = self.conn.clone();
        let ci = self.keys.challenge_index(user);
        let fi = self.keys.counter_index(user);
        for _ in 0..RESET_ATTEMPTS {
            let challenges: Vec<String> = conn.smembers(&ci).await.map_err(rds)?;
            let counters: Vec<String> = conn.smembers(&fi).await.map_err(rds)?;
            let mut call = self.scripts.reset.prepare_invoke();
            call.key(&ci).key(&fi);
            for k in challenges.iter().chain(&counters) {
                call.key(k);
            }
            let done: Option<(u64, u64)> = call
                .arg(challenges.len())
                .arg(counters.len())
                .invoke_async(&mut conn)
                .await
                .map_err(rds)?;
            if let Some((nc, nf)) = done {
                return Ok((count(nc), count(nf)));
            }
        }
        Err(backend(Message(
            "the user's challenges kept changing during the reset",
        )))
    }

    /// Waits until the configured number of replicas hold the write just made to
    /// `key`'s master; a write they did not confirm in time is an error.
    async fn replicated(&self, conn: &mut Conn, key: &str) -> Result<(), StoreError> {
        let (replicas, timeout_ms) = self.acks;
        if replicas == 0 {
            return Ok(());
        }
        let acked = conn.wait(key, replicas, timeout_ms).await.map_err(rds)?;
        if acked < u64::from(replicas) {
            return Err(backend(Message(
                "a write was not acknowledged by enough replicas in time",
            )));
        }
        Ok(())
    }

    /// Deletes the records among `keys` whose `field` (an instant) is before `now`,
    /// with their index entries; keys not of this layout are left alone.
    async fn sweep(&self, keys: Vec<String>, field: &str, now: u64) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let pairs: Vec<(String, String)> = keys
            .into_iter()
            .filter_map(|k| self.keys.index_of(&k).map(|i| (k, i)))
            .collect();
        let batch = if conn.is_cluster() { 1 } else { SWEEP_BATCH };
        let mut n = 0;
        for chunk in pairs.chunks(batch) {
            let mut call = self.scripts.purge.prepare_invoke();
            for (k, i) in chunk {
                call.key(k).key(i);
            }
            let d: u64 = call
                .arg(field)
                .arg(now)
                .invoke_async(&mut conn)
                .await
                .map_err(rds)?;
            n += count(d);
        }
        Ok(n)
    }
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Rebuilds a challenge from the fields `f, v, fmt, k, d, exp`.
fn decode_challenge(
    id: &ChallengeId,
    owner: &ChallengeOwner,
    h: &[Vec<u8>],
) -> Result<Versioned<PendingChallenge>, StoreError> {
    let [f, v, fmt, k, d, exp] = h else {
        return Err(StoreError::Corrupt("challenge hash".into()));
    };
    let format = u16::try_from(number(fmt)?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let data = RecordData::sealed(format, unopt(k)?, d.clone());
    let mut c = PendingChallenge::new(
        id.clone(),
        owner.clone(),
        data,
        Timestamp::from_unix_secs(number(exp)?),
    );
    if let Some(f) = unopt(f)? {
        c = c.with_factor(FactorId::new(f).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    Ok(Versioned::new(c, Version::new(number(v)?)))
}

impl RedisStore {
    /// The keys of a challenge script: the challenge, and for a user's challenge their
    /// sequence and index.
    fn challenge_keys(&self, id: &ChallengeId, owner: &ChallengeOwner) -> Vec<String> {
        let mut keys = vec![self.keys.challenge(id, owner)];
        if let Some(u) = owner.user() {
            keys.push(self.keys.sequence(u));
            keys.push(self.keys.challenge_index(u));
        }
        keys
    }
}

impl ChallengeStore for RedisStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.put.prepare_invoke();
        for k in self.challenge_keys(&challenge.id, &challenge.owner) {
            call.key(k);
        }
        let v: i64 = call
            .arg(opt(challenge.factor.as_ref().map(FactorId::as_str)))
            .arg(challenge.data.format())
            .arg(opt(challenge.data.key_id()))
            .arg(challenge.data.expose_bytes())
            .arg(padded(challenge.expires_at.unix_secs()))
            .arg(ttl_until(challenge.expires_at))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        match u64::try_from(v) {
            Ok(v) => Ok(Version::new(v)),
            Err(_) => Err(StoreError::AlreadyExists),
        }
    }

    async fn challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<Versioned<PendingChallenge>>, StoreError> {
        let mut conn = self.conn.clone();
        let h: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
            .arg(self.keys.challenge(id, owner))
            .arg(&["f", "v", "fmt", "k", "d", "exp"])
            .query_async(&mut conn)
            .await
            .map_err(rds)?;
        let Some(h) = h.into_iter().collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let c = decode_challenge(id, owner, &h)?;
        Ok(Some(c).filter(|c| now <= c.value.expires_at))
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.update.prepare_invoke();
        for k in self.challenge_keys(&challenge.id, &challenge.owner) {
            call.key(k);
        }
        let v: i64 = call
            .arg(opt(challenge.factor.as_ref().map(FactorId::as_str)))
            .arg(expected.get().to_string())
            .arg(padded(now.unix_secs()))
            .arg(challenge.data.format())
            .arg(opt(challenge.data.key_id()))
            .arg(challenge.data.expose_bytes())
            .arg(padded(challenge.expires_at.unix_secs()))
            .arg(ttl_until(challenge.expires_at))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        let v = match v {
            -2 => return Err(StoreError::Conflict),
            v => u64::try_from(v).map_err(|_| StoreError::NotFound)?,
        };
        self.replicated(
            &mut conn,
            &self.keys.challenge(&challenge.id, &challenge.owner),
        )
        .await?;
        Ok(Version::new(v))
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.take.prepare_invoke();
        let key = self.keys.challenge(id, owner);
        call.key(&key);
        if let Some(u) = owner.user() {
            call.key(self.keys.challenge_index(u));
        }
        let h: Option<Vec<Vec<u8>>> = call.invoke_async(&mut conn).await.map_err(rds)?;
        let Some(h) = h else { return Ok(None) };
        self.replicated(&mut conn, &key).await?;
        let c = decode_challenge(id, owner, &h)?.value;
        Ok(Some(c).filter(|c| now <= c.expires_at))
    }

    /// Redis expires each challenge on its own (its expiry plus a minute); this removes
    /// the ones expired at `now` sooner, walking the challenges with `SCAN` on every
    /// master.
    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let keys = conn
            .scan(&self.keys.challenge_pattern())
            .await
            .map_err(rds)?;
        self.sweep(keys, "exp", now.unix_secs()).await
    }
}

impl FailureStore for RedisStore {
    async fn record_failure(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Failures, StoreError> {
        let mut conn = self.conn.clone();
        let mut call = self.scripts.fail.prepare_invoke();
        let counter = self.keys.counter(key);
        call.key(&counter);
        if let Some(u) = key.owner() {
            call.key(self.keys.counter_index(u));
        }
        let (c, first, last): (u64, u64, u64) = call
            .arg(now.unix_secs())
            .arg(window.as_secs())
            .arg(counter_ttl_ms(window))
            .arg(lapse_arg(window))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        self.replicated(&mut conn, &counter).await?;
        let c = u32::try_from(c).map_err(|_| backend(Message("failure count out of range")))?;
        Ok(Failures::new(
            c,
            Timestamp::from_unix_secs(first),
            Timestamp::from_unix_secs(last),
        ))
    }

    async fn failures(
        &self,
        key: &FailureKey,
        now: Timestamp,
        window: Duration,
    ) -> Result<Option<Failures>, StoreError> {
        let mut conn = self.conn.clone();
        let h: (Option<u64>, Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.keys.counter(key))
            .arg(&["c", "first", "last"])
            .query_async(&mut conn)
            .await
            .map_err(rds)?;
        let (Some(c), Some(first), Some(last)) = h else {
            return Ok(None);
        };
        if now.saturating_since(Timestamp::from_unix_secs(last)) > window {
            return Ok(None);
        }
        let c = u32::try_from(c).map_err(|_| StoreError::Corrupt("failure count".into()))?;
        Ok(Some(Failures::new(
            c,
            Timestamp::from_unix_secs(first),
            Timestamp::from_unix_secs(last),
        )))
    }

    async fn clear_failures(&self, key: &FailureKey) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: u64 = conn.del(self.keys.counter(key)).await.map_err(rds)?;
        Ok(())
    }

    /// Redis also expires each counter on its own (its window plus a minute); this
    /// removes lapsed ones sooner, walking the counters with `SCAN` on every master and
    /// deleting each batch's lapsed ones in one script (one counter per script on a
    /// cluster).
    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let keys = conn.scan(&self.keys.counter_pattern()).await.map_err(rds)?;
        self.sweep(keys, "lapse", now.unix_secs()).await
    }
}

/// A counter as the attempt script returns it: `{count, first, last}`, or `{}`.
fn counter_as_was(fields: &[u64]) -> Result<Option<Failures>, StoreError> {
    match *fields {
        [] => Ok(None),
        [c, first, last] => Ok(Some(Failures::new(
            u32::try_from(c).map_err(|_| StoreError::Corrupt("failure count".into()))?,
            Timestamp::from_unix_secs(first),
            Timestamp::from_unix_secs(last),
        ))),
        _ => Err(StoreError::Corrupt("failure counter".into())),
    }
}

/// Both steps are one script each on the user's slot (the user's counters, counter
/// index, challenge and challenge index all carry the user's tag), so each is one round
/// trip and atomic, on one server and on a cluster.
impl AttemptStore for RedisStore {
    /// One script reads both counters, judges by the rules (passed as arguments),
    /// counts, and on proceed reads or takes the challenge. Here,
    /// [`AttemptRules::judge`](mfa_core::store::AttemptRules::judge) on the counters the
    /// script saw gives the wait of a backoff or a lock (in integers, not Lua's doubles)
    /// and must agree with the script's verdict, else [`StoreError::Corrupt`]. An
    /// attempt that counted (proceed, locked) waits for
    /// [`RedisOptions::replica_acks`] like an increment.
    async fn count_attempt(
        &self,
        request: &AttemptRequest<'_>,
    ) -> Result<AttemptCount, StoreError> {
        let (rules, now, user) = (request.rules, request.now, request.user);
        let (usage, id) = match request.challenge {
            None => ("", None),
            Some(ChallengeUse::Read(id)) => ("read", Some(id)),
            Some(ChallengeUse::Take(id)) => ("take", Some(id)),
            Some(_) => return Err(StoreError::Unsupported("this use of a challenge")),
        };
        let owner = request.owner();
        let factor_key = self.keys.counter(&request.factor_key());
        let mut conn = self.conn.clone();
        let mut call = self.scripts.attempt.prepare_invoke();
        call.key(self.keys.counter(&request.account_key()))
            .key(&factor_key)
            .key(self.keys.counter_index(user));
        if let Some(id) = id {
            call.key(self.keys.challenge(id, &owner))
                .key(self.keys.challenge_index(user));
        }
        let window = rules.window();
        call.arg(now.unix_secs())
            .arg(padded(now.unix_secs()))
            .arg(NEVER_LAPSES.as_secs())
            .arg(counter_ttl_ms(NEVER_LAPSES))
            .arg(lapse_arg(NEVER_LAPSES))
            .arg(window.as_secs())
            .arg(counter_ttl_ms(window))
            .arg(lapse_arg(window))
            .arg(rules.account_limit())
            .arg(rules.lockout_secs())
            .arg(usage);
        for wait in rules.backoff_secs() {
            call.arg(*wait);
        }
        let (code, account, factor, challenge): (i64, Vec<u64>, Vec<u64>, Vec<Vec<u8>>) =
            call.invoke_async(&mut conn).await.map_err(rds)?;
        let (account, factor) = (counter_as_was(&account)?, counter_as_was(&factor)?);
        let verdict = rules.judge(account, factor, now);
        if i64::from(verdict.code()) != code {
            return Err(StoreError::Corrupt(format!(
                "the attempt script judged {code}, the rules {}",
                verdict.code()
            )));
        }
        let challenge = match (id, challenge.is_empty()) {
            (_, true) => None,
            (Some(id), false) if verdict == Verdict::Proceed => {
                Some(decode_challenge(id, &owner, &challenge)?)
            }
            _ => return Err(StoreError::Corrupt("a challenge not asked for".into())),
        };
        if matches!(verdict, Verdict::Proceed | Verdict::Locked { .. }) {
            self.replicated(&mut conn, &factor_key).await?;
        }
        Ok(AttemptCount::new(verdict, account, factor, challenge))
    }

    /// One script takes the challenge (if any) and deletes both counters with their
    /// index entries; a challenge that is gone or expired is a conflict and clears no
    /// counter. With a take it waits for [`RedisOptions::replica_acks`] like a take.
    async fn settle_attempt(
        &self,
        user: &UserId,
        factor: &FactorId,
        take: Option<&ChallengeId>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let account = self.keys.counter(&FailureKey::user(user));
        let mut conn = self.conn.clone();
        let mut call = self.scripts.settle.prepare_invoke();
        call.key(&account)
            .key(self.keys.counter(&FailureKey::factor(user, factor)))
            .key(self.keys.counter_index(user));
        if let Some(id) = take {
            call.key(self.keys.challenge(id, &ChallengeOwner::User(user.clone())))
                .key(self.keys.challenge_index(user));
        }
        let cleared: i64 = call
            .arg(padded(now.unix_secs()))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        if cleared < 0 {
            return Err(StoreError::Conflict);
        }
        if take.is_some() {
            self.replicated(&mut conn, &account).await?;
        }
        Ok(())
    }
}
