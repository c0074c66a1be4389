//! Rows of `auth_flows` and `sso_sessions`: sign-ins in progress and single sign-on sessions
//! (the codes they turn into are in [`crate::codes`]). Each consuming operation is one
//! statement, so that under any concurrency exactly one caller wins.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::{auth_flows, sso_sessions};

/// A new sign-in flow.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = auth_flows)]
pub struct NewFlow {
    /// Id (in the login URL).
    pub flow_id: Uuid,
    /// SHA-256 of the browser cookie the flow is bound to.
    pub browser_hash: Vec<u8>,
    /// The authentication policy (authn's business).
    pub policy: serde_json::Value,
    /// Where to send the browser when done.
    pub return_to: String,
    /// The caller's data (oauth-core's authorization request).
    pub payload: serde_json::Value,
    /// The flow is abandoned after this.
    pub expires_at: DateTime<Utc>,
}

/// A flow as read back.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = auth_flows)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct FlowRow {
    /// Id.
    pub flow_id: Uuid,
    /// Browser binding.
    pub browser_hash: Vec<u8>,
    /// Policy.
    pub policy: serde_json::Value,
    /// Return address.
    pub return_to: String,
    /// Caller's data.
    pub payload: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Authenticated account, once done.
    pub account_id: Option<Uuid>,
    /// Methods used.
    pub amr: Option<Vec<String>>,
    /// Level.
    pub acr: Option<String>,
    /// When the user authenticated.
    pub auth_time: Option<DateTime<Utc>>,
    /// The SSO session id.
    pub sid: Option<String>,
    /// When the caller took the result.
    pub consumed_at: Option<DateTime<Utc>>,
}

/// The bounds on opening flows, checked in the statement that opens one.
#[derive(Debug, Clone)]
pub struct FlowBounds {
    /// The rate-limit bucket of the client's address (`None` when it is unknown).
    pub address_bucket: Option<String>,
    /// Flows one address may open per window.
    pub per_address: u32,
    /// The address bucket's window.
    pub window: std::time::Duration,
    /// Unfinished flows one browser keeps; opening another drops its oldest.
    pub per_browser: u32,
}

/// What opening a flow came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowOpened {
    /// Stored.
    Opened,
    /// The address has opened its share this window; nothing was stored.
    AddressBusy {
        /// When the address's window began.
        window_start: DateTime<Utc>,
    },
}

/// Opens a flow, in one statement that counts it against the client address (refusing it,
/// and storing nothing, past `bounds.per_address` in the window) and drops the browser's
/// oldest unfinished flows beyond `bounds.per_browser`, so neither an address nor a browser
/// can fill the table.
pub fn open_flow(
    conn: &mut PgConnection,
    flow: &NewFlow,
    bounds: &FlowBounds,
    now: DateTime<Utc>,
) -> Result<FlowOpened, StoreError> {
    use diesel::sql_types::{Bool, Bytea, Int4, Int8, Jsonb, Nullable, Text, Timestamptz};
    #[derive(QueryableByName)]
    struct Outcome {
        #[diesel(sql_type = Bool)]
        opened: bool,
        #[diesel(sql_type = Nullable<Timestamptz>)]
        window_start: Option<DateTime<Utc>>,
    }
    let cutoff = crate::rate_limits::window_cutoff(now, bounds.window);
    let outcome = crate::statement::statement(
        "WITH hit AS (
            INSERT INTO rate_limits AS r (bucket, window_start, hits)
            SELECT $7, $8, 1 WHERE $7 IS NOT NULL
            ON CONFLICT (bucket) DO UPDATE SET
               window_start = CASE WHEN r.window_start <= $9 THEN EXCLUDED.window_start
                                   ELSE r.window_start END,
               hits = CASE WHEN r.window_start <= $9 THEN 1 ELSE r.hits + 1 END
            RETURNING r.hits, r.window_start
         ), allowed AS (
            SELECT NOT EXISTS (SELECT 1 FROM hit WHERE hits > $10) AS ok
         ), dropped AS (
            DELETE FROM auth_flows WHERE flow_id IN (
               SELECT flow_id FROM auth_flows
               WHERE browser_hash = $2 AND account_id IS NULL AND consumed_at IS NULL
               ORDER BY created_at DESC OFFSET $11)
            AND (SELECT ok FROM allowed)
         ), opened AS (
            INSERT INTO auth_flows (flow_id, browser_hash, policy, return_to, payload,
                                    created_at, expires_at)
            SELECT $1, $2, $3, $4, $5, $8, $6 WHERE (SELECT ok FROM allowed)
            RETURNING 1
         )
         SELECT EXISTS (SELECT 1 FROM opened) AS opened,
                (SELECT window_start FROM hit) AS window_start",
    )
    .bind::<diesel::sql_types::Uuid, _>(flow.flow_id)
    .bind::<Bytea, _>(&flow.browser_hash)
    .bind::<Jsonb, _>(&flow.policy)
    .bind::<Text, _>(&flow.return_to)
    .bind::<Jsonb, _>(&flow.payload)
    .bind::<Timestamptz, _>(flow.expires_at)
    .bind::<Nullable<Text>, _>(&bounds.address_bucket)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(cutoff)
    .bind::<Int4, _>(i32::try_from(bounds.per_address).unwrap_or(i32::MAX))
    // The new flow is one of the browser's share, so the older ones keep one place fewer.
    .bind::<Int8, _>(i64::from(bounds.per_browser.saturating_sub(1)))
    .get_result::<Outcome>(conn)?;
    Ok(if outcome.opened {
        FlowOpened::Opened
    } else {
        FlowOpened::AddressBusy {
            window_start: outcome.window_start.unwrap_or(now),
        }
    })
}

