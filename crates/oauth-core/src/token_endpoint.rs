//! `POST /oauth/token` (RFC 6749 §3.2). Today it serves the client credentials grant; the
//! authorization code and refresh grants arrive with the sign-in flow.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

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
use tessera_store::signin::FirstRefresh;

#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
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
    let (client, method) = authenticated_client(&state, &req, &params, &snapshot).await?;
    match grant_type {
        "client_credentials" => client_credentials(&state, &snapshot, client, method, &params),
        "authorization_code" => authorization_code(&state, &snapshot, client, &params).await,
        "refresh_token" => refresh_token(&state, &snapshot, client, &params).await,
        other => Err(TokenError::new(
            TokenErrorCode::UnsupportedGrantType,
            format!("Grant type {other:?} is not supported."),
        )),
    }
}

/// Authenticates the client of a token, revocation or introspection request; a
/// `private_key_jwt` assertion's `jti` is recorded so that it cannot be used twice.
pub(crate) async fn authenticated_client<'a>(
    state: &OAuthState,
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a tessera_admin::Snapshot,
) -> Result<(&'a Client, AuthMethod), TokenError> {
    let (client, method, assertion) =
        client_auth::authenticate(req, params, snapshot, &state.secrets, state.issuer.as_str())?;
    check_browser_origin(req, snapshot, client)?;
    if let Some(used) = assertion {
        let client_id = client.id.clone();
        let now = Utc::now();
        let fresh = state
            .store
            .run(move |conn| {
                tessera_store::refresh::record_assertion(
                    conn,
                    &client_id,
                    &used.jti,
                    used.expires_at,
                    now,
                )
            })
            .await
            .map_err(server_error)?;
        if !fresh {
            return Err(TokenError::new(
                TokenErrorCode::InvalidClient,
                "This client assertion was already used.",
            ));
        }
    }
    Ok((client, method))
}

/// A request sent by a browser (it carries `Origin`) must come from one of the client's own
/// `allowed-origins`: another client's registered origin could otherwise redeem codes or
/// refresh tokens under this client's id. Checked before anything is redeemed.
fn check_browser_origin(
    req: &HttpRequest,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
) -> Result<(), TokenError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let allowed = origin
        .to_str()
        .is_ok_and(|origin| snapshot.client_allows_origin(client, origin));
    if allowed {
        Ok(())
    } else {
        Err(TokenError::new(
            TokenErrorCode::InvalidClient,
            "This client does not accept browser requests from this origin (allowed-origins).",
        ))
    }
}

/// The requested scopes the client is registered for; none requested means all of them.
fn granted_scopes(client: &Client, params: &Params) -> Result<Vec<String>, TokenError> {
    match params.get("scope") {
        None => Ok(client.scopes.clone()),
        Some(requested) => crate::scope::grant(requested, &client.scopes).map_err(scope_refused),
    }
}

fn scope_refused(refusal: crate::scope::ScopeRefusal) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidScope, refusal.description())
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
    let issued = sign_access_token(
        state,
        snapshot,
        &AccessTokenClaims {
            subject: &client.id,
            client,
            scopes: &scopes,
            authentication: None,
        },
        Utc::now(),
    )?;
    Ok(no_store(&TokenResponse {
        access_token: &issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        id_token: None,
        refresh_token: None,
    }))
}

fn invalid_grant(description: &str) -> TokenError {
    TokenError::new(TokenErrorCode::InvalidGrant, description)
}

