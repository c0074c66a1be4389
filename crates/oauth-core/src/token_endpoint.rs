//! `POST /oauth/token` (RFC 6749 §3.2). Today it serves the client credentials grant; the
//! authorization code and refresh grants arrive with the sign-in flow.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Serialize;
use tessera_admin::config::model::Client;

use crate::access_token::{self, AccessTokenClaims};
use crate::client_auth::{self, AuthMethod};
use crate::http::OAuthState;
use crate::params::Params;
use crate::token_error::{TokenError, TokenErrorCode};

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
}

fn no_store(body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// The token endpoint.
pub async fn token(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, TokenError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type.split(';').next().is_some_and(|t| {
        t.trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
    }) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    let params = Params::parse(&body)?;
    let snapshot = state.config.load();
    let grant_type = params.require("grant_type")?;
    let (client, method) = client_auth::authenticate(&req, &params, &snapshot, &state.secrets)?;
    match grant_type {
        "client_credentials" => client_credentials(&state, &snapshot, client, method, &params),
        "authorization_code" | "refresh_token" => Err(TokenError::new(
            TokenErrorCode::UnsupportedGrantType,
            format!("The {grant_type} grant is not available yet on this server."),
        )),
        other => Err(TokenError::new(
            TokenErrorCode::UnsupportedGrantType,
            format!("Grant type {other:?} is not supported."),
        )),
    }
}

/// Requested scopes, each of which the client must be allowed; none requested means all of
/// the client's scopes.
fn granted_scopes(client: &Client, params: &Params) -> Result<Vec<String>, TokenError> {
    match params.get("scope") {
        None => Ok(client.scopes.clone()),
        Some(requested) => {
            let mut scopes: Vec<String> = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !client.scopes.iter().any(|s| s == scope) {
                    return Err(TokenError::new(
                        TokenErrorCode::InvalidScope,
                        format!("Scope {scope:?} is not allowed for this client."),
                    ));
                }
                if !scopes.iter().any(|s| s == scope) {
                    scopes.push(scope.to_owned());
                }
            }
            Ok(scopes)
        }
    }
}

fn client_credentials(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
    method: AuthMethod,
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if method == AuthMethod::None || !client.capabilities.client_credentials {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "This client may not use the client_credentials grant.",
        ));
    }
    let scopes = granted_scopes(client, params)?;
    let issued = access_token::issue(
        &state.keys,
        &state.issuer,
        snapshot,
        &AccessTokenClaims {
            subject: &client.id,
            client,
            scopes: &scopes,
        },
        Utc::now(),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "cannot sign an access token");
        TokenError::new(
            TokenErrorCode::ServerError,
            "The token could not be issued.",
        )
    })?;
    Ok(no_store(&TokenResponse {
        access_token: &issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
    }))
}
