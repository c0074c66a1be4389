//! Rows of `signing_keys`. The rules (when to rotate, which key signs) live in oauth-core.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::StoreError;
use crate::schema::signing_keys;

/// Advisory lock key serialising key generation and rotation across instances.
const KEYS_LOCK: i64 = 0x7465_7373_6b65_7973;

/// A stored signing key (private part still sealed).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct SigningKeyRow {
    /// Key id published in the JWKS and token headers.
    pub kid: String,
    /// JWS algorithm (`ES256`, `RS256`).
    pub alg: String,
    /// Public JWK as published.
    pub public_jwk: serde_json::Value,
    /// nonce || AES-256-GCM ciphertext || tag of the PKCS#8 DER private key.
    pub private_key_ciphertext: Vec<u8>,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// The key signs from this instant.
    pub activates_at: DateTime<Utc>,
    /// The key stops signing at this instant (a successor takes over).
    pub retires_at: Option<DateTime<Utc>>,
    /// The key leaves the JWKS at this instant.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The part of a row that says whether the cached key set is stale.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct SigningKeyStamp {
    /// Key id.
    pub kid: String,
    /// Activation instant.
    pub activates_at: DateTime<Utc>,
    /// Retirement instant.
    pub retires_at: Option<DateTime<Utc>>,
    /// Expiry instant.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Every key row, oldest activation first.
pub fn list(conn: &mut PgConnection) -> Result<Vec<SigningKeyRow>, StoreError> {
    Ok(signing_keys::table
        .order((signing_keys::activates_at.asc(), signing_keys::kid.asc()))
        .select(SigningKeyRow::as_select())
        .load(conn)?)
}

/// The cheap fingerprint of the table, polled to notice rotations by other instances.
pub fn stamps(conn: &mut PgConnection) -> Result<Vec<SigningKeyStamp>, StoreError> {
    Ok(signing_keys::table
        .order((signing_keys::activates_at.asc(), signing_keys::kid.asc()))
        .select(SigningKeyStamp::as_select())
        .load(conn)?)
}

/// Runs `work` in a transaction holding the key-management advisory lock, so concurrent
/// first starts generate one key set and concurrent rotations do not interleave.
pub fn with_keys_lock<T, E: From<StoreError>>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    crate::tx::transaction(conn, |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(KEYS_LOCK)
            .execute(conn)
            .map_err(StoreError::from)?;
        work(conn)
    })
}

/// Stores a new key.
pub fn insert(conn: &mut PgConnection, row: &SigningKeyRow) -> Result<(), StoreError> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// Schedules the retirement of every not-yet-retired key of `alg` activated before `before`.
pub fn retire(
    conn: &mut PgConnection,
    alg: &str,
    before: DateTime<Utc>,
    retires_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::update(
        signing_keys::table
            .filter(signing_keys::alg.eq(alg))
            .filter(signing_keys::activates_at.lt(before))
            .filter(signing_keys::retires_at.is_null()),
    )
    .set((
        signing_keys::retires_at.eq(retires_at),
        signing_keys::expires_at.eq(expires_at),
    ))
    .execute(conn)?)
}

/// Deletes keys that left the JWKS before `now`.
pub fn delete_expired(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, StoreError> {
    Ok(
        diesel::delete(signing_keys::table.filter(signing_keys::expires_at.lt(now)))
            .execute(conn)?,
    )
}
