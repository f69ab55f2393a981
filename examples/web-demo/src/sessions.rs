//! Sessions that survive a restart, and the administrators.
//!
//! A session id is 32 random bytes (base64url) in the `__Host-demo_sid` cookie. The
//! database keys a session by the SHA-256 of that value, never the value itself, so a
//! copy of the database names no live cookie. A signed-in session (a password or a
//! passkey accepted) is written to `demo_sessions`: its user, its stage and the
//! mfa-policy `Session` (which methods, when). An anonymous one stays in memory.
//! The ceremonies in flight (a TOTP or passkey enrollment, a sign-in code, a push) stay
//! in memory too: after a restart the user starts them again, still signed in.
//!
//! Every request passes through [`session_layer`] first: it looks the cookie up (the
//! database decides for a signed-in session, so a session ended in another request or
//! by the sweep is gone at once), refuses and deletes a session past its idle timeout
//! (`--session-idle`, no request for that long) or its absolute timeout
//! (`--session-lifetime`, counted from the sign-in), and records the activity (in the
//! database at most once a minute). The handlers then read the session from memory.
//!
//! Whenever a session's level rises (a password, a passkey, any second factor, a
//! step-up) it moves to a new id ([`App::elevate`]): the old id stops working at once.
//! The CSRF token is derived from the session id (SHA-256 of a label and the id), so it
//! changes with it; the responses that rotate carry the new token for the page.

use super::db::{err, secs};
use super::*;

/// SHA-256 of a session id: the key the database stores.
pub(crate) fn sid_hash(sid: &str) -> [u8; 32] {
    Sha256::digest(sid.as_bytes()).into()
}

/// The CSRF token of a session: bound to its id, so it rotates with it, and not
/// computable from what the database stores.
pub(crate) fn csrf_of(sid: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"mfa-rs web demo csrf token\0");
    h.update(sid.as_bytes());
    B64.encode(h.finalize())
}

/// A signed-in session as `demo_sessions` holds it.
#[derive(Clone, Debug)]
pub(crate) struct StoredSession {
    pub(crate) username: String,
    pub(crate) stage: String,
    /// mfa-policy's `Session` as JSON.
    pub(crate) session: String,
    pub(crate) created_at: u64,
    pub(crate) last_seen: u64,
}

/// How long a session lives.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct SessionLimits {
    /// Ended after this long without a request.
    pub(crate) idle: Duration,
    /// Ended this long after the sign-in, whatever the activity.
    pub(crate) lifetime: Duration,
}

impl SessionLimits {
    /// 30 minutes idle, 12 hours in all.
    pub(crate) const DEFAULT: Self = Self {
        idle: Duration::from_secs(30 * 60),
        lifetime: Duration::from_secs(12 * 3600),
    };

    /// Whether a session created at `created_at` and last used at `last_seen` is over
    /// at `now`.
    pub(crate) fn expired(self, created_at: u64, last_seen: u64, now: u64) -> bool {
        now >= last_seen.saturating_add(self.idle.as_secs())
            || now >= created_at.saturating_add(self.lifetime.as_secs())
    }

    /// How stale `last_seen` may be in the database: a minute, or a quarter of the idle
    /// timeout when that is shorter.
    fn touch_after(self) -> u64 {
        (self.idle.as_secs() / 4).min(60)
    }
}

/// How often expired sessions are swept from the database and from memory.
const SWEEP_EVERY: Duration = Duration::from_secs(300);

/// Refreshes the caller's session from the database before the handler runs (see the
/// module docs).
pub(crate) async fn session_layer(
    State(app): State<Arc<App>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(sid) = cookie(req.headers(), SESSION_COOKIE)
        && let Err(e) = app.load_session(sid).await
    {
        return e.into_response();
    }
    next.run(req).await
}

impl DemoSession {
    /// The row to store, for a signed-in session.
    fn stored(&self) -> Result<Option<StoredSession>, ApiError> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let session = serde_json::to_string(&self.session)
            .map_err(|_| ApiError(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong."))?;
        Ok(Some(StoredSession {
            username: user.as_str().to_owned(),
            stage: self.stage.as_str().to_owned(),
            session,
            created_at: self.created_at,
            last_seen: self.last_seen,
        }))
    }
}

impl App {
    /// Seconds since the epoch on the sessions' clock.
    pub(crate) fn session_now(&self) -> u64 {
        self.session_clock.now().unix_secs()
    }

