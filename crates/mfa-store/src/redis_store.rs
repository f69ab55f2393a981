//! The Redis backend for hot state: pending challenges and failure counters.

use std::time::Duration;

use mfa_core::Clock as _;

use mfa_core::store::{
    ChallengeId, ChallengeOwner, ChallengeStore, FailureKey, FailureStore, Failures,
    PendingChallenge, RecordData, StoreError, Version, Versioned,
};
use mfa_core::{FactorId, Timestamp, UserId};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::sql::{Message, backend};

/// Extra time-to-live past a record's own expiry, so that Redis never drops a record
/// the caller's clock still considers live; expiry is decided on the caller's `now`.
const GRACE: Duration = Duration::from_secs(60);
/// The longest TTL set (a challenge or window this long is a configuration error, but
/// must not overflow Redis' expiry arithmetic).
const MAX_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// The challenge store, failure counters and the hot half of a reset, as Lua scripts:
/// each runs atomically in Redis, so a take, a compare-and-swap or an increment is one
/// step for every client of the server.
struct Scripts {
    put: Script,
    update: Script,
    take: Script,
    purge: Script,
    purge_failures: Script,
    fail: Script,
    reset: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            // KEYS: challenge, sequence, expiry index, owner's set.
            // ARGV: owner, factor, format, key id, data, expires (padded), ttl ms, id, owned.
            put: Script::new(
                r"if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
                  local v = redis.call('INCR', KEYS[2])
                  redis.call('HSET', KEYS[1], 'o', ARGV[1], 'f', ARGV[2], 'v', v,
                             'fmt', ARGV[3], 'k', ARGV[4], 'd', ARGV[5], 'exp', ARGV[6])
                  redis.call('PEXPIRE', KEYS[1], ARGV[7])
                  redis.call('ZADD', KEYS[3], tonumber(ARGV[6]), ARGV[8])
                  if ARGV[9] == '1' then redis.call('SADD', KEYS[4], ARGV[8]) end
                  return v",
            ),
            // KEYS: challenge, sequence, expiry index.
            // ARGV: owner, factor, expected, now (padded), format, key id, data,
            //       expires (padded), ttl ms, id.
            // -1: gone, expired or not this owner's / factor's; -2: another version.
            update: Script::new(
                r"local h = redis.call('HMGET', KEYS[1], 'o', 'f', 'v', 'exp')
                  if not h[1] or h[1] ~= ARGV[1] or h[2] ~= ARGV[2] or h[4] < ARGV[4] then
                    return -1
                  end
                  if h[3] ~= ARGV[3] then return -2 end
                  local v = redis.call('INCR', KEYS[2])
                  redis.call('HSET', KEYS[1], 'v', v, 'fmt', ARGV[5], 'k', ARGV[6],
                             'd', ARGV[7], 'exp', ARGV[8])
                  redis.call('PEXPIRE', KEYS[1], ARGV[9])
                  redis.call('ZADD', KEYS[3], tonumber(ARGV[8]), ARGV[10])
                  return v",
            ),
            // KEYS: challenge, expiry index, owner's set. ARGV: owner, id, owned.
            take: Script::new(
                r"local h = redis.call('HMGET', KEYS[1], 'o', 'f', 'v', 'fmt', 'k', 'd', 'exp')
                  if not h[1] or h[1] ~= ARGV[1] then return false end
                  redis.call('DEL', KEYS[1])
                  redis.call('ZREM', KEYS[2], ARGV[2])
                  if ARGV[3] == '1' then redis.call('SREM', KEYS[3], ARGV[2]) end
                  return h",
            ),
            // KEYS: expiry index. ARGV: now (number), now (padded), challenge key
            // prefix, owner-set key prefix.
            purge: Script::new(
                r"local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
                  local n = 0
                  for _, id in ipairs(ids) do
                    local k = ARGV[3] .. id
                    local h = redis.call('HMGET', k, 'o', 'exp')
                    if not h[2] then
                      redis.call('ZREM', KEYS[1], id)
                    elseif h[2] < ARGV[2] then
                      n = n + redis.call('DEL', k)
                      redis.call('ZREM', KEYS[1], id)
                      if string.sub(h[1], 1, 2) == 'u:' then
                        redis.call('SREM', ARGV[4] .. string.sub(h[1], 3), id)
                      end
                    end
                  end
                  return n",
            ),
            // KEYS: counter, owner's set. ARGV: now, window, ttl ms (0: never expires),
            // owned, lapse seconds ('' for never: no `lapse` field, never purged). The owner's set (what a reset removes) lives as long as its longest
            // counter, so a reset always finds a counter that never lapses.
            // KEYS: failure counters. ARGV: now. Deletes those whose `lapse` has passed.
            purge_failures: Script::new(
                r"local n = 0
                  for _, k in ipairs(KEYS) do
                    local lapse = redis.call('HGET', k, 'lapse')
                    if lapse and tonumber(lapse) < tonumber(ARGV[1]) then
                      n = n + redis.call('DEL', k)
                    end
                  end
                  return n",
            ),
            fail: Script::new(
                r"local h = redis.call('HMGET', KEYS[1], 'c', 'first', 'last')
                  local now = tonumber(ARGV[1])
                  local c, first, last
                  if not h[1] or now - tonumber(h[3]) > tonumber(ARGV[2]) then
                    c, first, last = 1, now, now
                  else
                    c = math.min(tonumber(h[1]), 4294967294) + 1
                    first = tonumber(h[2])
                    last = math.max(tonumber(h[3]), now)
                  end
                  redis.call('HSET', KEYS[1], 'c', c, 'first', first, 'last', last)
                  if ARGV[5] == '' then
                    redis.call('HDEL', KEYS[1], 'lapse')
                  else
                    redis.call('HSET', KEYS[1], 'lapse', last + tonumber(ARGV[5]))
                  end
                  local ttl = tonumber(ARGV[3])
                  if ttl == 0 then
                    redis.call('PERSIST', KEYS[1])
                  else
                    redis.call('PEXPIRE', KEYS[1], ttl)
                  end
                  if ARGV[4] == '1' then
                    local left = redis.call('PTTL', KEYS[2])
                    redis.call('SADD', KEYS[2], KEYS[1])
                    if ttl == 0 then
                      redis.call('PERSIST', KEYS[2])
                    elseif left ~= -1 and left < ttl then
                      redis.call('PEXPIRE', KEYS[2], ttl)
                    end
                  end
                  return {c, first, last}",
            ),
            // KEYS: owner's challenge set, owner's counter set, expiry index.
            // ARGV: challenge key prefix, owner.
            reset: Script::new(
                r"local nc, nf = 0, 0
                  for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
                    local k = ARGV[1] .. id
                    if redis.call('HGET', k, 'o') == ARGV[2] then
                      nc = nc + redis.call('DEL', k)
                      redis.call('ZREM', KEYS[3], id)
                    end
                  end
                  redis.call('DEL', KEYS[1])
                  for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do
                    nf = nf + redis.call('DEL', k)
                  end
                  redis.call('DEL', KEYS[2])
                  return {nc, nf}",
            ),
        }
    }
}

