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

/// The scripts, hashed once per store.
pub(super) struct Scripts {
    pub(super) put: Script,
    pub(super) update: Script,
    pub(super) take: Script,
    pub(super) purge: Script,
    pub(super) fail: Script,
    pub(super) reset: Script,
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
/// expires), lapse seconds ('' for never: no `lapse` field, never purged). Returns
/// `{count, first, last}`. A new counter joins its owner's index, which has no TTL: it
/// lists at most the few counters one user can own (account, send caps, two per factor),
/// so a reset always finds a counter that never lapses, and an increment of an existing
/// counter costs four commands.
const FAIL: &str = r"
local h = redis.call('HMGET', KEYS[1], 'c', 'first', 'last')
local now = tonumber(ARGV[1])
local c, first, last
if not h[1] or now - tonumber(h[3]) > tonumber(ARGV[2]) then
  c, first, last = 1, now, now
else
  c = math.min(tonumber(h[1]), 4294967294) + 1
  first = tonumber(h[2])
  last = math.max(tonumber(h[3]), now)
end
if ARGV[4] == '' then
  redis.call('HSET', KEYS[1], 'c', c, 'first', first, 'last', last)
  redis.call('HDEL', KEYS[1], 'lapse')
else
  redis.call('HSET', KEYS[1], 'c', c, 'first', first, 'last', last,
             'lapse', last + tonumber(ARGV[4]))
end
local ttl = tonumber(ARGV[3])
if ttl == 0 then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ttl)
end
if KEYS[2] and not h[1] then redis.call('SADD', KEYS[2], KEYS[1]) end
return {c, first, last}";

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
