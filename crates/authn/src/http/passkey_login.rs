//! Passkeys on the sign-in page: signing in with a passkey (discoverable, or an identified
//! account's), and finishing the registration of a new one on a proof in hand (a password, an
//! emailed code; see `finish::registration_page`).
//!
//! The browser's part is `passkeys.js`: it fetches the options, runs the WebAuthn call and
//! posts the answer in an ordinary form, so that every outcome is a page the server renders.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_admin::ActiveConfig;
use tessera_store::{PgConn, StoreError};
use uuid::Uuid;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::AuthnState;
use super::error::SignInError;
use super::finish;
use super::guard::{OpenFlow, Posted, Signed, flow_form, open_flow};
use super::page::{first_page, render};
use crate::flow::{self, Policy};
use crate::passkeys::{PasskeyError, PasskeySignIn, record_use_in};
use crate::signin::{Offers, Proof};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/passkey/options", web::post().to(options))
        .route("/passkey", web::post().to(sign_in))
        .route("/passkey/register", web::post().to(register));
}

#[derive(Deserialize)]
struct FlowForm {
    flow: String,
    csrf: String,
}

fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": message }))
}

const NOT_ALLOWED: &str = "This application does not allow signing in with a passkey.";

/// `POST /login/passkey/options`: a challenge for any discoverable passkey, bound to the flow,
/// as JSON for the page's script. One statement checks the flow and stores the ceremony: this
/// is half of every passkey sign-in.
async fn options(
    state: web::Data<AuthnState>,
    signed: Result<Signed<FlowForm>, SignInError>,
) -> HttpResponse {
    let gone = || {
        json_error(
            StatusCode::FORBIDDEN,
            "This sign-in has expired; reload the page.",
        )
    };
    let (Ok(signed), Some(passkeys)) = (signed, &state.passkeys) else {
        return gone();
    };
    let begun = passkeys
        .begin_discoverable_in_flow(
            &state.store,
            (signed.flow_id, flow::secret_hash(&signed.browser)),
            Utc::now(),
        )
        .await;
    match begun {
        Ok(Some(challenge)) => {
            // A ceremony begun under a policy that does not offer it is never answered: the
            // answer is checked against the policy again.
            let snapshot = state.config.load();
            let offered =
                serde_json::from_value::<Policy>(challenge.flow_policy).is_ok_and(|policy| {
                    Offers::of(&policy, &snapshot, state.capabilities())
                        .passkey_sign_in
                        .is_some()
                });
            if !offered {
                return json_error(StatusCode::FORBIDDEN, NOT_ALLOWED);
            }
            let mut options = challenge.options;
            // The page asks on a click, not through autofill.
            options.mediation = None;
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({ "ceremony": challenge.ceremony_id, "options": options }))
        }
        Ok(None) => gone(),
        Err(e) => {
            tracing::error!(error = %e, "cannot start a passkey sign-in");
            json_error(StatusCode::SERVICE_UNAVAILABLE, "Try again shortly.")
        }
    }
}

#[derive(Deserialize)]
struct CeremonyForm {
    flow: String,
    csrf: String,
    ceremony: String,
    credential: String,
    #[serde(default)]
    name: Option<String>,
}

impl CeremonyForm {
    /// The ceremony id and the authenticator's answer, when both parse.
    fn answer<T: serde::de::DeserializeOwned>(&self) -> Option<(Uuid, T)> {
        let ceremony = Uuid::parse_str(&self.ceremony).ok()?;
        Some((ceremony, serde_json::from_str(&self.credential).ok()?))
    }
}

