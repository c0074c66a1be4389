//! RP-Initiated Logout 1.0: `GET|POST /oauth/logout` ends the SSO session and, when the
//! relying party proves who it is (`id_token_hint` or `client_id`) and names a registered
//! `post_logout_redirect_uri`, sends the browser back there with `state`.
//!
//! A request that does not carry an ID token of the very session it would end (its `sid`) may
//! have been sent by any page the user visited: the user is asked first (§2, "the OP SHOULD
//! ask the End-User whether to log out"), with a form bound to the session by a CSRF token.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use tessera_authn::flow;
use tessera_authn::http::cookies;

use crate::params::Params;
use crate::state::OAuthState;

fn page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    crate::html::message(status, title, message, crate::html::Tone::Status)
}

/// The logout endpoint.
pub async fn logout(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let raw: &[u8] = if req.method() == actix_web::http::Method::POST {
        &body
    } else {
        req.query_string().as_bytes()
    };
    let Ok(params) = Params::parse(raw) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Sign-out request not valid",
            "The request repeats or oversizes a parameter.",
        );
    };
    let now = Utc::now();
    // Which client is asking: from the ID token it was given (even an expired one), or named.
    // The token's `sid` says which session it was issued in.
    let (hinted, hinted_sid) = match params.get("id_token_hint") {
        Some(hint) => match state.keys.verify(hint, now) {
            Ok((_, claims)) if claims.issuer() == Some(state.issuer.as_str()) => (
                claims
                    .audience()
                    .and_then(|aud| aud.first().map(|a| (*a).to_owned())),
                claims
                    .claim("sid")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            ),
            _ => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Sign-out request not valid",
                    "The id_token_hint was not issued by this server.",
                );
            }
        },
        None => (None, None),
    };
    let client_id = match (hinted, params.get("client_id")) {
        (Some(h), Some(c)) if h != c => {
            return page(
                StatusCode::BAD_REQUEST,
                "Sign-out request not valid",
                "client_id does not match the id_token_hint.",
            );
        }
        (Some(h), _) => Some(h),
        (None, c) => c.map(str::to_owned),
    };
    let snapshot = state.config.load();
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let registered = client_id
                .as_deref()
                .and_then(|id| snapshot.client(id))
                .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
            if !registered {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Sign-out request not valid",
                    "The address to return to after signing out is not registered for this application.",
                );
            }
            Some(uri.to_owned())
        }
    };
    let session = match cookies::session(&req) {
        Some(secret) => match flow::session(&state.store, &secret, now).await {
            Ok(live) => live.map(|auth| (secret, auth.sid)),
            Err(e) => return unavailable(&e),
        },
        None => None,
    };
    if let Some((secret, sid)) = &session {
        let from_this_session = hinted_sid.as_deref() == Some(sid.as_str());
        let confirmed = req.method() == actix_web::http::Method::POST
            && params.get("confirm") == Some("yes")
            && params
                .get("csrf")
                .is_some_and(|csrf| csrf_matches(&state, sid, csrf));
        if !from_this_session && !confirmed {
            return confirmation_page(&state, sid, &params);
        }
        if let Err(e) = flow::end_session(&state.store, secret, now).await {
            return unavailable(&e);
        }
    }
    let mut response = match redirect {
        Some(uri) => {
            let location = match params.get("state") {
                Some(s) => {
                    let mut q = url::form_urlencoded::Serializer::new(String::new());
                    q.append_pair("state", s);
                    format!(
                        "{uri}{}{}",
                        if uri.contains('?') { '&' } else { '?' },
                        q.finish()
                    )
                }
                None => uri,
            };
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish()
        }
        None => page(
            StatusCode::OK,
            "You are signed out",
            "You can close this window.",
        ),
    };
    let _ = response.add_cookie(&cookies::clear_session(state.secure_cookies));
    response
}

fn unavailable(e: &impl std::fmt::Display) -> HttpResponse {
    tracing::warn!(error = %e, "cannot end the SSO session");
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "Signing out is temporarily unavailable.",
    )
}

/// The CSRF token of the confirmation form: a MAC of the session's public id, so a page that
/// does not know the session cannot forge the confirmation.
fn csrf_token(state: &OAuthState, sid: &str) -> Option<String> {
    let key = state.secrets.subkey("tessera/logout-csrf/v1").ok()?;
    let mac = tessera_admin::crypto::hmac_sha256(&key, sid.as_bytes());
    Some(mac.iter().map(|b| format!("{b:02x}")).collect())
}

fn csrf_matches(state: &OAuthState, sid: &str, presented: &str) -> bool {
    csrf_token(state, sid).is_some_and(|expected| {
        tessera_admin::crypto::same(expected.as_bytes(), presented.as_bytes())
    })
}

/// "Sign out?": a form posting the request back with `confirm=yes` and the CSRF token.
fn confirmation_page(state: &OAuthState, sid: &str, params: &Params) -> HttpResponse {
    let Some(csrf) = csrf_token(state, sid) else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "Signing out is temporarily unavailable.",
        );
    };
    let mut hidden = format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">"
    );
    for name in [
        "id_token_hint",
        "client_id",
        "post_logout_redirect_uri",
        "state",
    ] {
        if let Some(value) = params.get(name) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                crate::html::escape(value)
            ));
        }
    }
    let action = crate::html::escape(&state.issuer.endpoint(crate::discovery::paths::LOGOUT));
    crate::html::page(
        StatusCode::OK,
        "Sign out?",
        &format!(
            "<p>Do you want to sign out? You will need to sign in again to use your applications.</p><form method=\"post\" action=\"{action}\">{hidden}<button type=\"submit\">Sign out</button></form>"
        ),
    )
}
