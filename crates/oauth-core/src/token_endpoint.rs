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
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
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
        "authorization_code" => authorization_code(&state, &snapshot, client, &params).await,
        "refresh_token" => Err(TokenError::new(
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
            authentication: None,
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
        id_token: None,
    }))
}

fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidGrant, description)
}

fn server_error(e: impl std::fmt::Display) -> TokenError {
    tracing::error!(error = %e, "cannot complete a token request");
    TokenError::new(
        TokenErrorCode::ServerError,
        "The token could not be issued.",
    )
}

/// The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): the code is redeemed in one
/// statement — exactly one of any number of concurrent redemptions succeeds.
async fn authorization_code(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if !client.capabilities.code {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "This client may not use the authorization_code grant.",
        ));
    }
    let code = params.require("code")?;
    let hash = tessera_authn::flow::secret_hash(code);
    let now = Utc::now();
    let row = state
        .store
        .run(move |conn| tessera_store::signin::redeem_code(conn, &hash, now))
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                TokenError::new(TokenErrorCode::TemporarilyUnavailable, "Try again shortly.")
            } else {
                server_error(e)
            }
        })?
        .ok_or_else(|| invalid_grant("The code is invalid, expired or already used."))?;
    if row.client_id != client.id {
        return Err(invalid_grant("The code was issued to another client."));
    }
    if params.get("redirect_uri") != Some(row.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request.",
        ));
    }
    match (&row.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !crate::authorize::verify_s256(verifier, challenge) {
                return Err(invalid_grant(
                    "code_verifier does not match the code_challenge.",
                ));
            }
        }
        (Some(_), None) => return Err(invalid_grant("code_verifier is missing.")),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "The authorization request had no code_challenge.",
            ));
        }
        (None, None) => {}
    }
    let subject = state.subjects.for_client(row.account_id, client);
    let issued = access_token::issue(
        &state.keys,
        &state.issuer,
        snapshot,
        &AccessTokenClaims {
            subject: &subject,
            client,
            scopes: &row.scopes,
            authentication: Some(access_token::UserAuthentication {
                auth_time: row.auth_time,
                acr: row.acr.as_deref(),
                amr: &row.amr,
            }),
        },
        now,
    )
    .map_err(server_error)?;
    let id_token = if row.scopes.iter().any(|s| s == "openid") {
        Some(
            crate::id_token::issue(
                &state.keys,
                &state.issuer,
                snapshot,
                &crate::id_token::IdTokenSubject {
                    client,
                    subject: &subject,
                    code: &row,
                    access_token: &issued.token,
                },
                now,
            )
            .map_err(server_error)?,
        )
    } else {
        None
    };
    Ok(no_store(&TokenResponse {
        access_token: &issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: (!row.scopes.is_empty()).then(|| row.scopes.join(" ")),
        id_token,
    }))
}
