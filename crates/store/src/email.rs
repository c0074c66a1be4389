//! Rows of `email_challenges`: one-time codes sent by email, stored as hashes. Sending and
//! checking are one statement each.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Int4, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
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
    /// What a right answer proves: an account's address, a sign-up's address, or nothing
    /// (an unknown username: nothing is sent and no answer can match).
    pub proves: Proves,
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// SHA-256 of the emailed link's token, in link mode.
    pub link_hash: Option<Vec<u8>>,
    /// Wrong tries allowed.
    pub max_attempts: i32,
    /// Sent at.
    pub now: DateTime<Utc>,
    /// Valid until.
    pub expires_at: DateTime<Utc>,
}

/// What a right code proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proves {
    /// That the user reads this account's mail.
    Account(Uuid),
    /// That the user reads the address of this sign-up (which has no account yet).
    SignUp(serde_json::Value),
    /// Nothing: the code was "sent" for an unknown username, so the flow looks the same, but
    /// nothing was mailed and no answer matches.
    Nothing,
}

impl Proves {
    fn columns(&self) -> (Option<Uuid>, Option<&serde_json::Value>) {
        match self {
            Proves::Account(id) => (Some(*id), None),
            Proves::SignUp(sign_up) => (None, Some(sign_up)),
            Proves::Nothing => (None, None),
        }
    }
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
    let (account_id, sign_up) = challenge.proves.columns();
    let sends = statement(
        "INSERT INTO email_challenges AS c (flow_id, purpose, account_id, code_hash,
                                            max_attempts, created_at, expires_at, sign_up,
                                            link_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $9, $10)
         ON CONFLICT (flow_id, purpose) DO UPDATE SET
            account_id = EXCLUDED.account_id, code_hash = EXCLUDED.code_hash, attempts = 0,
            sign_up = EXCLUDED.sign_up, link_hash = EXCLUDED.link_hash,
            max_attempts = EXCLUDED.max_attempts, sends = c.sends + 1,
            created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
         WHERE c.sends < $8
         RETURNING c.sends",
    )
    .bind::<SqlUuid, _>(challenge.flow_id)
    .bind::<Text, _>(&challenge.purpose)
    .bind::<Nullable<SqlUuid>, _>(account_id)
    .bind::<Bytea, _>(&challenge.code_hash)
    .bind::<Int4, _>(challenge.max_attempts)
    .bind::<Timestamptz, _>(challenge.now)
    .bind::<Timestamptz, _>(challenge.expires_at)
    .bind::<Int4, _>(max_sends)
    .bind::<Nullable<Jsonb>, _>(sign_up)
    .bind::<Nullable<Bytea>, _>(challenge.link_hash.as_deref())
    .get_result::<Sends>(conn)
    .optional()?;
    Ok(sends.map(|s| s.sends))
}

/// The outcome of typing a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Right code: what it proves (the code is now spent).
    Matched(Proves),
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
        #[diesel(sql_type = Nullable<Jsonb>)]
        sign_up: Option<serde_json::Value>,
        #[diesel(sql_type = Bool)]
        matched: bool,
        #[diesel(sql_type = Int4)]
        remaining: i32,
    }
    let row = statement(
        "UPDATE email_challenges SET
            attempts = attempts + 1,
            -- Spent for good: a concurrent try with an earlier clock must not match it again.
            expires_at = CASE WHEN code_hash = $4 THEN '-infinity' ELSE expires_at END
         WHERE flow_id = $1 AND purpose = $2 AND expires_at > $3 AND attempts < max_attempts
         RETURNING account_id, sign_up, code_hash = $4 AS matched, max_attempts - attempts AS remaining",
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
        }) => Attempt::Matched(Proves::Account(account_id)),
        Some(Row {
            sign_up: Some(sign_up),
            matched: true,
            ..
        }) => Attempt::Matched(Proves::SignUp(sign_up)),
        Some(Row { remaining, .. }) if remaining > 0 => Attempt::Wrong { remaining },
        Some(_) => Attempt::Wrong { remaining: 0 },
    })
}

/// The flow and purpose an emailed link belongs to, while it is live. Looking it up spends
/// nothing: the link's page redeems it through [`attempt`] with the code it stands for.
pub fn link_flow(
    conn: &mut PgConnection,
    link_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, String)>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = SqlUuid)]
        flow_id: Uuid,
        #[diesel(sql_type = Text)]
        purpose: String,
    }
    let row = statement(
        "SELECT flow_id, purpose FROM email_challenges
         WHERE link_hash = $1 AND expires_at > $2 AND attempts < max_attempts",
    )
    .bind::<Bytea, _>(link_hash)
    .bind::<Timestamptz, _>(now)
    .get_result::<Row>(conn)
    .optional()?;
    Ok(row.map(|r| (r.flow_id, r.purpose)))
}

/// The account a flow's challenge of `purpose` is for, if it is for one (unknown usernames
/// and sign-ups have none).
pub fn challenge_account(
    conn: &mut PgConnection,
    flow_id: Uuid,
    purpose: &str,
) -> Result<Option<Uuid>, StoreError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Nullable<SqlUuid>)]
        account_id: Option<Uuid>,
    }
    let row =
        statement("SELECT account_id FROM email_challenges WHERE flow_id = $1 AND purpose = $2")
            .bind::<SqlUuid, _>(flow_id)
            .bind::<Text, _>(purpose)
            .get_result::<Row>(conn)
            .optional()?;
    Ok(row.and_then(|r| r.account_id))
}