/// An unexpired, unconsumed flow.
pub fn flow(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<FlowRow>, StoreError> {
    Ok(auth_flows::table
        .find(id)
        .filter(auth_flows::expires_at.gt(now))
        .filter(auth_flows::consumed_at.is_null())
        .select(FlowRow::as_select())
        .first(conn)
        .optional()?)
}

/// Records the result on an open flow and starts its SSO session, in one statement (the session
/// exists only if the flow was still open), which also appends the sign-in to the account's
/// history and, for a sign-in with a passkey, keeps the passkey's new counter, backup state
/// and last use (whether or not the flow was still open: the authenticator has moved its
/// counter either way). Returns the flow's `return_to`, or `None` if the flow is gone, expired
/// or consumed, or the account was disabled meanwhile.
pub fn complete_flow_with_session(
    conn: &mut PgConnection,
    id: Uuid,
    session: &SessionRow,
    passkey: Option<(Uuid, &crate::passkeys::DeviceUse)>,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    use diesel::sql_types::{
        Array, Bool, Bytea, Int8, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
    };
    #[derive(QueryableByName)]
    struct ReturnTo {
        #[diesel(sql_type = Text)]
        return_to: String,
    }
    let (device_id, usage) = passkey.unzip();
    let row = crate::statement::statement(
        "WITH flow AS (
            UPDATE auth_flows SET account_id = $2, amr = $3, acr = $4, auth_time = $5, sid = $6
            WHERE flow_id = $1 AND expires_at > $9 AND consumed_at IS NULL
              AND account_id IS NULL
              AND EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = $2
                                                     AND a.disabled_at IS NULL)
            RETURNING return_to, policy ->> 'client_id' AS client_id
         ), session AS (
            INSERT INTO sso_sessions (session_hash, sid, account_id, amr, acr, auth_time,
                                      created_at, expires_at)
            SELECT $7, $6, $2, $3, $4, $5, $9, $8 FROM flow
         ), history AS (
            INSERT INTO sign_ins (account_id, signed_in_at, amr, acr, client_id)
            SELECT $2, $5, $3, $4, client_id FROM flow
         ), used AS (
            UPDATE devices SET credential = $11, sign_count = $12, backup_eligible = $13,
                               backup_state = $14, last_used_at = $9
            WHERE device_id = $10
         )
         SELECT return_to FROM flow",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<SqlUuid, _>(session.account_id)
    .bind::<Array<Text>, _>(&session.amr)
    .bind::<Nullable<Text>, _>(&session.acr)
    .bind::<Timestamptz, _>(session.auth_time)
    .bind::<Text, _>(&session.sid)
    .bind::<Bytea, _>(&session.session_hash)
    .bind::<Timestamptz, _>(session.expires_at)
    .bind::<Timestamptz, _>(now)
    // A sign-in without a passkey updates no device (`device_id = NULL` matches nothing).
    .bind::<Nullable<SqlUuid>, _>(device_id)
    .bind::<Nullable<Jsonb>, _>(usage.map(|u| &u.credential))
    .bind::<Nullable<Int8>, _>(usage.map(|u| u.sign_count))
    .bind::<Nullable<Bool>, _>(usage.map(|u| u.backup_eligible))
    .bind::<Nullable<Bool>, _>(usage.map(|u| u.backup_state))
    .get_result::<ReturnTo>(conn)
    .optional()?;
    Ok(row.map(|r| r.return_to))
}

