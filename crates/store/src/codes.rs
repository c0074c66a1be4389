//! Rows of `authorization_codes`: single-use, short-lived codes stored as SHA-256. Redeeming
//! one is a single statement that also starts the refresh token family, so exactly one of any
//! number of concurrent redemptions wins; a replay revokes what the first one issued.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::authorization_codes;

/// An authorization code to store.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = authorization_codes)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CodeRow {
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// Client it was issued to.
    pub client_id: String,
    /// Redirect URI of the request.
    pub redirect_uri: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Account.
    pub account_id: Uuid,
    /// Authentication time.
    pub auth_time: DateTime<Utc>,
    /// Methods.
    pub amr: Vec<String>,
    /// Level.
    pub acr: Option<String>,
    /// SSO session id.
    pub sid: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Redeemed at.
    pub consumed_at: Option<DateTime<Utc>>,
    /// The refresh-token family its redemption started.
    pub token_family: Option<Uuid>,
    /// The `sub` its tokens carry (set when it is stored).
    pub subject: Option<String>,
}

/// Stores a code with the `sub` its tokens will carry: the account's legacy subject when it
/// has one and `legacy_allowed` (the client sees public subjects), `subject` otherwise. The
/// same statement remembers which account that `sub` stands for, so that redeeming the code
/// later is a single statement.
pub fn insert_code(
    conn: &mut PgConnection,
    code: &CodeRow,
    subject: &str,
    legacy_allowed: bool,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Array, Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
    crate::statement::statement(
        "WITH chosen AS (
            SELECT coalesce((SELECT legacy_subject FROM accounts
                             WHERE account_id = $2 AND $15), $1) AS subject
         ), remembered AS (
            INSERT INTO account_subjects (subject, account_id)
            SELECT subject, $2 FROM chosen
            ON CONFLICT DO NOTHING
         )
         INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge,
                                          nonce, scopes, account_id, auth_time, amr, acr, sid,
                                          created_at, expires_at, subject)
         VALUES ($3, $4, $5, $6, $7, $8, $2, $9, $10, $11, $12, $13, $14,
                 (SELECT subject FROM chosen))",
    )
    .bind::<Text, _>(subject)
    .bind::<SqlUuid, _>(code.account_id)
    .bind::<Bytea, _>(&code.code_hash)
    .bind::<Text, _>(&code.client_id)
    .bind::<Text, _>(&code.redirect_uri)
    .bind::<Nullable<Text>, _>(&code.code_challenge)
    .bind::<Nullable<Text>, _>(&code.nonce)
    .bind::<Array<Text>, _>(&code.scopes)
    .bind::<Timestamptz, _>(code.auth_time)
    .bind::<Array<Text>, _>(&code.amr)
    .bind::<Nullable<Text>, _>(&code.acr)
    .bind::<Nullable<Text>, _>(&code.sid)
    .bind::<Timestamptz, _>(code.created_at)
    .bind::<Timestamptz, _>(code.expires_at)
    .bind::<Bool, _>(legacy_allowed)
    .execute(conn)?;
    Ok(())
}

/// The first refresh token of the family a code's redemption starts.
#[derive(Debug, Clone)]
pub struct FirstRefresh {
    /// SHA-256 of the token handed to the client.
    pub token_hash: Vec<u8>,
    /// The new family.
    pub family_id: Uuid,
    /// Idle lifetime of each token.
    pub idle: std::time::Duration,
    /// Absolute lifetime of the family.
    pub absolute: std::time::Duration,
}

fn interval(d: std::time::Duration) -> diesel::data_types::PgInterval {
    diesel::data_types::PgInterval::from_microseconds(
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
    )
}

/// Redeems a code in one statement: exactly one concurrent caller gets it. With `first`, the
/// same statement records the family on the code and stores the family's first refresh token
/// (copied from the code's authentication), so a code exchange is one round trip.
pub fn redeem_code(
    conn: &mut PgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
    first: Option<&FirstRefresh>,
) -> Result<Option<CodeRow>, StoreError> {
    use diesel::sql_types::{Bytea, Interval, Nullable, Timestamptz, Uuid as SqlUuid};
    Ok(crate::statement::statement(
        "WITH code AS (
            UPDATE authorization_codes SET consumed_at = $2, token_family = $3
            WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2
            RETURNING *
         ), first_refresh AS (
            INSERT INTO refresh_tokens (token_hash, family_id, client_id, account_id, scopes,
                                        auth_time, amr, acr, sid, created_at, expires_at,
                                        family_expires_at, subject)
            SELECT $4, $3, client_id, account_id, scopes, auth_time, amr, acr, sid, $2,
                   LEAST($2 + $5, $2 + $6), $2 + $6, subject
            FROM code WHERE $4 IS NOT NULL
         )
         SELECT * FROM code",
    )
    .bind::<Bytea, _>(hash)
    .bind::<Timestamptz, _>(now)
    .bind::<Nullable<SqlUuid>, _>(first.map(|f| f.family_id))
    .bind::<Nullable<Bytea>, _>(first.map(|f| f.token_hash.as_slice()))
    .bind::<Interval, _>(interval(
        first.map_or(std::time::Duration::ZERO, |f| f.idle),
    ))
    .bind::<Interval, _>(interval(
        first.map_or(std::time::Duration::ZERO, |f| f.absolute),
    ))
    .get_result::<CodeRow>(conn)
    .optional()?)
}

/// After a failed redemption: if the code exists and was already redeemed, revoke the
/// refresh tokens its first redemption produced (RFC 6749 §4.1.2, RFC 9700 §4.14). Returns true
/// when the code was a replay.
pub fn revoke_after_code_replay(
    conn: &mut PgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let family: Option<Option<Uuid>> = authorization_codes::table
        .find(hash)
        .filter(authorization_codes::consumed_at.is_not_null())
        .select(authorization_codes::token_family)
        .first(conn)
        .optional()?;
    match family {
        Some(Some(family)) => {
            crate::refresh::revoke_family(conn, family, now)?;
            Ok(true)
        }
        Some(None) => Ok(true),
        None => Ok(false),
    }
}
