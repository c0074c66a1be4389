//! Rows of `refresh_tokens`. Rotation is one statement: the presented token is marked rotated
//! and its successor inserted only if it was live, so of any number of concurrent uses exactly
//! one gets a successor.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Interval, Timestamptz};
use uuid::Uuid;

use crate::StoreError;
use crate::schema::refresh_tokens;

/// A refresh token row.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct RefreshRow {
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    /// Rotation family.
    pub family_id: Uuid,
    /// Client.
    pub client_id: String,
    /// Account.
    pub account_id: Uuid,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Authentication time.
    pub auth_time: DateTime<Utc>,
    /// Methods.
    pub amr: Vec<String>,
    /// Level.
    pub acr: Option<String>,
    /// SSO session.
    pub sid: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Idle expiry.
    pub expires_at: DateTime<Utc>,
    /// Absolute expiry of the family.
    pub family_expires_at: DateTime<Utc>,
    /// Replaced by a successor at.
    pub rotated_at: Option<DateTime<Utc>>,
    /// Revoked at.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The `sub` the family's tokens carry (set since the family began).
    pub subject: Option<String>,
}

/// Stores the first token of a family.
pub fn insert(conn: &mut PgConnection, row: &RefreshRow) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Rotates the live token `old_hash` into `new_hash` (idle lifetime `idle`, capped by the
/// family's absolute expiry) in one statement; `None` when the token was not live.
pub fn rotate(
    conn: &mut PgConnection,
    old_hash: &[u8],
    new_hash: &[u8],
    idle: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<Option<RefreshRow>, StoreError> {
    let idle = diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(idle.as_micros()).unwrap_or(i64::MAX),
    );
    let row = crate::statement::statement(
        "WITH old AS (
            UPDATE refresh_tokens SET rotated_at = $3
            WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL
              AND expires_at > $3 AND family_expires_at > $3
            RETURNING *
         )
         INSERT INTO refresh_tokens (token_hash, family_id, client_id, account_id, scopes,
                                     auth_time, amr, acr, sid, created_at, expires_at, family_expires_at,
                                     subject)
         SELECT $2, family_id, client_id, account_id, scopes, auth_time, amr, acr, sid, $3,
                LEAST($3 + $4, family_expires_at), family_expires_at, subject
         FROM old
         RETURNING *",
    )
    .bind::<Bytea, _>(old_hash)
    .bind::<Bytea, _>(new_hash)
    .bind::<Timestamptz, _>(now)
    .bind::<Interval, _>(idle)
    .get_result::<RefreshRow>(conn)
    .optional()?;
    Ok(row)
}

/// The family of a token that exists but was not live (rotated, revoked or expired).
pub fn family_of(conn: &mut PgConnection, hash: &[u8]) -> Result<Option<(Uuid, bool)>, StoreError> {
    Ok(refresh_tokens::table
        .find(hash)
        .select((
            refresh_tokens::family_id,
            refresh_tokens::rotated_at.is_not_null(),
        ))
        .first(conn)
        .optional()?)
}

/// Revokes every token of a family.
pub fn revoke_family(
    conn: &mut PgConnection,
    family: Uuid,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)?)
}

/// A token by hash, whatever its state.
pub fn by_hash(conn: &mut PgConnection, hash: &[u8]) -> Result<Option<RefreshRow>, StoreError> {
    Ok(refresh_tokens::table
        .find(hash)
        .select(RefreshRow::as_select())
        .first(conn)
        .optional()?)
}
