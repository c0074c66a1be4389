//! What completes a sign-in, whichever page gets there: recording the authentication with its
//! SSO session, the page that creates a passkey on a proof in hand, and what follows a right
//! answer to an emailed challenge.

use actix_web::HttpResponse;
use actix_web::cookie::Cookie;
use actix_web::http::{StatusCode, header};
use chrono::Utc;
use tessera_store::passkeys::DeviceUse;
use uuid::Uuid;

use super::error::SignInError;
use super::guard::OpenFlow;
use super::page::{form, message, render, script_json};
use super::{AuthnState, cookies};
use crate::flow;
use crate::passkeys::Registrant;
use crate::signin::steps::Next;
use crate::signin::{Offers, PendingSignUp, Proof};

/// Records the authentication on the flow and sends the browser back to the caller with the
/// SSO session cookie.
pub(super) async fn signed_in(
    state: &AuthnState,
    flow_id: Uuid,
    signed_in: (Uuid, Option<(Uuid, DeviceUse)>),
    proof: &Proof,
) -> Result<HttpResponse, SignInError> {
    let (return_to, cookie) = record(state, flow_id, signed_in, proof).await?;
    Ok(redirect_with(&return_to, &cookie))
}

/// Records the authentication on the flow; returns where the browser goes next and the SSO
/// cookie to set.
pub(super) async fn record(
    state: &AuthnState,
    flow_id: Uuid,
    signed_in: (Uuid, Option<(Uuid, DeviceUse)>),
    proof: &Proof,
) -> Result<(String, Cookie<'static>), SignInError> {
    let session = flow::NewSession::draw().map_err(|e| {
        tracing::error!(error = %e, "cannot start a session");
        SignInError::Unavailable
    })?;
    let completed = flow::complete(
        &state.store,
        flow_id,
        signed_in,
        (proof.amr.clone(), flow::acr_for(&proof.authenticator)),
        session,
        Utc::now(),
    )
    .await?;
    session_cookie(state, completed)
}

/// The SSO cookie and where to go, once a flow's completion was recorded (`None`: the flow was
/// no longer open, and no session exists).
pub(super) fn session_cookie(
    state: &AuthnState,
    completed: Option<(String, String)>,
) -> Result<(String, Cookie<'static>), SignInError> {
    let (secret, return_to) = completed.ok_or(SignInError::Expired)?;
    Ok((
        return_to,
        cookies::session_cookie(secret, state.secure_cookies),
    ))
}

/// A 303 to `to` that sets `cookie`.
pub(super) fn redirect_with(to: &str, cookie: &Cookie<'static>) -> HttpResponse {
    let mut response = HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish();
    let _ = response.add_cookie(cookie);
    response
}

/// Begins a registration for `registrant`, proved by `proof`, and renders the page that
/// creates the passkey.
pub(super) async fn registration_page(
    state: &AuthnState,
    flow: &OpenFlow,
    registrant: Registrant<'_>,
    proof: &Proof,
) -> Result<HttpResponse, SignInError> {
    let passkeys = state.passkeys.as_ref().ok_or(SignInError::Expired)?;
    let (ceremony, options) = passkeys
        .begin_registration(
            &state.store,
            registrant,
            (Some(flow.id), proof.encode()),
            Utc::now(),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey registration");
            SignInError::Unavailable
        })?;
    let mut ctx = form(state, flow, registrant.username(), None);
    ctx.insert("ceremony", &ceremony.to_string());
    let proved = match registrant {
        Registrant::SignUp(_) => "Your email address is verified.",
        _ if proof.is_by_email() => "Your email address is confirmed.",
        _ => "Your password was accepted.",
    };
    ctx.insert("proved", proved);
    ctx.insert("register_action", "/login/passkey/register");
    ctx.insert("options", &script_json(&options));
    Ok(render(state, StatusCode::OK, "passkey_register.html", &ctx))
}

/// What a client that stopped offering passkey creation says.
pub(super) const NO_PASSKEY_CREATION: &str =
    "This application does not offer creating a passkey here.";

/// Goes on with a flow once its emailed challenge is answered: the client must still offer
/// what follows.
pub(super) async fn after_email(
    state: &AuthnState,
    flow: &OpenFlow,
    next: Next,
) -> Result<HttpResponse, SignInError> {
    let offered = {
        let snapshot = state.config.load();
        let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
        match &next {
            Next::RegisterPasskey(_) => offers.passkey_by_email.map(|e| e.passkeys.to_owned()),
            Next::SignedIn(_) => offers.email_sign_in.map(|m| m.id.to_owned()),
            Next::CreateAccount(PendingSignUp::Passkey { .. }) => {
                offers.passkey_sign_up().map(|e| e.passkeys.to_owned())
            }
            Next::CreateAccount(PendingSignUp::Password { .. }) => {
                offers.password_sign_up.map(|(id, _)| id.to_owned())
            }
        }
    };
    let Some(authenticator) = offered else {
        // Signing in by email is no longer offered: the sign-in cannot go on.
        return Err(match next {
            Next::SignedIn(_) => SignInError::Expired,
            _ => SignInError::NotOffered(NO_PASSKEY_CREATION),
        });
    };
    let proof = Proof::email(&authenticator);
    match next {
        Next::RegisterPasskey(account_id) => {
            let account = state
                .store
                .run(move |conn| tessera_store::accounts::by_id(conn, account_id))
                .await?
                .ok_or(SignInError::Unavailable)?;
            registration_page(state, flow, Registrant::Account(&account), &proof).await
        }
        Next::SignedIn(account_id) => signed_in(state, flow.id, (account_id, None), &proof).await,
        Next::CreateAccount(PendingSignUp::Passkey { details }) => {
            registration_page(state, flow, Registrant::SignUp(&details), &proof).await
        }
        Next::CreateAccount(PendingSignUp::Password {
            details,
            password_hash,
        }) => {
            let created = state
                .store
                .run(move |conn| {
                    tessera_store::accounts::create(
                        conn,
                        &details.new_account(),
                        Some(&password_hash),
                    )
                })
                .await?;
            match created {
                Ok(account_id) => signed_in(state, flow.id, (account_id, None), &proof).await,
                Err(_taken) => Ok(message(
                    state,
                    StatusCode::CONFLICT,
                    "That name was taken meanwhile",
                    "Someone took that username or email address while you were signing up. Start again.",
                )),
            }
        }
    }
}
