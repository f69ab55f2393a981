-- The journal (JournalStore): the audit log as a hash chain, its head, and the outbox of
-- security events. Rows of both are written in the transaction of the change they record.
CREATE TABLE mfa_audit (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    body      TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
-- One row: the last entry's seq and hash, updated (and so locked) by every append.
CREATE TABLE mfa_audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO mfa_audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE mfa_outbox (
    id              TEXT    PRIMARY KEY,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX mfa_outbox_due ON mfa_outbox (next_attempt_at) WHERE delivered_at IS NULL;