/// Settings of a [`RedisStore`] beyond its URL.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prefix of every key the store uses (default `mfa`); several deployments (or
    /// test runs) share one server by using different prefixes.
    pub prefix: String,
    /// How long one command may take before it fails with [`StoreError::Backend`]
    /// (default 2 s). A dead server therefore fails requests quickly and closed.
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "mfa".into(),
            response_timeout: Duration::from_secs(2),
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
}

/// Challenges and failure counters in Redis: the short-lived, high-rate state.
///
/// Not a whole [`Store`](mfa_core::store::Store): factors, devices and users belong in
/// a durable store, and [`Split`](crate::Split) composes the two (PostgreSQL + Redis).
///
/// * A challenge is a hash with a native TTL (its expiry plus a minute of grace; the
///   caller's `now` decides expiry, the TTL only sweeps). Put, compare-and-swap and take
///   are Lua scripts, each atomic on the server: of any number of clients taking one
///   challenge, one gets it.
/// * A failure counter is a hash updated by one script (windowed increment, returning
///   the new count) with a TTL of the window plus a minute.
/// * Versions come from one `INCR` sequence key.
///
/// **Fail-closed.** Every Redis error — unreachable server, timeout, script error — is
/// [`StoreError::Backend`]; nothing is defaulted. A counter that cannot be read or
/// incremented is never "zero failures": the service must refuse the verification (the
/// `mfa` service treats any store error as a rejection). A take that cannot reach Redis
/// returns an error, never the challenge.
///
/// Keys (prefix `P`): `P:seq`; `P:c:ID` (challenge); `P:cexp` (sorted set of challenge
/// ids by expiry, for purging); `P:uc:USER` (a user's challenge ids, for a reset);
/// `P:f:KIND:LEN:OWNER:SUBJECT` (counter); `P:uf:USER` (a user's counters). The scripts
/// touch several keys, so the store needs one Redis server (or a primary with replicas),
/// not a Cluster.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    scripts: std::sync::Arc<Scripts>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
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

