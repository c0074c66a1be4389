//! The admin page session: a signed cookie (no server-side state, so any instance can serve
//! the next request) and CSRF tokens derived from it.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;

use super::AdminState;
use crate::secrets::ConfigSecrets;

/// Session cookie name.
pub const SESSION_COOKIE: &str = "tessera_admin";
/// Pre-session cookie carrying the login form's CSRF token (double submit).
pub const LOGIN_COOKIE: &str = "tessera_admin_login";
const LIFETIME_SECS: i64 = 8 * 3600;

fn mac(state: &AdminState, message: &str) -> String {
    ConfigSecrets::mac(&state.session_key, message.as_bytes())
        .map(|m| URL_SAFE_NO_PAD.encode(m))
        .unwrap_or_default()
}

fn eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && !a.is_empty() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
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

/// The session of this request, if its cookie is valid and unexpired.
pub fn current(state: &AdminState, req: &HttpRequest) -> Option<Session> {
    let value = req.cookie(SESSION_COOKIE)?.value().to_owned();
    let (payload, sig) = value.rsplit_once('.')?;
    if !eq(&mac(state, payload), sig) {
        return None;
    }
    let (expiry, user) = payload.split_once('.')?;
    if expiry.parse::<i64>().ok()? < Utc::now().timestamp() {
        return None;
    }
    let username = String::from_utf8(URL_SAFE_NO_PAD.decode(user).ok()?).ok()?;
    Some(Session { username, value })
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

/// A fresh session cookie for `username`.
pub fn start(state: &AdminState, username: &str) -> Cookie<'static> {
    let payload = format!(
        "{}.{}",
        Utc::now().timestamp() + LIFETIME_SECS,
        URL_SAFE_NO_PAD.encode(username)
    );
    let signature = mac(state, &payload);
    cookie(
        state,
        SESSION_COOKIE,
        format!("{payload}.{signature}"),
        LIFETIME_SECS,
    )
}

/// A cookie that removes `name`.
pub fn clear(state: &AdminState, name: &'static str) -> Cookie<'static> {
    cookie(state, name, String::new(), 0)
}

/// The login form's token: reuses the pre-session cookie or makes a new one.
pub fn login_token(state: &AdminState, req: &HttpRequest) -> (String, Option<Cookie<'static>>) {
    if let Some(existing) = req.cookie(LOGIN_COOKIE)
        && existing.value().len() >= 32
    {
        return (existing.value().to_owned(), None);
    }
    let mut bytes = [0u8; 24];
    let _ = openssl::rand::rand_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    (
        token.clone(),
        Some(cookie(state, LOGIN_COOKIE, token, 3600)),
    )
}

/// True when the submitted login token matches the pre-session cookie.
pub fn check_login_token(req: &HttpRequest, submitted: &str) -> bool {
    req.cookie(LOGIN_COOKIE)
        .is_some_and(|c| eq(c.value(), submitted))
}