    /// Brings the session named by `sid` into memory as the database has it, or drops
    /// it when it is unknown, ended or expired (then the handler sees no session).
    async fn load_session(&self, sid: &str) -> Result<(), ApiError> {
        let key = sid_hash(sid);
        let now = self.session_now();
        let limits = self.session_limits;
        let anonymous = lock(&self.sessions)
            .get(&key)
            .map(|s| (s.user.is_none(), s.created_at, s.last_seen));
        if let Some((true, created, seen)) = anonymous {
            let mut sessions = lock(&self.sessions);
            if limits.expired(created, seen, now) {
                sessions.remove(&key);
            } else if let Some(s) = sessions.get_mut(&key) {
                s.last_seen = now;
            }
            return Ok(());
        }
        // Signed in, or not in memory (a restart): the database decides.
        let stored = self.db.session(key).await?;
        let Some(row) = stored else {
            lock(&self.sessions).remove(&key);
            return Ok(());
        };
        let parsed = Stage::parse(&row.stage).zip(
            serde_json::from_str::<Session>(&row.session)
                .ok()
                .zip(UserId::new(row.username.as_str()).ok()),
        );
        let (stage, (session, user)) = match parsed {
            Some(p) if !limits.expired(row.created_at, row.last_seen, now) => p,
            _ => {
                lock(&self.sessions).remove(&key);
                self.db.delete_session(key).await?;
                return Ok(());
            }
        };
        {
            let mut sessions = lock(&self.sessions);
            let s = match sessions.entry(key) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(DemoSession::new()),
            };
            s.user = Some(user);
            s.stage = stage;
            s.session = session;
            s.created_at = row.created_at;
            s.last_seen = now;
        }
        if now.saturating_sub(row.last_seen) >= limits.touch_after() {
            self.db.touch_session(key, now).await?;
        }
        Ok(())
    }

    /// Raises the session `sid`: applies `f` (a sign-in, a verified factor), then moves
    /// the session to a new id, in the database too, so the old id no longer works.
    /// Returns the new id and its `Set-Cookie`.
    pub(super) async fn elevate(
        &self,
        sid: &str,
        f: impl FnOnce(&mut DemoSession),
    ) -> Result<(String, String), ApiError> {
        const GONE: ApiError = ApiError(StatusCode::UNAUTHORIZED, "Reload the page and try again.");
        let (old, new) = (sid_hash(sid), random_token()?);
        let now = self.session_now();
        let mut next = lock(&self.sessions).get(&old).cloned().ok_or(GONE)?;
        next.last_seen = now;
        let was_anonymous = next.user.is_none();
        f(&mut next);
        if was_anonymous && next.user.is_some() {
            // The absolute timeout counts from the sign-in.
            next.created_at = now;
        }
        let key = sid_hash(&new);
        match next.stored()? {
            Some(row) => self.db.replace_session(old, key, row).await?,
            None => self.db.delete_session(old).await?,
        }
        let moved = {
            let mut sessions = lock(&self.sessions);
            let found = sessions.remove(&old).is_some();
            if found {
                sessions.insert(key, next);
            }
            found
        };
        // Gone meanwhile (signed out, reset by an administrator): stays gone.
        if !moved {
            self.db.delete_session(key).await?;
            return Err(GONE);
        }
        let c = set_cookie(SESSION_COOKIE, &new, None);
        Ok((new, c))
    }

    /// Ends the session `sid` (sign-out).
    pub(super) async fn end_session(&self, sid: &str) -> Result<(), ApiError> {
        let key = sid_hash(sid);
        lock(&self.sessions).remove(&key);
        self.db.delete_session(key).await?;
        Ok(())
    }

    /// Ends every session of `user` (an administrator's reset).
    pub(super) async fn end_sessions_of(&self, user: &UserId) -> Result<(), ApiError> {
        lock(&self.sessions).retain(|_, s| s.user.as_ref() != Some(user));
        self.db.delete_sessions_of(user.as_str()).await?;
        Ok(())
    }

