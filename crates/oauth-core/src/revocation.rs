//! Token revocation (RFC 7009) and introspection (RFC 7662).
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Value, json};

use crate::client_auth::AuthMethod;
use crate::params::Params;
use crate::state::OAuthState;
use crate::token_error::{TokenError, TokenErrorCode};

fn no_store(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

fn unavailable(e: impl std::fmt::Display) -> TokenError {
    tracing::warn!(error = %e, "token bookkeeping failed");
    TokenError::new(TokenErrorCode::TemporarilyUnavailable, "Try again shortly.")
}

/// `POST /oauth/revoke`: revokes a refresh token (and its whole family). Access tokens are
/// short-lived JWTs that cannot be recalled: they answer `unsupported_token_type`.
pub async fn revoke(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, TokenError> {
    let params = Params::parse(&body)?;
    let snapshot = state.config.load();
    let (client, _) = crate::token::authenticated_client(&state, &req, &params, &snapshot).await?;
    let token = params.require("token")?.to_owned();
    let now = Utc::now();
    let hash = tessera_authn::flow::secret_hash(&token);
    let row = state
        .store
        .run(move |conn| tessera_store::refresh::by_hash(conn, &hash))
        .await
        .map_err(unavailable)?;
    match row {
        // RFC 7009 §2.1: a token of another client is not revoked, and the answer is the same.
        Some(row) if row.client_id == client.id => {
            let family = row.family_id;
            state
                .store
                .run(move |conn| tessera_store::refresh::revoke_family(conn, family, now))
                .await
                .map_err(unavailable)?;
            Ok(no_store(json!({})))
        }
        Some(_) => Ok(no_store(json!({}))),
        None if state.keys.verify(&token, now).is_ok() => Err(TokenError::new(
            TokenErrorCode::UnsupportedTokenType,
            "Access tokens cannot be revoked; they expire on their own. Revoke the refresh token.",
        )),
        None => Ok(no_store(json!({}))),
    }
}

/// `POST /oauth/introspect`: for confidential clients with the `introspection` capability.
pub async fn introspect(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, TokenError> {
    let params = Params::parse(&body)?;
    let snapshot = state.config.load();
    let (client, method) =
        crate::token::authenticated_client(&state, &req, &params, &snapshot).await?;
    if method == AuthMethod::None {
        return Err(TokenError::new(
            TokenErrorCode::InvalidClient,
            "Introspection requires client authentication.",
        ));
    }
    if !client.capabilities.introspection {
        return Err(TokenError::new(
            TokenErrorCode::UnauthorizedClient,
            "This client may not introspect tokens: give it the introspection capability.",
        ));
    }
    let token = params.require("token")?.to_owned();
    let now = Utc::now();
    if let Ok((typ, claims)) = state.keys.verify(&token, now) {
        let live = claims
            .expires_at()
            .is_some_and(|exp| exp > std::time::SystemTime::from(now));
        if typ.as_deref() == Some("at+jwt")
            && live
            && claims.issuer() == Some(state.issuer.as_str())
        {
            // A token issued to a user is active only while the account is: disabling or
            // deleting it answers inactive at once, whatever the token's own lifetime.
            // (A user's token carries `auth_time`; a client's own token does not.)
            let user = claims
                .claim("auth_time")
                .and(claims.subject())
                .map(str::to_owned);
            if let Some(subject) = user {
                let account = state
                    .store
                    .run(move |conn| tessera_store::accounts::by_subject(conn, &subject))
                    .await
                    .map_err(unavailable)?;
                if account.is_none_or(|account| account.disabled_at.is_some()) {
                    return Ok(no_store(json!({ "active": false })));
                }
            }
            let mut out = json!({ "active": true, "token_type": "Bearer" });
            for name in [
                "scope",
                "client_id",
                "sub",
                "exp",
                "iat",
                "iss",
                "aud",
                "jti",
                "auth_time",
                "acr",
            ] {
                if let Some(value) = claims.claim(name) {
                    out[name] = value.clone();
                }
            }
            return Ok(no_store(out));
        }
        return Ok(no_store(json!({ "active": false })));
    }
    let hash = tessera_authn::flow::secret_hash(&token);
    let row = state
        .store
        .run(move |conn| tessera_store::refresh::by_hash(conn, &hash))
        .await
        .map_err(unavailable)?;
    match row {
        Some(row)
            if row.client_id == client.id
                && row.rotated_at.is_none()
                && row.revoked_at.is_none()
                && row.expires_at > now
                && row.family_expires_at > now =>
        {
            Ok(no_store(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": row.client_id,
                "scope": row.scopes.join(" "),
                "exp": row.expires_at.timestamp(),
                "iat": row.created_at.timestamp(),
                "sub": state.subjects.stored_or_derived(
                    row.subject.as_deref(),
                    row.account_id,
                    client,
                    &snapshot.config.token_settings,
                ),
            })))
        }
        _ => Ok(no_store(json!({ "active": false }))),
    }
}
