//! The cookies of a browser: `tessera_browser` (a random id that binds sign-in flows to the
//! browser that started them) and `tessera_sso` (the single sign-on session secret). Both are
//! `HttpOnly` and `SameSite=Lax` — the browser arrives from the relying party by a top-level
//! redirect, which Lax allows — and `Secure` when the issuer is https.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

/// Browser binding cookie.
pub const BROWSER: &str = "tessera_browser";
/// SSO session cookie.
pub const SESSION: &str = "tessera_sso";
/// The username typed last on an identifier-first page, to pre-fill it next time.
pub const USERNAME: &str = "tessera_username";
/// Proof that a username signed in with this browser before (a MAC of the browser id and the
/// username): its attempts do not count in the account-wide limit (`limits`).
pub const KNOWN_DEVICE: &str = "tessera_known";

fn build(name: &'static str, value: String, max_age: Duration, secure: bool) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .finish()
}

/// The browser id, and a cookie to set when the browser had none.
pub fn browser(
    req: &HttpRequest,
    secure: bool,
) -> Result<(String, Option<Cookie<'static>>), tessera_admin::crypto::RandomnessError> {
    if let Some(existing) = req.cookie(BROWSER).filter(|c| c.value().len() >= 40) {
        return Ok((existing.value().to_owned(), None));
    }
    let secret = tessera_admin::crypto::random_token()?;
    let cookie = build(BROWSER, secret.clone(), Duration::days(365), secure);
    Ok((secret, Some(cookie)))
}

/// The SSO session secret, if the browser has one.
pub fn session(req: &HttpRequest) -> Option<String> {
    req.cookie(SESSION).map(|c| c.value().to_owned())
}

/// The cookie that carries a new SSO session.
pub fn session_cookie(secret: String, secure: bool) -> Cookie<'static> {
    build(
        SESSION,
        secret,
        Duration::seconds(crate::flow::SESSION_LIFETIME.num_seconds()),
        secure,
    )
}

/// The remembered username, if any (percent-encoded in the cookie).
pub fn remembered_username(req: &HttpRequest) -> Option<String> {
    let cookie = req.cookie(USERNAME)?;
    percent_encoding::percent_decode_str(cookie.value())
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
        .filter(|s| !s.is_empty() && s.chars().count() <= 256)
}

/// The cookie that remembers a username for 30 days.
pub fn username_cookie(username: &str, secure: bool) -> Cookie<'static> {
    let value = percent_encoding::utf8_percent_encode(username, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    build(USERNAME, value, Duration::days(30), secure)
}

/// A cookie that removes the SSO session from the browser.
pub fn clear_session(secure: bool) -> Cookie<'static> {
    build(SESSION, String::new(), Duration::ZERO, secure)
}

/// The cookie that marks this browser as one its user signed in with, for a year.
pub fn known_device_cookie(proof: String, secure: bool) -> Cookie<'static> {
    build(KNOWN_DEVICE, proof, Duration::days(365), secure)
}
