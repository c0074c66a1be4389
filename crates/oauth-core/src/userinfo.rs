//! `GET|POST /oauth/userinfo` (OIDC Core §5.3) with RFC 6750 bearer-token errors.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::state::OAuthState;

/// An RFC 6750 §3 error answer.
fn bearer_error(status: StatusCode, error: Option<&str>, description: &str) -> HttpResponse {
    let challenge = match error {
        Some(error) => format!(
            "Bearer realm=\"tessera\", error=\"{error}\", error_description=\"{description}\""
        ),
        None => "Bearer realm=\"tessera\"".to_owned(),
    };
    HttpResponse::build(status)
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn presented_token(req: &HttpRequest, body: &[u8]) -> Result<Option<String>, HttpResponse> {
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").map(|t| t.trim().to_owned()));
    let from_body = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned());
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(bearer_error(
            StatusCode::BAD_REQUEST,
            Some("invalid_request"),
            "Send the token once, in the Authorization header.",
        )),
        (token, None) | (None, token) => Ok(token),
    }
}

/// The userinfo endpoint.
pub async fn userinfo(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let token = match presented_token(&req, &body) {
        Ok(Some(token)) => token,
        Ok(None) => return bearer_error(StatusCode::UNAUTHORIZED, None, ""),
        Err(response) => return response,
    };
    let invalid = || {
        bearer_error(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "The access token is invalid or expired.",
        )
    };
    let Some(token) = crate::access_token::verify(&state.keys, &state.issuer, &token, Utc::now())
    else {
        return invalid();
    };
    let scopes = token.scopes;
    if !scopes.iter().any(|s| s == "openid") {
        return bearer_error(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "The token was not issued for openid.",
        );
    }
    let Some(subject) = token.subject else {
        return invalid();
    };
    let lookup = subject.clone();
    let account = match state
        .store
        .run(move |conn| tessera_store::accounts::by_subject(conn, &lookup))
        .await
    {
        Ok(Some(account)) if account.disabled_at.is_none() => account,
        // Deleted or disabled: its tokens no longer speak for it.
        Ok(_) => return invalid(),
        Err(_) => return HttpResponse::ServiceUnavailable().finish(),
    };
    // Which claims the granted scopes release: the token profile's scope definitions, else
    // the standard ones (OpenID Connect Core §5.4).
    let released: Vec<String> = state
        .config
        .load()
        .config
        .claims_for(&scopes)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut out = Map::new();
    out.insert("sub".into(), json!(subject));
    for claim in &released {
        if let Some(value) = account_claim(&account, claim) {
            out.insert(claim.clone(), value);
        }
    }
    if released.iter().any(|c| c == "groups") {
        let id = account.account_id;
        match state
            .store
            .run(move |conn| tessera_store::groups::names_of(conn, id))
            .await
        {
            Ok(groups) => {
                out.insert("groups".into(), json!(groups));
            }
            Err(_) => return HttpResponse::ServiceUnavailable().finish(),
        }
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Value::Object(out))
}

/// The value of one claim from the account, if it has one.
fn account_claim(account: &tessera_store::accounts::AccountRow, claim: &str) -> Option<Value> {
    let attribute = |name: &str| account.attributes.get(name).cloned();
    match claim {
        "preferred_username" => Some(json!(account.username)),
        "email" => account.email.as_ref().map(|e| json!(e)),
        "email_verified" => account
            .email
            .as_ref()
            .map(|_| attribute("email_verified").unwrap_or(json!(false))),
        "phone_number" => account.phone.as_ref().map(|p| json!(p)),
        "name" => attribute("name").or_else(|| {
            match (attribute("given_name"), attribute("family_name")) {
                (Some(Value::String(g)), Some(Value::String(f))) => Some(json!(format!("{g} {f}"))),
                _ => None,
            }
        }),
        // Resolved from the account's groups, not its attributes.
        "groups" => None,
        other => attribute(other),
    }
}