fn owner_arg(owner: &ChallengeOwner) -> String {
    match owner.user() {
        Some(u) => format!("u:{}", u.as_str()),
        None => "-".into(),
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

fn text(b: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn number(b: &[u8]) -> Result<u64, StoreError> {
    text(b)?
        .parse()
        .map_err(|_| StoreError::Corrupt("a number field".into()))
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` needs a TLS feature of
    /// the `redis` crate this build does not enable) with a reconnecting connection
    /// manager.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] for a URL that does not parse or a server that cannot be
    /// reached.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(rds)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.response_timeout))
            .set_connection_timeout(Some(options.response_timeout))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(rds)?;
        Ok(Self {
            conn,
            prefix: options.prefix,
            scripts: std::sync::Arc::new(Scripts::new()),
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, parts: &str) -> String {
        format!("{}:{parts}", self.prefix)
    }

    fn challenge_key(&self, id: &ChallengeId) -> String {
        self.key(&format!("c:{}", id.as_str()))
    }

    fn user_challenges(&self, user: Option<&UserId>) -> String {
        self.key(&format!("uc:{}", user.map_or("", UserId::as_str)))
    }

    fn user_failures(&self, user: Option<&UserId>) -> String {
        self.key(&format!("uf:{}", user.map_or("", UserId::as_str)))
    }

    fn failure_key(&self, key: &FailureKey) -> String {
        let (kind, owner, subject) = key.columns();
        self.key(&format!("f:{kind}:{}:{owner}:{subject}", owner.len()))
    }

    /// Deletes every key under this store's prefix (for tests and teardown); returns
    /// how many. Uses `SCAN`, so it does not block the server.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when Redis fails.
    pub async fn delete_all(&self) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", escape_glob(&self.prefix));
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<'_, String> =
                conn.scan_match(&pattern).await.map_err(rds)?;
            while let Some(k) = iter.next_item().await {
                keys.push(k.map_err(rds)?);
            }
        }
        let mut n = 0;
        for chunk in keys.chunks(500) {
            let d: usize = conn.del(chunk).await.map_err(rds)?;
            n += d;
        }
        Ok(n)
    }

    /// The hot half of [`UserStore::reset_user`](mfa_core::store::UserStore::reset_user):
    /// removes the user's challenges and `User`/`Factor` failure counters in one script;
    /// returns `(challenges, counters)` removed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when Redis fails (then nothing was removed).
    pub async fn reset_user_hot(&self, user: &UserId) -> Result<(usize, usize), StoreError> {
        let mut conn = self.conn.clone();
        let (nc, nf): (u64, u64) = self
            .scripts
            .reset
            .key(self.user_challenges(Some(user)))
            .key(self.user_failures(Some(user)))
            .key(self.key("cexp"))
            .arg(self.key("c:"))
            .arg(owner_arg(&ChallengeOwner::User(user.clone())))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        Ok((count(nc), count(nf)))
    }
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Rebuilds a challenge from the fields `o, f, v, fmt, k, d, exp`.
fn decode_challenge(
    id: &ChallengeId,
    h: &[Vec<u8>],
) -> Result<Versioned<PendingChallenge>, StoreError> {
    let [o, f, v, fmt, k, d, exp] = h else {
        return Err(StoreError::Corrupt("challenge hash".into()));
    };
    let owner = match o.as_slice() {
        b"-" => ChallengeOwner::Usernameless,
        other => {
            let u = text(other)?
                .strip_prefix("u:")
                .ok_or_else(|| StoreError::Corrupt("challenge owner".into()))?;
            ChallengeOwner::User(UserId::new(u).map_err(|e| StoreError::Corrupt(e.to_string()))?)
        }
    };
    let format = u16::try_from(number(fmt)?).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let data = RecordData::sealed(format, unopt(k)?, d.clone());
    let mut c = PendingChallenge::new(
        id.clone(),
        owner,
        data,
        Timestamp::from_unix_secs(number(exp)?),
    );
    if let Some(f) = unopt(f)? {
        c = c.with_factor(FactorId::new(f).map_err(|e| StoreError::Corrupt(e.to_string()))?);
    }
    Ok(Versioned::new(c, Version::new(number(v)?)))
}

impl ChallengeStore for RedisStore {
    async fn put_challenge(&self, challenge: PendingChallenge) -> Result<Version, StoreError> {
        let mut conn = self.conn.clone();
        let owned = challenge.owner.user().is_some();
        let v: i64 = self
            .scripts
            .put
            .key(self.challenge_key(&challenge.id))
            .key(self.key("seq"))
            .key(self.key("cexp"))
            .key(self.user_challenges(challenge.owner.user()))
            .arg(owner_arg(&challenge.owner))
            .arg(opt(challenge.factor.as_ref().map(FactorId::as_str)))
            .arg(challenge.data.format())
            .arg(opt(challenge.data.key_id()))
            .arg(challenge.data.expose_bytes())
            .arg(padded(challenge.expires_at.unix_secs()))
            .arg(ttl_until(challenge.expires_at))
            .arg(challenge.id.as_str())
            .arg(if owned { "1" } else { "0" })
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
            .arg(self.challenge_key(id))
            .arg(&["o", "f", "v", "fmt", "k", "d", "exp"])
            .query_async(&mut conn)
            .await
            .map_err(rds)?;
        let Some(h) = h.into_iter().collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let c = decode_challenge(id, &h)?;
        Ok(Some(c).filter(|c| &c.value.owner == owner && now <= c.value.expires_at))
    }

    async fn update_challenge_if_version(
        &self,
        challenge: PendingChallenge,
        expected: Version,
        now: Timestamp,
    ) -> Result<Version, StoreError> {
        let mut conn = self.conn.clone();
        let v: i64 = self
            .scripts
            .update
            .key(self.challenge_key(&challenge.id))
            .key(self.key("seq"))
            .key(self.key("cexp"))
            .arg(owner_arg(&challenge.owner))
            .arg(opt(challenge.factor.as_ref().map(FactorId::as_str)))
            .arg(expected.get().to_string())
            .arg(padded(now.unix_secs()))
            .arg(challenge.data.format())
            .arg(opt(challenge.data.key_id()))
            .arg(challenge.data.expose_bytes())
            .arg(padded(challenge.expires_at.unix_secs()))
            .arg(ttl_until(challenge.expires_at))
            .arg(challenge.id.as_str())
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        match v {
            -2 => Err(StoreError::Conflict),
            v => u64::try_from(v)
                .map(Version::new)
                .map_err(|_| StoreError::NotFound),
        }
    }

    async fn take_challenge(
        &self,
        id: &ChallengeId,
        owner: &ChallengeOwner,
        now: Timestamp,
    ) -> Result<Option<PendingChallenge>, StoreError> {
        let mut conn = self.conn.clone();
        let h: Option<Vec<Vec<u8>>> = self
            .scripts
            .take
            .key(self.challenge_key(id))
            .key(self.key("cexp"))
            .key(self.user_challenges(owner.user()))
            .arg(owner_arg(owner))
            .arg(id.as_str())
            .arg(if owner.user().is_some() { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        let Some(h) = h else { return Ok(None) };
        let c = decode_challenge(id, &h)?.value;
        Ok(Some(c).filter(|c| now <= c.expires_at))
    }

    async fn purge_expired_challenges(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let n: u64 = self
            .scripts
            .purge
            .key(self.key("cexp"))
            .arg(now.unix_secs())
            .arg(padded(now.unix_secs()))
            .arg(self.key("c:"))
            .arg(self.key("uc:"))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
        Ok(count(n))
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
        let (c, first, last): (u64, u64, u64) = self
            .scripts
            .fail
            .key(self.failure_key(key))
            .key(self.user_failures(key.owner()))
            .arg(now.unix_secs())
            .arg(window.as_secs())
            .arg(counter_ttl_ms(window))
            .arg(if key.owner().is_some() { "1" } else { "0" })
            .arg(crate::sql::lapse_secs(window).map_or_else(String::new, |w| w.to_string()))
            .invoke_async(&mut conn)
            .await
            .map_err(rds)?;
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
            .arg(self.failure_key(key))
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
        let _: u64 = conn.del(self.failure_key(key)).await.map_err(rds)?;
        Ok(())
    }

    /// Redis also expires each counter on its own (its window plus a minute); this
    /// removes lapsed ones sooner, walking the counters with `SCAN` (so it does not
    /// block the server) and deleting each batch's lapsed ones in one script.
    async fn purge_failures(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:f:*", escape_glob(&self.prefix));
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<'_, String> =
                conn.scan_match(&pattern).await.map_err(rds)?;
            while let Some(k) = iter.next_item().await {
                keys.push(k.map_err(rds)?);
            }
        }
        let mut n = 0;
        for chunk in keys.chunks(500) {
            let mut invocation = self.scripts.purge_failures.prepare_invoke();
            for k in chunk {
                invocation.key(k);
            }
            let d: u64 = invocation
                .arg(now.unix_secs())
                .invoke_async(&mut conn)
                .await
                .map_err(rds)?;
            n += count(d);
        }
        Ok(n)
    }
}
