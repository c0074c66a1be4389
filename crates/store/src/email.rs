//! Rows of `email_challenges`: one-time codes sent by email, stored as hashes. Sending and
//! checking are one statement each.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::StoreError;
use crate::statement::statement;

/// A code about to be sent.
#[derive(Debug, Clone)]
pub struct NewChallenge {
    /// The sign-in flow it belongs to.
    pub flow_id: Uuid,
    /// What it proves (e.g. `passkey-registration`).
    pub purpose: String,
    /// Whose address it goes to; `None` for an unknown username (nothing is sent).
    pub account_id: Option<Uuid>,
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// Wrong tries allowed.
    pub max_attempts: i32,
    /// Sent at.
    pub now: DateTime<Utc>,
    /// Valid until.
    pub expires_at: DateTime<Utc>,
}

/// Stores a code for the flow, replacing (and so invalidating) the previous one, unless the
/// flow already had `max_sends` codes; returns how many this flow has had, or `None` when it
/// has had too many (nothing was stored).
pub fn replace(
    conn: &mut PgConnection,
    challenge: &NewChallenge,
    max_sends: i32,
) -> Result<Option<i32>, StoreError> {
    #[derive(QueryableByName)]
    struct Sends {
        #[diesel(sql_type = Int4)]
        sends: i32,
    }
    let sends = statement(
        "INSERT INTO email_challenges AS c (flow_id, purpose, account_id, code_hash,
                                            max_attempts, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (flow_id, purpose) DO UPDATE SET
            account_id = EXCLUDED.account_id, code_hash = EXCLUDED.code_hash, attempts = 0,
            max_attempts = EXCLUDED.max_attempts, sends = c.sends + 1,
            created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         WHERE c.sends < $8
         RETURNING c.sends",
    )
    .bind::<SqlUuid, _>(challenge.flow_id)
    .bind::<Text, _>(&challenge.purpose)
    .bind::<Nullable<SqlUuid>, _>(challenge.account_id)
    .bind::<Bytea, _>(&challenge.code_hash)
    .bind::<Int4, _>(challenge.max_attempts)
    .bind::<Timestamptz, _>(challenge.now)
    .bind::<Timestamptz, _>(challenge.expires_at)
    .bind::<Int4, _>(max_sends)
    .get_result::<Sends>(conn)
    .optional()?;
    Ok(sends.map(|s| s.sends))
}

/// The outcome of typing a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Right code: the account it proves (the code is now spent).
    Matched(Uuid),
    /// Wrong code; this many tries remain.
    Wrong {
        /// Tries left.
        remaining: i32,
    },
    /// No live code for the flow (never sent, expired, spent or out of tries).
    NoCode,
}

/// Checks a typed code in one statement: counts the try, and spends the code when it matches.
pub fn attempt(
    conn: &mut PgConnection,
    flow_id: Uuid,
    purpose: &str,
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Attempt, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<SqlUuid>)]
        account_id: Option<Uuid>,
        #[diesel(sql_type = Bool)]
        matched: bool,
        #[diesel(sql_type = Int4)]
        remaining: i32,
    }
    let row = statement(
        "UPDATE email_challenges SET
            attempts = attempts + 1,
            expires_at = CASE WHEN code_hash = $4 THEN $3 ELSE expires_at END
         WHERE flow_id = $1 AND purpose = $2 AND expires_at > $3 AND attempts < max_attempts
         RETURNING account_id, code_hash = $4 AS matched, max_attempts - attempts AS remaining",
    )
    .bind::<SqlUuid, _>(flow_id)
    .bind::<Text, _>(purpose)
    .bind::<Timestamptz, _>(now)
    .bind::<Bytea, _>(code_hash)
    .get_result::<Row>(conn)
    .optional()?;
    Ok(match row {
        None => Attempt::NoCode,
        Some(Row {
            account_id: Some(account_id),
            matched: true,
            ..
        }) => Attempt::Matched(account_id),
        Some(Row { remaining, .. }) if remaining > 0 => Attempt::Wrong { remaining },
        Some(_) => Attempt::Wrong { remaining: 0 },
    })
}
