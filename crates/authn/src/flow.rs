//! Sign-in flows: a caller (oauth-core, the admin UI, …) asks for an authentication under a
//! policy and gets the browser back at `return_to` with a flow id whose result it takes once.
//! Flows live in PostgreSQL (any instance can continue one) and are bound to the browser that
//! started them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tessera_admin::Snapshot;
use tessera_admin::config::model::AuthenticatorKind;
use tessera_store::passkeys::DeviceUse;
use tessera_store::signin::{self, FlowBounds, FlowOpened, NewFlow, SessionRow};
use tessera_store::{PgConn, Store};
use uuid::Uuid;

/// How long a sign-in may take: long enough to fetch an email code (5 minutes by default),
/// short enough that abandoned flows leave quickly.
pub const FLOW_LIFETIME: Duration = Duration::minutes(10);
/// Sign-ins one client address may start per [`FLOW_WINDOW`] by default: a busy office behind
/// one address starts a few a minute; a script filling the table, thousands.
pub const FLOWS_PER_ADDRESS: u32 = 1000;
/// The window of the sign-ins an address may start.
pub const FLOW_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Unfinished sign-ins one browser keeps (a few tabs); starting another drops the oldest.
pub const FLOWS_PER_BROWSER: u32 = 8;
/// How long an SSO session lasts.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// What the caller requires of the authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Policy {
    /// Authenticator ids that may be used; empty means all.
    pub allowed: Vec<String>,
    /// A configured client whose `allowed-authenticators` apply instead of `allowed`. They are
    /// read from the configuration at every step, so an admin commit applies to the next step
    /// of flows already under way.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The authentication must be at most this old (seconds).
    pub max_age: Option<u64>,
    /// Authenticate afresh even with a session.
    pub force: bool,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// Shown on the page ("Sign in to …").
    pub audience_name: Option<String>,
}

/// A completed authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    /// The account.
    pub account_id: Uuid,
    /// RFC 8176 methods (`pwd`, `otp`, `hwk`, `swk`, `user`, `mfa`).
    pub amr: Vec<String>,
    /// Which authenticator (`urn:tessera:authenticator:<id>`).
    pub acr: Option<String>,
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// The SSO session.
    pub sid: String,
}

/// The ACR value naming an authenticator.
pub fn acr_for(authenticator_id: &str) -> String {
    format!("urn:tessera:authenticator:{authenticator_id}")
}

fn authenticator_of(acr: Option<&str>) -> Option<&str> {
    acr?.strip_prefix("urn:tessera:authenticator:")
}

/// SHA-256 of a cookie secret: what the database keeps.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    tessera_admin::crypto::sha256(secret.as_bytes()).to_vec()
}

/// True when the authenticator `id` may be used under `policy` (and exists).
pub fn allows(policy: &Policy, snapshot: &Snapshot, id: &str) -> bool {
    let allowed = match &policy.client_id {
        Some(client_id) => match snapshot.client(client_id) {
            Some(client) => &client.allowed_authenticators,
            None => return false, // the client was deleted meanwhile
        },
        None => &policy.allowed,
    };
    snapshot.config.authenticator(id).is_some()
        && (allowed.is_empty() || allowed.iter().any(|a| a == id))
}

/// The html-form authenticators the policy allows, in configuration order.
pub fn password_authenticators<'a>(policy: &Policy, snapshot: &'a Snapshot) -> Vec<&'a str> {
    snapshot
        .config
        .authenticators
        .iter()
        .filter(|a| matches!(a.kind, AuthenticatorKind::HtmlForm(_)))
        .filter(|a| allows(policy, snapshot, &a.id))
        .map(|a| a.id.as_str())
        .collect()
}

/// The identifier-first `username` authenticator the policy allows, if any: the sign-in then
/// starts with the username alone.
pub fn username_authenticator<'a>(
    policy: &Policy,
    snapshot: &'a Snapshot,
) -> Option<&'a tessera_admin::config::model::Username> {
    snapshot
        .config
        .authenticators
        .iter()
        .filter(|a| allows(policy, snapshot, &a.id))
        .find_map(|a| match &a.kind {
            AuthenticatorKind::Username(u) => Some(u),
            _ => None,
        })
}

/// The passkeys authenticators the policy allows, in configuration order.
pub fn passkey_authenticators<'a>(
    policy: &Policy,
    snapshot: &'a Snapshot,
) -> Vec<(
    &'a str,
    &'a tessera_admin::config::model::Passkeys,
    Option<&'a str>,
)> {
    snapshot
        .config
        .authenticators
        .iter()
        .filter(|a| allows(policy, snapshot, &a.id))
        .filter_map(|a| match &a.kind {
            AuthenticatorKind::Passkeys(p) => {
                Some((a.id.as_str(), p, a.required_for_registration.as_deref()))
            }
            _ => None,
        })
        .collect()
}

/// Does an existing authentication satisfy `policy` at `now`?
pub fn satisfies(
    auth: &Authentication,
    policy: &Policy,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> bool {
    if policy.force {
        return false;
    }
    if let Some(max_age) = policy.max_age
        && (now - auth.auth_time).num_seconds() > i64::try_from(max_age).unwrap_or(i64::MAX)
    {
        return false;
    }
    authenticator_of(auth.acr.as_deref()).is_some_and(|id| allows(policy, snapshot, id))
}

fn from_session(row: SessionRow) -> Authentication {
    Authentication {
        account_id: row.account_id,
        amr: row.amr,
        acr: row.acr,
        auth_time: row.auth_time,
        sid: row.sid,
    }
}

/// What asking for a new flow came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// The flow's id.
    Flow(Uuid),
    /// The client's address has started [`FLOWS_PER_ADDRESS`] sign-ins this window.
    TooMany {
        /// When it may start another.
        retry_after: std::time::Duration,
    },
}

