//! The Lua scripts of [`RedisStore`](super::RedisStore). Each runs atomically on the
//! server that owns its keys, and touches only the keys it is given in `KEYS`, all of
//! one hash slot (one owner's tag), so it runs unchanged on a single server and on a
//! cluster.

use redis::Script;

/// A fresh version: from the owner's sequence (`KEYS[2]`) for a user's challenge; for a
/// usernameless one, whose only owner is the challenge itself, the server's clock in
/// microseconds, and never below one past `floor` (so it never goes back within the
/// challenge's life). Returned as the integer string Redis stores.
macro_rules! concat_lua {
    ($body:literal) => {
        concat!(
            r"
local function next_version(floor)
  local v
  if #KEYS == 3 then
    v = redis.call('INCR', KEYS[2])
  else
    local t = redis.call('TIME')
    v = math.max(floor + 1, tonumber(t[1]) * 1000000 + tonumber(t[2]))
  end
  return string.format('%.0f', v)
end
-- Keeps the owner's index (KEYS[3]) alive as long as its longest-lived member.
local function index(member, ttl)
  if #KEYS == 3 then
    redis.call('SADD', KEYS[3], member)
    if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
  end
end
",
            $body
        )
    };
}

/// Prepends `bump`, the windowed increment of a failure counter that [`FAIL`] and
/// [`ATTEMPT`] share, so both keep a counter the same way.
macro_rules! with_counter {
    ($body:literal) => {
        concat!(
            r"
-- One more failure on the counter `key`, whose fields `h` = {c, first, last} were just
-- read with HMGET: a counter last failed more than `window` before `now` restarts at 1.
-- `ttl` in ms (0: never expires), `lapse` in seconds ('' for never: no `lapse` field,
-- never purged). A new counter joins its owner's `index` (if any), which has no TTL: it
-- lists at most the few counters one user can own (account, send caps, two per factor),
-- so a reset always finds a counter that never lapses. Returns {count, first, last}.
local function bump(key, index, h, now, window, ttl, lapse)
  local c, first, last
  if not h[1] or now - tonumber(h[3]) > window then
    c, first, last = 1, now, now
  else
    c = math.min(tonumber(h[1]), 4294967294) + 1
    first = tonumber(h[2])
    last = math.max(tonumber(h[3]), now)
  end
  if lapse == '' then
    redis.call('HSET', key, 'c', c, 'first', first, 'last', last)
    redis.call('HDEL', key, 'lapse')
  else
    redis.call('HSET', key, 'c', c, 'first', first, 'last', last,
               'lapse', last + tonumber(lapse))
  end
  if ttl == 0 then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, ttl)
  end
  if index and not h[1] then redis.call('SADD', index, key) end
  return {c, first, last}
end
",
            $body
        )
    };
}

/// The scripts, hashed once per store.
pub(super) struct Scripts {
    pub(super) put: Script,
    pub(super) update: Script,
    pub(super) take: Script,
    pub(super) purge: Script,
    pub(super) fail: Script,
    pub(super) reset: Script,
    pub(super) attempt: Script,
    pub(super) settle: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            put: Script::new(PUT),
            update: Script::new(UPDATE),
            take: Script::new(TAKE),
            purge: Script::new(PURGE),
            fail: Script::new(FAIL),
            reset: Script::new(RESET),
            attempt: Script::new(ATTEMPT),
            settle: Script::new(SETTLE),
        }
    }
}

/// KEYS: challenge [, owner's sequence, owner's challenge index].
/// ARGV: factor, format, key id, data, expires (padded), ttl ms.
/// -1: the id exists; else the version.
const PUT: &str = concat_lua!(
    r"
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local v = next_version(0)
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'v', v, 'fmt', ARGV[2], 'k', ARGV[3],
           'd', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
index(KEYS[1], tonumber(ARGV[6]))
return tonumber(v)"
);

/// KEYS: as [`PUT`]. ARGV: factor, expected version, now (padded), format, key id, data,
/// expires (padded), ttl ms.
/// -1: gone, expired or another factor's; -2: another version; else the new version.
const UPDATE: &str = concat_lua!(
    r"
local h = redis.call('HMGET', KEYS[1], 'f', 'v', 'exp')
if not h[1] or h[1] ~= ARGV[1] or h[3] < ARGV[3] then return -1 end
if h[2] ~= ARGV[2] then return -2 end
local v = next_version(tonumber(h[2]))
redis.call('HSET', KEYS[1], 'v', v, 'fmt', ARGV[4], 'k', ARGV[5], 'd', ARGV[6],
           'exp', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[8])
index(KEYS[1], tonumber(ARGV[8]))
return tonumber(v)"
);

/// KEYS: challenge [, owner's challenge index]. Returns the fields `f v fmt k d exp`
/// of the challenge it removed, or nil.
const TAKE: &str = r"
local h = redis.call('HMGET', KEYS[1], 'f', 'v', 'fmt', 'k', 'd', 'exp')
if not h[1] then return false end
redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('SREM', KEYS[2], KEYS[1]) end
return h";

/// KEYS: pairs (record, its owner's index, or the record again when no user owns it).
/// ARGV: the field holding the instant the record lapses at (`exp`, `lapse`), now.
/// Deletes the records whose instant is before now (and their index entries); a record
/// without the field never lapses. Returns how many it deleted.
const PURGE: &str = r"
local n, now = 0, tonumber(ARGV[2])
for i = 1, #KEYS - 1, 2 do
  local at = redis.call('HGET', KEYS[i], ARGV[1])
  if at and tonumber(at) < now then
    n = n + redis.call('DEL', KEYS[i])
    if KEYS[i + 1] ~= KEYS[i] then redis.call('SREM', KEYS[i + 1], KEYS[i]) end
  end
