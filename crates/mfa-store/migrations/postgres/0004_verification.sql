-- A verification's two steps, each one statement (VerificationStore): counting an
-- attempt by the lockout rules with its challenge, and committing a success. Both take
-- the user's advisory lock first, so one user's attempts are judged and counted as a
-- sequence, whatever the number of service instances. Both keep the search path of
-- their migration, so they touch this schema's tables whoever calls them.

-- Counts one attempt (mfa_core::store::AttemptRules::judge) and, when it may be
-- verified, reads or takes its challenge. Verdicts: 0 proceed (counted on the factor and
-- the account), 1 backoff (counted nowhere), 2 locked (counted on the factor only),
-- 3 account locked (counted nowhere). The counters are returned as they were. Without
-- p_durable the count commits asynchronously (synchronous_commit off for this statement
-- only); mfa_commit_attempt, which consumes codes and challenges, always waits.
CREATE FUNCTION mfa_count_attempt(
    p_user TEXT,
    p_akind TEXT, p_aowner TEXT, p_asubject TEXT,
    p_fkind TEXT, p_fowner TEXT, p_fsubject TEXT,
    p_now BIGINT, p_window BIGINT, p_lapse BIGINT,
    p_account_limit INTEGER, p_backoff BIGINT[], p_lockout BIGINT,
    p_challenge TEXT, p_take BOOLEAN, p_durable BOOLEAN
) RETURNS TABLE (
    o_verdict INTEGER, o_until BIGINT,
    o_a_count INTEGER, o_a_first BIGINT, o_a_last BIGINT,
    o_f_count INTEGER, o_f_first BIGINT, o_f_last BIGINT,
    o_c_id TEXT, o_c_owner TEXT, o_c_factor TEXT, o_c_version BIGINT,
    o_c_format INTEGER, o_c_key_id TEXT, o_c_data BYTEA, o_c_expires_at BIGINT
) LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    wait BIGINT;
BEGIN
    IF NOT p_durable THEN
        -- The count commits without waiting for its WAL flush: a server crash may lose
        -- the counts of the last few hundred milliseconds, never more, never a success.
        PERFORM set_config('synchronous_commit', 'off', true);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended('mfa-attempt:' || p_user, 0));
    o_verdict := 0;
    o_until := 0;
    SELECT x.count, x.first_at, x.last_at INTO o_a_count, o_a_first, o_a_last
        FROM mfa_failures x
        WHERE x.kind = p_akind AND x.owner = p_aowner AND x.subject = p_asubject;
    SELECT x.count, x.first_at, x.last_at INTO o_f_count, o_f_first, o_f_last
        FROM mfa_failures x
        WHERE x.kind = p_fkind AND x.owner = p_fowner AND x.subject = p_fsubject
          AND NOT (p_now - x.last_at > p_window);
    IF o_a_count IS NOT NULL AND o_a_count >= p_account_limit THEN
        o_verdict := 3;
    ELSIF o_f_count IS NOT NULL THEN
        IF o_f_count < cardinality(p_backoff) THEN
            wait := p_backoff[o_f_count + 1];
            IF p_now < o_f_last + wait THEN
                o_verdict := 1;
                o_until := o_f_last + wait;
            END IF;
        ELSIF p_now < o_f_last + p_lockout THEN
            o_verdict := 2;
            o_until := p_now + p_lockout;
        END IF;
    END IF;
    IF o_verdict IN (0, 2) THEN
        INSERT INTO mfa_failures AS f (kind, owner, subject, count, first_at, last_at, lapses_at)
            VALUES (p_fkind, p_fowner, p_fsubject, 1, p_now, p_now, p_now + p_lapse)
            ON CONFLICT (kind, owner, subject) DO UPDATE SET
            count = CASE WHEN p_now - f.last_at > p_window THEN 1
                         ELSE LEAST(f.count, 2147483646) + 1 END,
            first_at = CASE WHEN p_now - f.last_at > p_window THEN p_now ELSE f.first_at END,
            last_at = CASE WHEN p_now - f.last_at > p_window THEN p_now
                           ELSE GREATEST(f.last_at, p_now) END,
            lapses_at = CASE WHEN p_now - f.last_at > p_window THEN p_now
                             ELSE GREATEST(f.last_at, p_now) END + p_lapse;
    END IF;
    IF o_verdict = 0 THEN
        -- The account's count never lapses (lapses_at NULL).
        INSERT INTO mfa_failures AS f (kind, owner, subject, count, first_at, last_at, lapses_at)
            VALUES (p_akind, p_aowner, p_asubject, 1, p_now, p_now, NULL)
            ON CONFLICT (kind, owner, subject) DO UPDATE SET
            count = LEAST(f.count, 2147483646) + 1,
            last_at = GREATEST(f.last_at, p_now),
            lapses_at = NULL;
        IF p_challenge IS NOT NULL AND p_take THEN
            DELETE FROM mfa_challenges x WHERE x.id = p_challenge AND x.owner = p_user
                RETURNING x.id, x.owner, x.factor_id, x.version, x.data_format,
                          x.data_key_id, x.data, x.expires_at
                INTO o_c_id, o_c_owner, o_c_factor, o_c_version, o_c_format,
                     o_c_key_id, o_c_data, o_c_expires_at;
            IF o_c_expires_at < p_now THEN
                -- Taken, but expired: gone, and reported absent.
                o_c_id := NULL;
            END IF;
        ELSIF p_challenge IS NOT NULL THEN
            SELECT x.id, x.owner, x.factor_id, x.version, x.data_format,
                   x.data_key_id, x.data, x.expires_at
                INTO o_c_id, o_c_owner, o_c_factor, o_c_version, o_c_format,
                     o_c_key_id, o_c_data, o_c_expires_at
                FROM mfa_challenges x
                WHERE x.id = p_challenge AND x.owner = p_user AND x.expires_at >= p_now;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