/// Takes a completed flow's result, once: the flow must be authenticated, unexpired, not yet
/// consumed and bound to `browser_hash`.
pub fn consume_flow(
    conn: &mut PgConnection,
    id: Uuid,
    browser_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<FlowRow>, StoreError> {
    Ok(diesel::update(
        auth_flows::table
            .find(id)
            .filter(auth_flows::browser_hash.eq(browser_hash))
            .filter(auth_flows::expires_at.gt(now))
            .filter(auth_flows::consumed_at.is_null())
            .filter(auth_flows::account_id.is_not_null()),
    )
    .set(auth_flows::consumed_at.eq(now))
    .returning(FlowRow::as_returning())
    .get_result(conn)
    .optional()?)
}

/// An SSO session.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sso_sessions)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct SessionRow {
    /// SHA-256 of the cookie secret.
    pub session_hash: Vec<u8>,
    /// Public session id (`sid` claim).
    pub sid: String,
    /// Account.
    pub account_id: Uuid,
    /// Methods used.
    pub amr: Vec<String>,
    /// Level.
    pub acr: Option<String>,
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Ended by logout.
    pub ended_at: Option<DateTime<Utc>>,
}

/// A live session by cookie hash.
pub fn session(
    conn: &mut PgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<SessionRow>, StoreError> {
    Ok(sso_sessions::table
        .find(hash)
        .filter(sso_sessions::expires_at.gt(now))
        .filter(sso_sessions::ended_at.is_null())
        .select(SessionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Ends an SSO session (logout); true if a live one was ended.
pub fn end_session(
    conn: &mut PgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        sso_sessions::table
            .find(hash)
            .filter(sso_sessions::ended_at.is_null()),
    )
    .set(sso_sessions::ended_at.eq(now))
    .execute(conn)?
        == 1)
}

/// A past sign-in, for the account page.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = crate::schema::sign_ins)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct SignInRow {
    /// When.
    pub signed_in_at: DateTime<Utc>,
    /// RFC 8176 methods.
    pub amr: Vec<String>,
    /// The authenticator (`urn:tessera:authenticator:<id>`).
    pub acr: Option<String>,
    /// The OAuth client it was for.
    pub client_id: Option<String>,
}

/// An account's most recent sign-ins, newest first.
pub fn recent_sign_ins(
    conn: &mut PgConnection,
    account_id: Uuid,
    limit: i64,
) -> Result<Vec<SignInRow>, StoreError> {
    use crate::schema::sign_ins;
    Ok(sign_ins::table
        .filter(sign_ins::account_id.eq(account_id))
        .order(sign_ins::signed_in_at.desc())
        .limit(limit)
        .select(SignInRow::as_select())
        .load(conn)?)
}

/// What [`sign_out_everywhere`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedOut {
    /// SSO sessions ended.
    pub sessions: usize,
    /// Refresh tokens revoked (every live token of every family).
    pub refresh_tokens: usize,
}

/// Ends every SSO session of `account_id` but `keep` (the caller's own, if any) and revokes
/// every refresh token issued to it, in one transaction: after a recovery or on the user's
/// request, nothing signed in before keeps working.
pub fn sign_out_everywhere(
    conn: &mut PgConnection,
    account_id: Uuid,
    keep: Option<&[u8]>,
    now: DateTime<Utc>,
) -> Result<SignedOut, StoreError> {
    use crate::schema::refresh_tokens;
    crate::tx::transaction(conn, |conn| {
        let sessions = sso_sessions::table
            .filter(sso_sessions::account_id.eq(account_id))
            .filter(sso_sessions::ended_at.is_null());
        let sessions = match keep {
            Some(hash) => diesel::update(sessions.filter(sso_sessions::session_hash.ne(hash)))
                .set(sso_sessions::ended_at.eq(now))
                .execute(conn)?,
            None => diesel::update(sessions)
                .set(sso_sessions::ended_at.eq(now))
                .execute(conn)?,
        };
        let refresh_tokens = diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::account_id.eq(account_id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
        Ok::<_, StoreError>(SignedOut {
            sessions,
            refresh_tokens,
        })
    })
}

/// An account's live SSO sessions, newest first.
pub fn live_sessions(
    conn: &mut PgConnection,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionRow>, StoreError> {
    Ok(sso_sessions::table
        .filter(sso_sessions::account_id.eq(account_id))
        .filter(sso_sessions::expires_at.gt(now))
        .filter(sso_sessions::ended_at.is_null())
        .order(sso_sessions::created_at.desc())
        .select(SessionRow::as_select())
        .load(conn)?)
}
