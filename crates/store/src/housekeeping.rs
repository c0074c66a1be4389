//! Deleting rows nobody can use any more: ended flows and sessions, expired codes, refresh
//! token families past their absolute lifetime, spent assertion `jti`s, old rate-limit windows.
//!
//! One statement, safe to run from every instance at once (each row is deleted once).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz};

use crate::StoreError;

/// How many rows of each kind were deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, QueryableByName)]
pub struct Purged {
    /// Sign-in flows past their expiry.
    #[diesel(sql_type = BigInt)]
    pub flows: i64,
    /// SSO sessions expired, or ended more than a day ago.
    #[diesel(sql_type = BigInt)]
    pub sessions: i64,
    /// Authorization codes expired more than an hour ago.
    #[diesel(sql_type = BigInt)]
    pub codes: i64,
    /// Refresh tokens whose family has reached its absolute expiry (kept until then, rotated or
    /// not, so that reuse of an old one is still recognised).
    #[diesel(sql_type = BigInt)]
    pub refresh_tokens: i64,
    /// Client assertion `jti`s past the assertion's expiry.
    #[diesel(sql_type = BigInt)]
    pub assertion_jtis: i64,
    /// Rate-limit windows that began more than a day ago (the longest window allowed).
    #[diesel(sql_type = BigInt)]
    pub rate_limits: i64,
    /// Passkey ceremonies past their timeout.
    #[diesel(sql_type = BigInt)]
    pub passkey_ceremonies: i64,
    /// Email codes expired or spent.
    #[diesel(sql_type = BigInt)]
    pub email_challenges: i64,
    /// Sign-in history older than 90 days.
    #[diesel(sql_type = BigInt)]
    pub sign_ins: i64,
    /// Admin page sessions past their expiry.
    #[diesel(sql_type = BigInt)]
    pub admin_sessions: i64,
}

/// Purges what has expired as of `now`.
pub fn purge_expired(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Purged, StoreError> {
    let purged = diesel::sql_query(
        "WITH f AS (DELETE FROM auth_flows WHERE expires_at < $1 RETURNING 1),
              s AS (DELETE FROM sso_sessions
                    WHERE expires_at < $1 OR ended_at < $1 - interval '1 day' RETURNING 1),
              c AS (DELETE FROM authorization_codes
                    WHERE expires_at < $1 - interval '1 hour' RETURNING 1),
              r AS (DELETE FROM refresh_tokens WHERE family_expires_at < $1 RETURNING 1),
              j AS (DELETE FROM client_assertion_jtis WHERE expires_at < $1 RETURNING 1),
              l AS (DELETE FROM rate_limits
                    WHERE window_start < $1 - interval '1 day' RETURNING 1),
              p AS (DELETE FROM passkey_ceremonies WHERE expires_at < $1 RETURNING 1),
              e AS (DELETE FROM email_challenges WHERE expires_at < $1 RETURNING 1),
              h AS (DELETE FROM sign_ins WHERE signed_in_at < $1 - interval '90 days'
                    RETURNING 1),
              a AS (DELETE FROM admin_sessions WHERE expires_at < $1 RETURNING 1)
         SELECT (SELECT count(*) FROM f) AS flows,
                (SELECT count(*) FROM s) AS sessions,
                (SELECT count(*) FROM c) AS codes,
                (SELECT count(*) FROM r) AS refresh_tokens,
                (SELECT count(*) FROM j) AS assertion_jtis,
                (SELECT count(*) FROM l) AS rate_limits,
                (SELECT count(*) FROM p) AS passkey_ceremonies,
                (SELECT count(*) FROM e) AS email_challenges,
                (SELECT count(*) FROM h) AS sign_ins,
                (SELECT count(*) FROM a) AS admin_sessions",
    )
    .bind::<Timestamptz, _>(now)
    .get_result::<Purged>(conn)?;
    Ok(purged)
}