-- Commits a success, all or nothing: the factor's compare-and-swap (when p_update), the
-- take of the user's challenge (when p_take is not NULL) and the clearing of the
-- account's and the factor's counters. Returns the factor's new version (NULL without
-- an update). A lost race raises SQLSTATE MF409 (the version differs, or the challenge
-- is gone), a removed factor MF404; either rolls everything back.
CREATE FUNCTION mfa_commit_attempt(
    p_user TEXT,
    p_akind TEXT, p_aowner TEXT, p_asubject TEXT,
    p_fkind TEXT, p_fowner TEXT, p_fsubject TEXT,
    p_take TEXT, p_now BIGINT, p_update BOOLEAN,
    p_factor TEXT, p_expected BIGINT, p_kind TEXT, p_label TEXT, p_confirmed BOOLEAN,
    p_created_at BIGINT, p_last_used_at BIGINT, p_lookup_scope TEXT,
    p_lookup_namespace TEXT, p_lookup_value BYTEA, p_lookup_owner TEXT,
    p_data_format INTEGER, p_data_key_id TEXT, p_data BYTEA
) RETURNS BIGINT LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('mfa-attempt:' || p_user, 0));
    IF p_update THEN
        UPDATE mfa_factors SET version = nextval('mfa_version_seq'),
            kind = p_kind, label = p_label, confirmed = p_confirmed,
            created_at = p_created_at, last_used_at = p_last_used_at,
            lookup_scope = p_lookup_scope, lookup_namespace = p_lookup_namespace,
            lookup_value = p_lookup_value, lookup_owner = p_lookup_owner,
            data_format = p_data_format, data_key_id = p_data_key_id, data = p_data
            WHERE user_id = p_user AND factor_id = p_factor AND version = p_expected
            RETURNING version INTO v;
        IF v IS NULL THEN
            IF EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = p_user AND factor_id = p_factor) THEN
                RAISE EXCEPTION 'factor version conflict' USING ERRCODE = 'MF409';
            END IF;
            RAISE EXCEPTION 'factor not found' USING ERRCODE = 'MF404';
        END IF;
    END IF;
    IF p_take IS NOT NULL THEN
        DELETE FROM mfa_challenges
            WHERE id = p_take AND owner = p_user AND expires_at >= p_now;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'challenge gone' USING ERRCODE = 'MF409';
        END IF;
    END IF;
    DELETE FROM mfa_failures
        WHERE (kind = p_akind AND owner = p_aowner AND subject = p_asubject)
           OR (kind = p_fkind AND owner = p_fowner AND subject = p_fsubject);
    RETURN v;
END
$$;