/// Signs an access token with this server's issuer and keys.
fn sign_access_token(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    claims: &AccessTokenClaims<'_>,
    now: chrono::DateTime<Utc>,
) -> Result<access_token::IssuedAccessToken, TokenError> {
    access_token::issue(&state.keys, &state.issuer, snapshot, claims, now).map_err(server_error)
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
    // The refresh token is minted before the code is redeemed so that redeeming the code,
    // starting the family and storing its first token are one statement.
    let refresh = if client.capabilities.refresh {
        let token = random_token()?;
        let (idle, absolute) = refresh_lifetimes(snapshot, client);
        let first = FirstRefresh {
            token_hash: tessera_authn::flow::secret_hash(&token),
            family_id: uuid::Uuid::new_v4(),
            idle,
            absolute,
        };
        Some((token, first))
    } else {
        None
    };
    let first = refresh.as_ref().map(|(_, first)| first.clone());
    let row = state
        .store
        .run(move |conn| tessera_store::signin::redeem_code(conn, &hash, now, first.as_ref()))
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                TokenError::new(TokenErrorCode::TemporarilyUnavailable, "Try again shortly.")
            } else {
                server_error(e)
            }
        })?;
    let Some(row) = row else {
        // A replayed code revokes what its first redemption issued.
        let hash = tessera_authn::flow::secret_hash(code);
        let replay = state
            .store
            .run(move |conn| tessera_store::signin::revoke_after_code_replay(conn, &hash, now))
            .await
            .unwrap_or(false);
        if replay {
            tracing::warn!(client = %client.id, "authorization code replayed; its tokens were revoked");
        }
        return Err(invalid_grant(
            "The code is invalid, expired or already used.",
        ));
    };
    if let Err(e) = check_redemption(&row, client, params) {
        // The code is spent either way; the family its redemption started must not outlive it.
        if let Some((_, first)) = refresh {
            let family = first.family_id;
            if let Err(e) = state
                .store
                .run(move |conn| tessera_store::refresh::revoke_family(conn, family, now))
                .await
            {
                tracing::warn!(error = %e, "cannot revoke the family of a refused code");
            }
        }
        return Err(e);
    }
    let subject =
        state
            .subjects
            .for_client(row.account_id, client, &snapshot.config.token_settings);
    let issued = sign_access_token(
        state,
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
    )?;
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
    let refresh_token = refresh.map(|(token, _)| token);
    Ok(no_store(&TokenResponse {
        access_token: &issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: (!row.scopes.is_empty()).then(|| row.scopes.join(" ")),
        id_token,
        refresh_token,
    }))
}

/// What a redeemed code must match: its client, its redirect URI and its PKCE challenge.
fn check_redemption(
    row: &tessera_store::signin::CodeRow,
    client: &Client,
    params: &Params,
) -> Result<(), TokenError> {
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
    Ok(())
}

fn random_token() -> Result<String, TokenError> {
    tessera_admin::crypto::random_token().map_err(server_error)
}

/// The refresh token lifetimes of `client`: idle, and absolute (the whole family).
fn refresh_lifetimes(
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
) -> (std::time::Duration, std::time::Duration) {
    let profile = snapshot.config.token_settings.lifetimes;
    let idle = client
        .lifetimes
        .refresh_token
        .or(profile.refresh_token)
        .unwrap_or(tessera_admin::config::model::TokenSettings::REFRESH);
    let absolute = client
        .lifetimes
        .refresh_token_max_rolling_lifetime
        .or(profile.refresh_token_max_rolling_lifetime)
        .unwrap_or(tessera_admin::config::model::TokenSettings::REFRESH_MAX);
    (idle, absolute)
}

/// The refresh grant (RFC 6749 §6) with rotation: the presented token is replaced in one
/// statement; presenting a token that was already rotated revokes its whole family.
async fn refresh_token(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if !client.capabilities.refresh {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "This client may not use refresh tokens.",
        ));
    }
    let presented = params.require("refresh_token")?;
    let old_hash = tessera_authn::flow::secret_hash(presented);
    let successor = random_token()?;
    let new_hash = tessera_authn::flow::secret_hash(&successor);
    let (idle, _) = refresh_lifetimes(snapshot, client);
    let now = Utc::now();
    let lookup = old_hash.clone();
    let rotated = state
        .store
        .run(move |conn| tessera_store::refresh::rotate(conn, &lookup, &new_hash, idle, now))
        .await
        .map_err(server_error)?;
    let Some(row) = rotated else {
        let revoked = state
            .store
            .run(
                move |conn| match tessera_store::refresh::family_of(conn, &old_hash)? {
                    Some((family, true)) => {
                        tessera_store::refresh::revoke_family(conn, family, now)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                },
            )
            .await
            .unwrap_or(false);
        if revoked {
            tracing::warn!(client = %client.id, "rotated refresh token reused; its family was revoked");
        }
        return Err(invalid_grant(
            "The refresh token is invalid, expired, revoked or already used.",
        ));
    };
    if row.client_id != client.id {
        let family = row.family_id;
        let _ = state
            .store
            .run(move |conn| tessera_store::refresh::revoke_family(conn, family, now))
            .await;
        return Err(invalid_grant(
            "The refresh token was issued to another client.",
        ));
    }
    let scopes = crate::scope::narrow(params.get("scope"), &row.scopes).map_err(scope_refused)?;
    let subject =
        state
            .subjects
            .for_client(row.account_id, client, &snapshot.config.token_settings);
    let issued = sign_access_token(
        state,
        snapshot,
        &AccessTokenClaims {
            subject: &subject,
            client,
            scopes: &scopes,
            authentication: Some(access_token::UserAuthentication {
                auth_time: row.auth_time,
                acr: row.acr.as_deref(),
                amr: &row.amr,
            }),
        },
        now,
    )?;
    Ok(no_store(&TokenResponse {
        access_token: &issued.token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        id_token: None,
        refresh_token: Some(successor),
    }))
}