/// Starts a flow for the browser behind `browser_secret` at `address`, which may start
/// `per_address` of them per [`FLOW_WINDOW`]. `return_to` gets the flow id appended.
pub async fn start(
    store: &Store,
    policy: &Policy,
    return_to: String,
    payload: serde_json::Value,
    (browser_secret, address): (&str, Option<std::net::IpAddr>),
    per_address: u32,
    now: DateTime<Utc>,
) -> Result<Started, tessera_store::StoreError> {
    let flow_id = Uuid::new_v4();
    let flow = NewFlow {
        flow_id,
        browser_hash: secret_hash(browser_secret),
        policy: serde_json::to_value(policy)?,
        return_to: format!("{return_to}{flow_id}"),
        payload,
        expires_at: now + FLOW_LIFETIME,
    };
    let bounds = FlowBounds {
        address_bucket: crate::limits::flow_bucket(address),
        per_address,
        window: FLOW_WINDOW,
        per_browser: FLOWS_PER_BROWSER,
    };
    let opened = store
        .run(move |conn| signin::open_flow(conn, &flow, &bounds, now))
        .await?;
    Ok(match opened {
        FlowOpened::Opened => Started::Flow(flow_id),
        FlowOpened::AddressBusy { window_start } => Started::TooMany {
            retry_after: FLOW_WINDOW
                .saturating_sub((now - window_start).to_std().unwrap_or_default()),
        },
    })
}

/// The live SSO session behind a cookie secret.
pub async fn session(
    store: &Store,
    session_secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<Authentication>, tessera_store::StoreError> {
    let hash = secret_hash(session_secret);
    Ok(store
        .run(move |conn| signin::session(conn, &hash, now))
        .await?
        .map(from_session))
}

/// Takes the result of a completed flow once, from the browser that started it.
pub async fn take(
    store: &Store,
    flow_id: Uuid,
    browser_secret: &str,
    now: DateTime<Utc>,
) -> Result<Option<(serde_json::Value, Authentication)>, tessera_store::StoreError> {
    let hash = secret_hash(browser_secret);
    let row = store
        .run(move |conn| signin::consume_flow(conn, flow_id, &hash, now))
        .await?;
    Ok(row.and_then(|row| {
        Some((
            row.payload,
            Authentication {
                account_id: row.account_id?,
                amr: row.amr.unwrap_or_default(),
                acr: row.acr,
                auth_time: row.auth_time?,
                sid: row.sid?,
            },
        ))
    }))
}

/// The random values a new SSO session is made of, drawn before it is recorded (so that
/// recording it, on a database thread, cannot fail for want of randomness).
pub struct NewSession {
    /// The cookie's secret (the database keeps its SHA-256).
    secret: String,
    /// The public session id (`sid`).
    sid: String,
}

impl NewSession {
    /// Draws a session's secret and id.
    pub fn draw() -> Result<Self, tessera_admin::crypto::RandomnessError> {
        Ok(NewSession {
            secret: tessera_admin::crypto::random_token()?,
            sid: tessera_admin::crypto::random_token()?,
        })
    }
}

/// Records a successful authentication: the new SSO `session` and the flow's result, in one
/// statement. Returns the session's cookie secret and where the browser goes next, or `None`
/// when the flow expired or was used meanwhile (then no session exists either).
pub async fn complete(
    store: &Store,
    flow_id: Uuid,
    signed_in: (Uuid, Option<(Uuid, DeviceUse)>),
    (amr, acr): (Vec<String>, String),
    session: NewSession,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>, tessera_store::StoreError> {
    store
        .run(move |conn| complete_in(conn, flow_id, signed_in, (amr, acr), session, now))
        .await
}

/// [`complete`] on a connection the caller holds (a passkey sign-in completes its flow in the
/// task that verified the answer).
pub fn complete_in(
    conn: &mut PgConn,
    flow_id: Uuid,
    (account_id, passkey): (Uuid, Option<(Uuid, DeviceUse)>),
    (amr, acr): (Vec<String>, String),
    session: NewSession,
    now: DateTime<Utc>,
) -> Result<Option<(String, String)>, tessera_store::StoreError> {
    let row = SessionRow {
        session_hash: secret_hash(&session.secret),
        sid: session.sid,
        account_id,
        amr,
        acr: Some(acr),
        auth_time: now,
        created_at: now,
        expires_at: now + SESSION_LIFETIME,
        ended_at: None,
    };
    let passkey = passkey
        .as_ref()
        .map(|(device_id, usage)| (*device_id, usage));
    let return_to = signin::complete_flow_with_session(conn, flow_id, &row, passkey, now)?;
    Ok(return_to.map(|to| (session.secret, to)))
}

/// Ends the SSO session behind a cookie secret (logout).
pub async fn end_session(
    store: &Store,
    session_secret: &str,
    now: DateTime<Utc>,
) -> Result<bool, tessera_store::StoreError> {
    let hash = secret_hash(session_secret);
    store
        .run(move |conn| signin::end_session(conn, &hash, now))
        .await
}
