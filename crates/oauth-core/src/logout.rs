//! RP-Initiated Logout 1.0: `GET|POST /oauth/logout` ends the SSO session and, when the
//! relying party proves who it is (`id_token_hint` or `client_id`) and names a registered
//! `post_logout_redirect_uri`, sends the browser back there with `state`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use tessera_authn::flow;
use tessera_authn::http::cookies;

use crate::http::OAuthState;
use crate::params::Params;

fn page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head><body><main><h1>{title}</h1><p role=\"status\">{message}</p></main></body></html>"
        ))
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
    let hinted = match params.get("id_token_hint") {
        Some(hint) => match state.keys.verify(hint, now) {
            Ok((_, claims)) if claims.issuer() == Some(state.issuer.as_str()) => claims
                .audience()
                .and_then(|aud| aud.first().map(|a| (*a).to_owned())),
            _ => {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Sign-out request not valid",
                    "The id_token_hint was not issued by this server.",
                );
            }
        },
        None => None,
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
    if let Some(secret) = cookies::session(&req)
        && let Err(e) = flow::end_session(&state.store, &secret, now).await
    {
        tracing::warn!(error = %e, "cannot end the SSO session");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "Signing out is temporarily unavailable.",
        );
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
