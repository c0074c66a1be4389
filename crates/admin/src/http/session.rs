//! The admin page session: a random secret in an `HttpOnly`, `SameSite=Strict` cookie and a
//! row in PostgreSQL (any instance can serve the next request), so that signing out ends the
//! session on the server — a copied cookie stops working — and "sign out everywhere" ends them
//! all. CSRF tokens are derived from the cookie.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;

use super::AdminState;
use crate::crypto;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "tessera_admin";
/// Pre-session cookie carrying the login form's CSRF token (double submit).
pub const LOGIN_COOKIE: &str = "tessera_admin_login";
const LIFETIME_SECS: i64 = 8 * 3600;

fn mac(state: &AdminState, message: &str) -> String {
    URL_SAFE_NO_PAD.encode(crypto::hmac_sha256(&state.session_key, message.as_bytes()))
}

fn eq(expected: &str, presented: &str) -> bool {
    crypto::same(expected.as_bytes(), presented.as_bytes())
}

/// A signed-in admin.
pub struct Session {
    /// Who.
    pub username: String,
    /// The cookie value (CSRF tokens are bound to it).
    value: String,
}

impl Session {
    /// The CSRF token forms must carry.
    pub fn csrf(&self, state: &AdminState) -> String {
        mac(state, &format!("csrf:{}", self.value))
    }

    /// Checks a submitted CSRF token.
    pub fn check_csrf(&self, state: &AdminState, submitted: &str) -> bool {
        eq(&self.csrf(state), submitted)
    }
}

/// What the database keys a session by: a MAC of the cookie's secret under the session key,
/// which is bound to the configured credentials (changing them ends every session).
fn session_hash(state: &AdminState, value: &str) -> Vec<u8> {
    crypto::hmac_sha256(&state.session_key, format!("session:{value}").as_bytes()).to_vec()
}

/// The session of this request, if its cookie names a live one. `None` also when the database
/// cannot say: the admin pages then ask to sign in again rather than fail open.
pub async fn current(state: &AdminState, req: &HttpRequest) -> Option<Session> {
    let value = req.cookie(SESSION_COOKIE)?.value().to_owned();
    if value.len() < 32 {
        return None;
    }
    let hash = session_hash(state, &value);
    let now = Utc::now();
    let username = state
        .store
        .run(move |conn| tessera_store::admin_sessions::live(conn, &hash, now))
        .await
        .ok()??;
    Some(Session { username, value })
}

/// Ends `session` on the server.
pub async fn end(state: &AdminState, session: &Session) -> Result<(), tessera_store::StoreError> {
    let hash = session_hash(state, &session.value);
    state
        .store
        .run(move |conn| tessera_store::admin_sessions::delete(conn, &hash))
        .await
}

/// Ends every admin session, this one included; returns how many there were.
pub async fn end_all(state: &AdminState) -> Result<usize, tessera_store::StoreError> {
    state
        .store
        .run(|conn| tessera_store::admin_sessions::delete_all(conn))
        .await
}

fn cookie(state: &AdminState, name: &'static str, value: String, max_age: i64) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/admin")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// Starts a session for `username`; returns its cookie, or `None` (logged) when it could not
/// be recorded.
pub async fn start(state: &AdminState, username: &str) -> Option<Cookie<'static>> {
    let value = match crypto::random_token() {
        Ok(value) => value,
        Err(e) => {
            tracing::error!(error = %e, "no randomness for an admin session");
            return None;
        }
    };
    let hash = session_hash(state, &value);
    let now = Utc::now();
    let expires_at = now + chrono::Duration::seconds(LIFETIME_SECS);
    let username = username.to_owned();
    let recorded = state
        .store
        .run(move |conn| {
            tessera_store::admin_sessions::insert(conn, &hash, &username, now, expires_at)
        })
        .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "cannot record an admin session");
        return None;
    }
    Some(cookie(state, SESSION_COOKIE, value, LIFETIME_SECS))
}

/// A cookie that removes `name`.
pub fn clear(state: &AdminState, name: &'static str) -> Cookie<'static> {
    cookie(state, name, String::new(), 0)
}

/// The login form's token: reuses the pre-session cookie or makes a new one.
pub fn login_token(
    state: &AdminState,
    req: &HttpRequest,
) -> Result<(String, Option<Cookie<'static>>), crypto::RandomnessError> {
    if let Some(existing) = req.cookie(LOGIN_COOKIE)
        && existing.value().len() >= 32
    {
        return Ok((existing.value().to_owned(), None));
    }
    let token = crypto::random_token()?;
    Ok((
        token.clone(),
        Some(cookie(state, LOGIN_COOKIE, token, 3600)),
    ))
}

/// True when the submitted login token matches the pre-session cookie.
pub fn check_login_token(req: &HttpRequest, submitted: &str) -> bool {
    req.cookie(LOGIN_COOKIE)
        .is_some_and(|c| eq(c.value(), submitted))
}