fn explain(e: &PasskeyError) -> (StatusCode, &'static str) {
    match e {
        PasskeyError::CeremonyGone => (
            StatusCode::BAD_REQUEST,
            "The passkey request expired. Try again.",
        ),
        PasskeyError::Refused(_) | PasskeyError::UnknownCredential => (
            StatusCode::UNAUTHORIZED,
            "That passkey could not be verified for this site.",
        ),
        PasskeyError::AlreadyRegistered => {
            (StatusCode::CONFLICT, "That passkey is registered already.")
        }
        PasskeyError::Taken(_) => (
            StatusCode::CONFLICT,
            "Someone took that username or email address while you were signing up. Start again.",
        ),
        PasskeyError::Setup(_) | PasskeyError::Store(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Passkeys are temporarily unavailable. Try again shortly.",
        ),
    }
}

/// `POST /login/passkey`: verifies the authenticator's answer and completes the flow, in two
/// statements: the flow checked with the ceremony taken, then the completion.
async fn sign_in(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    signed: Signed<CeremonyForm>,
) -> Result<HttpResponse, SignInError> {
    let Signed {
        flow_id,
        browser,
        form,
    } = signed;
    let (Some(passkeys), Some((ceremony, credential))) =
        (&state.passkeys, form.answer::<PublicKeyCredential>())
    else {
        let text = "The passkey answer was not understood. Try again.";
        return refusal(&state, &req, flow_id, (StatusCode::BAD_REQUEST, text)).await;
    };
    let session = flow::NewSession::draw().map_err(|_| SignInError::Unavailable)?;
    // The answer verified and the flow completed in one task on the database threads.
    let config = Arc::clone(&state.config);
    let finished = passkeys
        .finish_authentication_then(
            &state.store,
            (ceremony, Some((flow_id, flow::secret_hash(&browser)))),
            credential,
            Utc::now(),
            // The flow's expiry is judged when it completes, after the verification.
            move |conn, signed_in| {
                complete_if_allowed(conn, (flow_id, session), signed_in, &config, Utc::now())
            },
        )
        .await;
    match finished {
        Ok(Finish::Completed(completed)) => {
            let (to, cookie) = finish::session_cookie(&state, completed)?;
            Ok(finish::redirect_with(&to, &cookie))
        }
        Ok(Finish::NotAllowed) => {
            refusal(&state, &req, flow_id, (StatusCode::FORBIDDEN, NOT_ALLOWED)).await
        }
        Err(e @ (PasskeyError::Store(_) | PasskeyError::Setup(_))) => {
            tracing::error!(error = %e, "cannot finish a passkey sign-in");
            Err(SignInError::Unavailable)
        }
        Err(e) => {
            tracing::info!(error = %e, "passkey sign-in refused");
            refusal(&state, &req, flow_id, explain(&e)).await
        }
    }
}

/// How a verified passkey answer ended.
enum Finish {
    /// The flow was completed (`None`: it was no longer open).
    Completed(Option<(String, String)>),
    /// The client no longer allows passkeys.
    NotAllowed,
}

/// After a verified answer, on the connection that took its ceremony: the flow completed, if
/// the client still allows passkeys. Enforced at every step: the configuration may have
/// changed since the page was shown. (Any passkeys authenticator the client allows: the
/// ceremony says whether it was for a discoverable passkey or for an identified account's.)
fn complete_if_allowed(
    conn: &mut PgConn,
    (flow_id, session): (Uuid, flow::NewSession),
    signed_in: PasskeySignIn,
    config: &ActiveConfig,
    now: DateTime<Utc>,
) -> Result<Finish, StoreError> {
    let snapshot = config.load();
    let allowed_acr = signed_in
        .flow_policy
        .as_ref()
        .and_then(|policy| Policy::deserialize(policy).ok())
        .and_then(|policy| {
            flow::passkey_authenticators(&policy, &snapshot)
                .first()
                .map(|(id, _, _)| flow::acr_for(id))
        });
    let Some(acr) = allowed_acr else {
        // The authenticator moved its counter all the same: keep it, so that the next answer
        // is not taken for a cloned key's.
        record_use_in(conn, &signed_in)?;
        return Ok(Finish::NotAllowed);
    };
    let PasskeySignIn {
        account_id,
        device_id,
        amr,
        usage,
        ..
    } = signed_in;
    let signed_in = (account_id, Some((device_id, usage)));
    let completed = flow::complete_in(conn, flow_id, signed_in, (amr, acr), session, now)?;
    Ok(Finish::Completed(completed))
}

