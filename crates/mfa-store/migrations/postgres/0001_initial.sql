-- mfa-store schema version 1 (PostgreSQL). Applied by PostgresStore::migrate().
CREATE SEQUENCE mfa_version_seq AS BIGINT MINVALUE 1 START 1;

CREATE TABLE mfa_factors (
    user_id          TEXT     NOT NULL,
    factor_id        TEXT     NOT NULL,
    version          BIGINT   NOT NULL,
    kind             TEXT     NOT NULL,
    label            TEXT     NOT NULL,
    confirmed        BOOLEAN  NOT NULL,
    created_at       BIGINT   NOT NULL,
    last_used_at     BIGINT,
    lookup_scope     TEXT,
    lookup_namespace TEXT,
    lookup_value     BYTEA,
    lookup_owner     TEXT,
    data_format      INTEGER  NOT NULL,
    data_key_id      TEXT,
    data             BYTEA    NOT NULL,
    PRIMARY KEY (user_id, factor_id)
);
CREATE UNIQUE INDEX mfa_factors_lookup_key
    ON mfa_factors (lookup_scope, lookup_namespace, lookup_value, lookup_owner);

CREATE TABLE mfa_challenges (
    id          TEXT     PRIMARY KEY,
    owner       TEXT,
    factor_id   TEXT,
    version     BIGINT   NOT NULL,
    data_format INTEGER  NOT NULL,
    data_key_id TEXT,
    data        BYTEA    NOT NULL,
    expires_at  BIGINT   NOT NULL
);
CREATE INDEX mfa_challenges_owner ON mfa_challenges (owner);
CREATE INDEX mfa_challenges_expires_at ON mfa_challenges (expires_at);

CREATE TABLE mfa_failures (
    kind     TEXT    NOT NULL,
    owner    TEXT    NOT NULL,
    subject  TEXT    NOT NULL,
    count    INTEGER NOT NULL,
    first_at BIGINT  NOT NULL,
    last_at  BIGINT  NOT NULL,
    PRIMARY KEY (kind, owner, subject)
);
CREATE INDEX mfa_failures_owner ON mfa_failures (owner);

CREATE TABLE mfa_users (
    user_id    TEXT   PRIMARY KEY,
    generation BIGINT NOT NULL
);

CREATE TABLE mfa_devices (
    user_id    TEXT   NOT NULL,
    device_id  TEXT   NOT NULL,
    label      TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
