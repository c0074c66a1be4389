//! Admin page sessions: one row per signed-in browser, keyed by a digest of its cookie secret.

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::StoreError;
use crate::schema::admin_sessions::dsl;

/// Records a session.
pub fn insert(
    conn: &mut PgConnection,
    session_hash: &[u8],
    username: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::insert_into(dsl::admin_sessions)
        .values((
            dsl::session_hash.eq(session_hash),
            dsl::username.eq(username),
            dsl::created_at.eq(now),
            dsl::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// The username of the live session with `session_hash`.
pub fn live(
    conn: &mut PgConnection,
    session_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    Ok(dsl::admin_sessions
        .filter(dsl::session_hash.eq(session_hash))
        .filter(dsl::expires_at.gt(now))
        .select(dsl::username)
        .first::<String>(conn)
        .optional()?)
}

/// Ends one session.
pub fn delete(conn: &mut PgConnection, session_hash: &[u8]) -> Result<(), StoreError> {
    diesel::delete(dsl::admin_sessions.filter(dsl::session_hash.eq(session_hash))).execute(conn)?;
    Ok(())
}

/// Ends every admin session; returns how many there were.
pub fn delete_all(conn: &mut PgConnection) -> Result<usize, StoreError> {
    Ok(diesel::delete(dsl::admin_sessions).execute(conn)?)
}
