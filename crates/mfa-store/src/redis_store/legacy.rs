//! Moving a server from the old single-server layout (`P:seq`, `P:cexp`, `P:c:ID`,
//! `P:uc:USER`, `P:f:KIND:LEN:OWNER:SUBJECT`, `P:uf:USER`) to the per-owner layout.

use mfa_core::store::StoreError;
use redis::Script;

use super::{RedisStore, count, rds};

/// KEYS: an old counter, its new key [, the owner's counter index]. Renames the old
/// counter into place, or when the new key already counts (the service ran on the new
/// layout first) adds the two: counts summed, the earlier first and later last failure,
/// the longer life (never lapsing wins). Returns 1 if it moved a counter.
const MOVE_COUNTER: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[2])
else
  local o = redis.call('HMGET', KEYS[1], 'c', 'first', 'last', 'lapse')
  local n = redis.call('HMGET', KEYS[2], 'c', 'first', 'last', 'lapse')
  local c = math.min(tonumber(o[1] or 0) + tonumber(n[1] or 0), 4294967295)
  redis.call('HSET', KEYS[2], 'c', c,
             'first', math.min(tonumber(o[2] or n[2]), tonumber(n[2] or o[2])),
             'last', math.max(tonumber(o[3] or n[3]), tonumber(n[3] or o[3])))
  if o[4] and n[4] then
    redis.call('HSET', KEYS[2], 'lapse', math.max(tonumber(o[4]), tonumber(n[4])))
  else
    redis.call('HDEL', KEYS[2], 'lapse')
  end
  local to, tn = redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])
  if to == -1 or tn == -1 then
    redis.call('PERSIST', KEYS[2])
  elseif to > tn then
    redis.call('PEXPIRE', KEYS[2], to)
  end
  redis.call('DEL', KEYS[1])
end
if KEYS[3] then redis.call('SADD', KEYS[3], KEYS[2]) end
return 1";

impl RedisStore {
    /// Moves what matters from keys of the old single-server layout (before the
    /// per-owner hash tags) under this store's prefix: every failure counter is moved
    /// to its new key with its count, instants and TTL — so an account locked by a
    /// counter that never lapses stays locked — and the old challenges, indexes,
    /// sequence and expiry set are deleted (challenges are short-lived: a sign-in in
    /// flight during the upgrade starts again). Returns `(counters moved, keys
    /// deleted)`. Idempotent; run it once after the upgrade, before or while the new
    /// version serves (a counter already written under the new key is added to).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when Redis fails (run it again: what moved stays moved).
    pub async fn migrate_legacy_keys(&self) -> Result<(usize, usize), StoreError> {
        let mut conn = self.conn.clone();
        let p = self.keys.escaped_prefix();
        let script = Script::new(MOVE_COUNTER);
        let mut moved = 0;
        for old in conn.scan(&format!("{p}:f:[^{{]*")).await.map_err(rds)? {
            let Some((kind, owner, subject)) = self.keys.legacy_counter(&old) else {
                continue;
            };
            let (new, index) = self.keys.counter_from_columns(kind, owner, subject);
            let mut call = script.prepare_invoke();
            call.key(&old).key(&new);
            if let Some(index) = index {
                call.key(index);
            }
            let n: u64 = call.invoke_async(&mut conn).await.map_err(rds)?;
            moved += count(n);
        }
        let mut deleted = 0;
        for pattern in [
            format!("{p}:c:[^{{]*"),
            format!("{p}:uc:*"),
            format!("{p}:uf:*"),
            format!("{p}:seq"),
            format!("{p}:cexp"),
        ] {
            for key in conn.scan(&pattern).await.map_err(rds)? {
                let n: u64 = redis::cmd("DEL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .map_err(rds)?;
                deleted += count(n);
            }
        }
        Ok((moved, deleted))
    }
}
