//! The refresh token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2): the presented
//! token is replaced in one statement; a token presented again after its rotation revokes its
//! whole family.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::HttpResponse;
use chrono::Utc;
use tessera_admin::config::model::Client;

use super::{TokenResponse, no_store, sign_access_token};
use crate::access_token::{self, AccessTokenClaims};
use crate::params::Params;
use crate::state::OAuthState;
use crate::token_error::TokenError;

/// The refresh token lifetimes of `client`: idle, and absolute (the whole family).
pub(super) fn lifetimes(
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

/// Why a presented token could not be rotated. A token presented again after its rotation is
/// taken as stolen: its whole family is revoked (RFC 9700 §4.14.2).
async fn not_rotated(
    state: &OAuthState,
    client: &Client,
    presented_hash: Vec<u8>,
    now: chrono::DateTime<Utc>,
) -> TokenError {
    let revoked = state
        .store
        .run(
            move |conn| match tessera_store::refresh::family_of(conn, &presented_hash)? {
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
    super::invalid_grant("The refresh token is invalid, expired, revoked or already used.")
}

/// The refresh grant (RFC 6749 §6) with rotation: the presented token is replaced in one
/// statement; presenting a token that was already rotated revokes its whole family.
pub(super) async fn grant(
    state: &OAuthState,
    snapshot: &tessera_admin::Snapshot,
    client: &Client,
    params: &Params,
) -> Result<HttpResponse, TokenError> {
    if !client.capabilities.refresh {
        return Err(super::unauthorized("refresh tokens"));
    }
    let presented = params.require("refresh_token")?;
    let old_hash = tessera_authn::flow::secret_hash(presented);
    let successor = super::random_token()?;
    let new_hash = tessera_authn::flow::secret_hash(&successor);
    let (idle, _) = lifetimes(snapshot, client);
    let now = Utc::now();
    let lookup = old_hash.clone();
    let rotated = state
        .store
        .run(move |conn| tessera_store::refresh::rotate(conn, &lookup, &new_hash, idle, now))
        .await
        .map_err(super::server_error)?;
    let Some(row) = rotated else {
        return Err(not_rotated(state, client, old_hash, now).await);
    };
    if row.client_id != client.id {
        let family = row.family_id;
        let _ = state
            .store
            .run(move |conn| tessera_store::refresh::revoke_family(conn, family, now))
            .await;
        return Err(super::invalid_grant(
            "The refresh token was issued to another client.",
        ));
    }
    let scopes =
        crate::scope::narrow(params.get("scope"), &row.scopes).map_err(super::scope_refused)?;
    let subject = state.subjects.stored_or_derived(
        row.subject.as_deref(),
        row.account_id,
        client,
        &snapshot.config.token_settings,
    );
    let groups = super::groups_for(state, row.account_id, &scopes).await?;
    let issued = sign_access_token(
        state,
        snapshot,
        &AccessTokenClaims {
            subject: &subject,
            client,
            scopes: &scopes,
            groups: groups.as_deref(),
            authentication: Some(access_token::UserAuthentication {
                auth_time: row.auth_time,
                acr: row.acr.as_deref(),
                amr: &row.amr,
            }),
        },
        now,
    )?;
    Ok(no_store(&TokenResponse {
        refresh_token: Some(successor),
        ..TokenResponse::bearer(&issued, &scopes)
    }))
}