end
return n";

/// KEYS: counter [, owner's counter index]. ARGV: now, window, ttl ms (0: never
/// expires), lapse seconds ('' for never). Returns `{count, first, last}` (see `bump`;
/// an increment of an existing counter costs four commands).
const FAIL: &str = with_counter!(
    r"
local h = redis.call('HMGET', KEYS[1], 'c', 'first', 'last')
return bump(KEYS[1], KEYS[2], h, tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
            ARGV[4])"
);

/// KEYS: the user's challenge index, counter index, then the challenges and counters
/// the client read from them. ARGV: how many challenges, how many counters.
/// Only if the indexes still hold exactly those members (nothing was added or taken
/// since the client read them) deletes them all and the indexes, returning
/// `{challenges, counters}` that existed; else nil, and the client reads again.
const RESET: &str = r"
local nc, nf = tonumber(ARGV[1]), tonumber(ARGV[2])
if redis.call('SCARD', KEYS[1]) ~= nc or redis.call('SCARD', KEYS[2]) ~= nf then
  return false
end
for i = 3, 2 + nc do
  if redis.call('SISMEMBER', KEYS[1], KEYS[i]) == 0 then return false end
end
for i = 3 + nc, 2 + nc + nf do
  if redis.call('SISMEMBER', KEYS[2], KEYS[i]) == 0 then return false end
end
local dc, df = 0, 0
for i = 3, 2 + nc do dc = dc + redis.call('DEL', KEYS[i]) end
for i = 3 + nc, 2 + nc + nf do df = df + redis.call('DEL', KEYS[i]) end
redis.call('DEL', KEYS[1], KEYS[2])
return {dc, df}";

/// One attempt, judged by the service's `AttemptRules` and counted in one step (the
/// Lua form of `AttemptRules::judge`, with the memory store's `count_attempt` as the
/// reference).
///
/// KEYS: the user's account counter, factor counter, counter index [, the challenge,
/// the user's challenge index].
/// ARGV: 1 now, 2 now (padded), 3-5 the account counter's window, ttl ms and lapse
/// (as [`FAIL`] takes them: `NEVER_LAPSES`), 6-8 the factor counter's, 9 the account
/// limit, 10 the lockout (s), 11 what to do with the challenge (`read`, `take` or ''),
/// 12… the backoff waits (s), the wait after `c` failures at `12 + c`.
///
/// Reads both counters (the factor's through its window), judges — 0 proceed, 1
/// backoff, 2 locked, 3 account locked (`Verdict::code`) — and counts: the factor on
/// proceed and locked, the account on proceed only. On proceed it reads the challenge,
/// or takes it (deletes it and its index entry, whether or not it expired, as [`TAKE`]
/// does). Returns `{code, account, factor, challenge}`: each counter as it was,
/// `{count, first, last}` or `{}` when absent or lapsed; the challenge's fields
/// `f v fmt k d exp` when it was there unexpired on proceed, else `{}`.
const ATTEMPT: &str = with_counter!(
    r"
local now = tonumber(ARGV[1])
local function seen(h, window)
  if not h[1] or now - tonumber(h[3]) > window then return {} end
  return {tonumber(h[1]), tonumber(h[2]), tonumber(h[3])}
end
local ah = redis.call('HMGET', KEYS[1], 'c', 'first', 'last')
local fh = redis.call('HMGET', KEYS[2], 'c', 'first', 'last')
local a, f = seen(ah, tonumber(ARGV[3])), seen(fh, tonumber(ARGV[6]))
local code = 0
if a[1] and a[1] >= tonumber(ARGV[9]) then
  code = 3
elseif f[1] then
  local wait = ARGV[12 + f[1]]
  if wait then
    if now < f[3] + tonumber(wait) then code = 1 end
  elseif now < f[3] + tonumber(ARGV[10]) then
    code = 2
  end
end
if code == 0 or code == 2 then
  bump(KEYS[2], KEYS[3], fh, now, tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8])
end
local ch = {}
if code == 0 then
  bump(KEYS[1], KEYS[3], ah, now, tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
  if KEYS[4] then
    local h = redis.call('HMGET', KEYS[4], 'f', 'v', 'fmt', 'k', 'd', 'exp')
    if h[1] then
      if ARGV[11] == 'take' then
        redis.call('DEL', KEYS[4])
        redis.call('SREM', KEYS[5], KEYS[4])
      end
      if h[6] >= ARGV[2] then ch = h end
    end
  end
end
return {code, a, f, ch}"
);

/// The hot half of a success, all or nothing.
///
/// KEYS: the user's account counter, factor counter, counter index [, the challenge to
/// take, the user's challenge index]. ARGV: now (padded).
/// With a challenge: takes it (as [`TAKE`]); if it is not there, or expired (then it is
/// deleted, as a take deletes it), returns -1 and clears nothing. Then deletes both
/// counters and their index entries; returns how many counters it deleted.
const SETTLE: &str = r"
if KEYS[4] then
  local exp = redis.call('HGET', KEYS[4], 'exp')
  if not exp then return -1 end
  redis.call('DEL', KEYS[4])
  redis.call('SREM', KEYS[5], KEYS[4])
  if exp < ARGV[1] then return -1 end
end
redis.call('SREM', KEYS[3], KEYS[1], KEYS[2])
return redis.call('DEL', KEYS[1], KEYS[2])";
