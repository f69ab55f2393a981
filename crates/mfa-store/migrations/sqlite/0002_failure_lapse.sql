-- When each failure counter lapses (its last failure plus the window it was recorded
-- with), so FailureStore::purge_failures removes counters for ids callers invented.
-- NULL: never lapses (an account's consecutive failures, cleared only by a success or an
-- operator). Counters from before this migration lapse 30 days after their last failure,
-- longer than any window the service used then; the account counters ('user') stay.
ALTER TABLE mfa_failures ADD COLUMN lapses_at INTEGER;
UPDATE mfa_failures SET lapses_at = last_at + 2592000 WHERE kind <> 'user';
CREATE INDEX mfa_failures_lapses ON mfa_failures (lapses_at);