    /// Deletes the expired sessions, in the database and in memory; returns how many
    /// rows went.
    pub(crate) async fn sweep_sessions(&self) -> Result<u64, DbError> {
        let now = self.session_now();
        let limits = self.session_limits;
        lock(&self.sessions).retain(|_, s| !limits.expired(s.created_at, s.last_seen, now));
        self.db
            .purge_sessions(
                now.saturating_sub(limits.idle.as_secs()),
                now.saturating_sub(limits.lifetime.as_secs()),
            )
            .await
    }

    /// Whether `user` is an administrator (`web_demo grant-admin`), never from sign-up.
    pub(super) async fn is_admin(&self, user: &UserId) -> Result<bool, ApiError> {
        Ok(self.db.is_admin(user.as_str()).await?)
    }
}

/// Sweeps expired sessions every few minutes while the app lives.
pub(crate) fn start_sweeper(app: &Arc<App>) {
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP_EVERY).await;
            let Some(app) = app.upgrade() else { return };
            if let Err(e) = app.sweep_sessions().await {
                eprintln!("web_demo: expired sessions were not swept: {e}");
            }
        }
    });
}

// ------------------------------------------------------------------- the tables

impl Db {
    /// The signed-in session whose id hashes to `key`.
    pub(crate) async fn session(&self, key: [u8; 32]) -> Result<Option<StoredSession>, DbError> {
        let raw: Option<(String, String, String, i64, i64)> = match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    use rusqlite::OptionalExtension as _;
                    c.query_row(
                        "SELECT username, stage, session, created_at, last_seen
                         FROM demo_sessions WHERE id_hash = ?1",
                        [&key[..]],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()
                })
                .await?
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .query_opt(
                    "SELECT username, stage, session, created_at, last_seen
                     FROM demo_sessions WHERE id_hash = $1",
                    &[&&key[..]],
                )
                .await
                .map_err(err)?
                .map(|r| {
                    Ok::<_, tokio_postgres::Error>((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                    ))
                })
                .transpose()
                .map_err(err)?,
        };
        Ok(
            raw.map(|(username, stage, session, created, seen)| StoredSession {
                username,
                stage,
                session,
                created_at: u64::try_from(created).unwrap_or(0),
                last_seen: u64::try_from(seen).unwrap_or(0),
            }),
        )
    }

    /// Stores `row` under `new` and deletes `old`, in one transaction.
    pub(crate) async fn replace_session(
        &self,
        old: [u8; 32],
        new: [u8; 32],
        row: StoredSession,
    ) -> Result<(), DbError> {
        const DELETE_SQLITE: &str = "DELETE FROM demo_sessions WHERE id_hash = ?1";
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    let tx =
                        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                    tx.execute(DELETE_SQLITE, [&old[..]])?;
                    tx.execute(
                        "INSERT INTO demo_sessions
                         (id_hash, username, stage, session, created_at, last_seen)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        rusqlite::params![
                            &new[..],
                            row.username,
                            row.stage,
                            row.session,
                            secs(row.created_at),
                            secs(row.last_seen)
                        ],
                    )?;
                    tx.commit()
                })
                .await
            }
            Self::Postgres(p) => {
                let mut client = Self::pg(p).await?;
                let tx = client.transaction().await.map_err(err)?;
                tx.execute("DELETE FROM demo_sessions WHERE id_hash = $1", &[&&old[..]])
                    .await
                    .map_err(err)?;
                tx.execute(
                    "INSERT INTO demo_sessions
                     (id_hash, username, stage, session, created_at, last_seen)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &&new[..],
                        &row.username,
                        &row.stage,
                        &row.session,
                        &secs(row.created_at),
                        &secs(row.last_seen),
                    ],
                )
                .await
                .map_err(err)?;
                tx.commit().await.map_err(err)
            }
        }
    }

    /// Records activity on the session `key`.
    pub(crate) async fn touch_session(&self, key: [u8; 32], now: u64) -> Result<(), DbError> {
        self.exec_session(
            "UPDATE demo_sessions SET last_seen = ?1 WHERE id_hash = ?2",
            "UPDATE demo_sessions SET last_seen = $1 WHERE id_hash = $2",
            Some(secs(now)),
            key.to_vec(),
        )
        .await
        .map(drop)
    }

    /// Deletes the session `key`.
    pub(crate) async fn delete_session(&self, key: [u8; 32]) -> Result<(), DbError> {
        self.exec_session(
            "DELETE FROM demo_sessions WHERE id_hash = ?1",
            "DELETE FROM demo_sessions WHERE id_hash = $1",
            None,
            key.to_vec(),
        )
        .await
        .map(drop)
    }

    /// Deletes every session of `username`.
    pub(crate) async fn delete_sessions_of(&self, username: &str) -> Result<(), DbError> {
        let name = username.to_owned();
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    c.execute("DELETE FROM demo_sessions WHERE username = ?1", [name])
                        .map(drop)
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .execute("DELETE FROM demo_sessions WHERE username = $1", &[&name])
                .await
                .map(drop)
                .map_err(err),
        }
    }

    /// Deletes the sessions last used before `idle_before` or signed in before
    /// `created_before`; returns how many.
    pub(crate) async fn purge_sessions(
        &self,
        idle_before: u64,
        created_before: u64,
    ) -> Result<u64, DbError> {
        let (idle, created) = (secs(idle_before), secs(created_before));
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    c.execute(
                        "DELETE FROM demo_sessions WHERE last_seen <= ?1 OR created_at <= ?2",
                        [idle, created],
                    )
                    .map(|n| u64::try_from(n).unwrap_or(u64::MAX))
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .execute(
                    "DELETE FROM demo_sessions WHERE last_seen <= $1 OR created_at <= $2",
                    &[&idle, &created],
                )
                .await
                .map_err(err),
        }
    }

    /// One statement on `demo_sessions` by id hash, with an optional leading integer.
    async fn exec_session(
        &self,
        sqlite: &'static str,
        postgres: &'static str,
        value: Option<i64>,
        key: Vec<u8>,
    ) -> Result<u64, DbError> {
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    let n = match value {
                        Some(v) => c.execute(sqlite, rusqlite::params![v, key])?,
                        None => c.execute(sqlite, rusqlite::params![key])?,
                    };
                    Ok(u64::try_from(n).unwrap_or(u64::MAX))
                })
                .await
            }
            Self::Postgres(p) => {
                let client = Self::pg(p).await?;
                match value {
                    Some(v) => client.execute(postgres, &[&v, &key]).await,
                    None => client.execute(postgres, &[&key]).await,
                }
                .map_err(err)
            }
        }
    }

    /// Whether `username` is an administrator.
    pub(super) async fn is_admin(&self, username: &str) -> Result<bool, DbError> {
        let name = username.to_owned();
        match self {
            Self::Sqlite(c) => {
                Self::lite(c, move |c| {
                    c.query_row(
                        "SELECT count(*) FROM demo_admins WHERE username = ?1",
                        [name],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| n > 0)
                })
                .await
            }
            Self::Postgres(p) => Self::pg(p)
                .await?
                .query_one(
                    "SELECT count(*) FROM demo_admins WHERE username = $1",
                    &[&name],
                )
                .await
                .map_err(err)?
                .try_get::<_, i64>(0)
                .map(|n| n > 0)
                .map_err(err),
        }
    }

    /// Makes `username` an administrator (`true`) or not (`false`); the command line's
    /// `grant-admin` and `revoke-admin`. Returns whether anything changed.
    pub(crate) async fn set_admin(&self, username: &str, admin: bool) -> Result<bool, DbError> {
        let name = username.to_owned();
        let (lite, pg) = if admin {
            (
                "INSERT INTO demo_admins (username) VALUES (?1) ON CONFLICT (username) DO NOTHING",
                "INSERT INTO demo_admins (username) VALUES ($1) ON CONFLICT (username) DO NOTHING",
            )
        } else {
            (
                "DELETE FROM demo_admins WHERE username = ?1",
                "DELETE FROM demo_admins WHERE username = $1",
            )
        };
        match self {
            Self::Sqlite(c) => Self::lite(c, move |c| c.execute(lite, [name]).map(|n| n > 0)).await,
            Self::Postgres(p) => Self::pg(p)
                .await?
                .execute(pg, &[&name])
                .await
                .map(|n| n > 0)
                .map_err(err),
        }
    }
}