/// The sign-in page again with `text` (or, first of all, with the news that the client does
/// not allow passkeys), or the expired page when the flow is no longer open for this browser.
async fn refusal(
    state: &AuthnState,
    req: &HttpRequest,
    flow_id: Uuid,
    (status, text): (StatusCode, &str),
) -> Result<HttpResponse, SignInError> {
    let flow = open_flow(state, req, flow_id).await?;
    let allowed = Offers::of(&flow.policy, &state.config.load(), state.capabilities())
        .passkeys
        .is_some();
    let outcome = if allowed {
        (status, text)
    } else {
        (StatusCode::FORBIDDEN, NOT_ALLOWED)
    };
    Ok(first_page(state, &flow, outcome))
}

/// `POST /login/passkey/register`: stores the new passkey and completes the flow on what was
/// proved before the ceremony (a password, an emailed code).
async fn register(
    state: web::Data<AuthnState>,
    Posted(flow, input): Posted<CeremonyForm>,
) -> Result<HttpResponse, SignInError> {
    let passkeys = state.passkeys.as_ref().ok_or(SignInError::Expired)?;
    let Some((ceremony, credential)) = input.answer::<RegisterPublicKeyCredential>() else {
        let text = "The new passkey was not understood. Sign in again to retry.";
        return Ok(first_page(&state, &flow, (StatusCode::BAD_REQUEST, text)));
    };
    let name = input.name.clone().unwrap_or_default();
    let registered = passkeys
        .finish_registration(
            &state.store,
            (ceremony, Some(flow.id), None),
            &credential,
            &name,
            Utc::now(),
        )
        .await;
    let registered = match registered {
        Ok(registered) => registered,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            return Ok(first_page(&state, &flow, explain(&e)));
        }
    };
    // The sign-in itself is what the user proved before registering; the passkey is for next
    // time. The client must still allow it.
    let proof = Proof::decode(registered.context).map_err(|e| {
        tracing::error!(error = %e, "a passkey registration's proof cannot be read");
        SignInError::Unavailable
    })?;
    if !flow::allows(&flow.policy, &state.config.load(), &proof.authenticator) {
        let text = "Your passkey was created, but this application no longer accepts this way of signing in.";
        return Ok(first_page(&state, &flow, (StatusCode::FORBIDDEN, text)));
    }
    if proof.is_by_email() {
        recovered(&state, &flow, registered.account_id).await?;
    }
    let (continue_to, cookie) =
        finish::record(&state, flow.id, (registered.account_id, None), &proof).await?;
    let mut ctx = tera::Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("continue_to", &continue_to);
    let mut response = render(&state, StatusCode::OK, "passkey_registered.html", &ctx);
    let _ = response.add_cookie(&cookie);
    Ok(response)
}

/// A passkey registered on the strength of an emailed code is a recovery (or a first device
/// proved by the mailbox alone): whatever was signed in before — perhaps by whoever had the
/// lost device — ends, sessions and refresh tokens alike.
async fn recovered(
    state: &AuthnState,
    flow: &OpenFlow,
    account_id: Uuid,
) -> Result<(), SignInError> {
    let now = Utc::now();
    let ended = state
        .store
        .run(move |conn| tessera_store::signin::sign_out_everywhere(conn, account_id, None, now))
        .await;
    match ended {
        Ok(ended) => {
            tracing::info!(
                sessions = ended.sessions,
                refresh_tokens = ended.refresh_tokens,
                flow = %flow.id,
                "passkey registered by email code: signed out everywhere"
            );
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot sign out everywhere after a recovery");
            Err(SignInError::Unavailable)
        }
    }
}

flow_form!(FlowForm, CeremonyForm);
