//! Rows of `auth_flows`, `sso_sessions` and `authorization_codes`: sign-ins in progress, single
//! sign-on sessions, and the codes they turn into. Each consuming operation is one statement,
//! so that under any concurrency exactly one caller wins.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::{auth_flows, authorization_codes, sso_sessions};

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

/// Starts a flow.
pub fn insert_flow(conn: &mut PgConnection, flow: &NewFlow) -> Result<(), StoreError> {
    diesel::insert_into(auth_flows::table)
        .values(flow)
        .execute(conn)?;
    Ok(())
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

/// The result of an authentication.
#[derive(Debug, Clone)]
pub struct FlowResult<'a> {
    /// Account.
    pub account_id: Uuid,
    /// Methods.
    pub amr: &'a [String],
    /// Level.
    pub acr: Option<&'a str>,
    /// When.
    pub auth_time: DateTime<Utc>,
    /// SSO session id.
    pub sid: &'a str,
}

/// Records the result on an open flow; false if the flow is gone, expired or consumed.
pub fn complete_flow(
    conn: &mut PgConnection,
    id: Uuid,
    result: &FlowResult<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let updated = diesel::update(
        auth_flows::table
            .find(id)
            .filter(auth_flows::expires_at.gt(now))
            .filter(auth_flows::consumed_at.is_null()),
    )
    .set((
        auth_flows::account_id.eq(result.account_id),
        auth_flows::amr.eq(result.amr),
        auth_flows::acr.eq(result.acr),
        auth_flows::auth_time.eq(result.auth_time),
        auth_flows::sid.eq(result.sid),
    ))
    .execute(conn)?;
    Ok(updated == 1)
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

/// Stores a session.
pub fn insert_session(conn: &mut PgConnection, session: &SessionRow) -> Result<(), StoreError> {
    diesel::insert_into(sso_sessions::table)
        .values(session)
        .execute(conn)?;
    Ok(())
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

/// An authorization code to store.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
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
}

/// Stores a code.
pub fn insert_code(conn: &mut PgConnection, code: &CodeRow) -> Result<(), StoreError> {
    diesel::insert_into(authorization_codes::table)
        .values(code)
        .execute(conn)?;
    Ok(())
}

/// Redeems a code in one statement: exactly one concurrent caller gets it.
pub fn redeem_code(
    conn: &mut PgConnection,
    hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<CodeRow>, StoreError> {
    Ok(diesel::update(
        authorization_codes::table
            .find(hash)
            .filter(authorization_codes::consumed_at.is_null())
            .filter(authorization_codes::expires_at.gt(now)),
    )
    .set(authorization_codes::consumed_at.eq(now))
    .returning(CodeRow::as_returning())
    .get_result(conn)
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

/// Records the refresh-token family a redeemed code started.
pub fn set_code_family(
    conn: &mut PgConnection,
    hash: &[u8],
    family: Uuid,
) -> Result<(), StoreError> {
    diesel::update(authorization_codes::table.find(hash))
        .set(authorization_codes::token_family.eq(family))
        .execute(conn)?;
    Ok(())
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
