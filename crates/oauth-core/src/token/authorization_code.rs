//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6): one statement redeems the
//! code, starts the refresh token family and stores its first token, so exactly one of any
//! number of concurrent redemptions succeeds; a replayed code revokes what the first issued.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::HttpResponse;
use chrono::Utc;
use tessera_admin::config::model::Client;

use super::{TokenResponse, no_store, sign_access_token};
use crate::access_token::{self, AccessTokenClaims};
use crate::params::Params;
use crate::state::OAuthState;
use crate::token_error::{TokenError, TokenErrorCode};
use tessera_store::codes::{CodeRow, FirstRefresh};

/// Redeems the code in `params` for `client`: an access token, an ID token for `openid`, and
/// the first refresh token of a new family for a client that may refresh.
pub(super) async fn grant(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if !client.capabilities.code {
        return Err(super::unauthorized("the authorization_code grant"));
    }
    let code = params.require("code")?;
    let now = Utc::now();
    // The refresh token is minted before the code is redeemed so that redeeming the code,
    // starting the family and storing its first token are one statement.
    let refresh = if client.capabilities.refresh {
        Some(first_refresh(snapshot, client)?)
    } else {
        None
    };
    let row = redeem(state, client, code, refresh.as_ref().map(|(_, f)| f), now).await?;
    let checked = match check_redemption(&row, client, params) {
        Ok(()) => super::groups_for(state, row.account_id, &row.scopes).await,
        Err(e) => Err(e),
    };
    let groups = match checked {
        Ok(groups) => groups,
        Err(e) => {
            // The code is spent either way; the family its redemption started must not
            // outlive a redemption that issued nothing.
            if let Some((_, first)) = refresh {
                revoke(state, first.family_id, now).await;
            }
            return Err(e);
        }
    };
    let refresh_token = refresh.map(|(token, _)| token);
    let issued = Issued {
        refresh_token,
        groups: groups.as_deref(),
    };
    respond(state, snapshot, client, &row, issued, now)
}

/// Revokes the family a refused redemption started.
async fn revoke(state: &OAuthState, family: uuid::Uuid, now: chrono::DateTime<Utc>) {
    let revoked = state
        .store
        .run(move |conn| tessera_store::refresh::revoke_family(conn, family, now))
        .await;
    if let Err(e) = revoked {
        tracing::warn!(error = %e, "cannot revoke the family of a refused code");
    }
}

/// What a redemption hands out besides the access and ID tokens.
struct Issued<'a> {
    refresh_token: Option<String>,
    groups: Option<&'a [String]>,
}

/// A refresh token and the family it starts.
fn first_refresh(
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
) -> Result<(String, FirstRefresh), TokenError> {
    let token = super::random_token()?;
    let (idle, absolute) = super::refresh_token::lifetimes(snapshot, client);
    let first = FirstRefresh {
        token_hash: tessera_authn::flow::secret_hash(&token),
        family_id: uuid::Uuid::new_v4(),
        idle,
        absolute,
    };
    Ok((token, first))
}

/// Redeems `code` in one statement (starting `first`'s family with it). A code that cannot be
/// redeemed because it was already used revokes what its first redemption issued.
async fn redeem(
    state: &OAuthState,
    client: &Client,
    code: &str,
    first: Option<&FirstRefresh>,
    now: chrono::DateTime<Utc>,
) -> Result<CodeRow, TokenError> {
    let hash = tessera_authn::flow::secret_hash(code);
    let first = first.cloned();
    let lookup = hash.clone();
    let row = state
        .store
        .run(move |conn| tessera_store::codes::redeem_code(conn, &lookup, now, first.as_ref()))
        .await
        .map_err(|e| {
            if e.is_unavailable() {
                TokenError::new(TokenErrorCode::TemporarilyUnavailable, "Try again shortly.")
            } else {
                super::server_error(e)
            }
        })?;
    if let Some(row) = row {
        return Ok(row);
    }
    let replay = state
        .store
        .run(move |conn| tessera_store::codes::revoke_after_code_replay(conn, &hash, now))
        .await
        .unwrap_or(false);
    if replay {
        tracing::warn!(client = %client.id, "authorization code replayed; its tokens were revoked");
    }
    Err(super::invalid_grant(
        "The code is invalid, expired or already used.",
    ))
}

/// The token response for a redeemed code.
fn respond(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
    row: &CodeRow,
    issued_with: Issued<'_>,
    now: chrono::DateTime<Utc>,
) -> Result<HttpResponse, TokenError> {
    let Issued {
        refresh_token,
        groups,
    } = issued_with;
    let subject = state.subjects.stored_or_derived(
        row.subject.as_deref(),
        row.account_id,
        client,
        &snapshot.config.token_settings,
    );
    let authentication = access_token::UserAuthentication {
        auth_time: row.auth_time,
        acr: row.acr.as_deref(),
        amr: &row.amr,
    };
    let claims = AccessTokenClaims {
        subject: &subject,
        client,
        scopes: &row.scopes,
        authentication: Some(authentication),
        groups,
    };
    let issued = sign_access_token(state, snapshot, &claims, now)?;
    let id_token = if row.scopes.iter().any(|s| s == "openid") {
        let about = crate::id_token::IdTokenSubject {
            client,
            subject: &subject,
            code: row,
            access_token: &issued.token,
            groups,
        };
        let signed = crate::id_token::issue(&state.keys, &state.issuer, snapshot, &about, now);
        Some(signed.map_err(super::server_error)?)
    } else {
        None
    };
    Ok(no_store(&TokenResponse {
        id_token,
        refresh_token,
        ..TokenResponse::bearer(&issued, &row.scopes)
    }))
}

/// What a redeemed code must match: its client, its redirect URI and its PKCE challenge.
fn check_redemption(row: &CodeRow, client: &Client, params: &Params) -> Result<(), TokenError> {
    if row.client_id != client.id {
        return Err(super::invalid_grant(
            "The code was issued to another client.",
        ));
    }
    if params.get("redirect_uri") != Some(row.redirect_uri.as_str()) {
        return Err(super::invalid_grant(
            "redirect_uri does not match the authorization request.",
        ));
    }
    match (&row.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !crate::authorize::verify_s256(verifier, challenge) {
                return Err(super::invalid_grant(
                    "code_verifier does not match the code_challenge.",
                ));
            }
        }
        (Some(_), None) => return Err(super::invalid_grant("code_verifier is missing.")),
        (None, Some(_)) => {
            return Err(super::invalid_grant(
                "The authorization request had no code_challenge.",
            ));
        }
        (None, None) => {}
    }
    Ok(())
}
