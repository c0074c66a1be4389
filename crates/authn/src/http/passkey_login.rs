//! Passkeys on the sign-in page: signing in with a discoverable passkey, and creating one
//! right after a password sign-in (the opt-in migration of seeds 001 and 003).
//!
//! The browser's part is `passkeys.js`: it fetches the options, runs the WebAuthn call and
//! posts the answer in an ordinary form, so that every outcome is a page the server renders.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tessera_admin::{ActiveConfig, Snapshot};
use tessera_store::accounts::AccountRow;
use tessera_store::{PgConn, StoreError};
use uuid::Uuid;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::AuthnState;
use super::login::{
    browser_flow, checked_flow, expired, flow_completion, form, posted_flow, render,
    signed_in_redirect, signed_in_response, unavailable,
};
use crate::flow::{self, Policy};
use crate::passkeys::{PasskeyError, PasskeySignIn, Registrant, record_use_in};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/passkey/options", web::post().to(options))
        .route("/login/passkey", web::post().to(sign_in))
        .route("/login/passkey/register", web::post().to(register))
        .route("/login/static/passkeys.js", web::get().to(script));
}

/// What the sign-in page may offer with passkeys under a policy: the authenticator to sign in
/// with (discoverable credentials) and the one to register with after a password.
pub(super) struct Offer<'a> {
    pub sign_in: Option<&'a str>,
    pub enrol: Option<&'a str>,
}

pub(super) fn offer<'a>(state: &AuthnState, policy: &Policy, snapshot: &'a Snapshot) -> Offer<'a> {
    if state.passkeys.is_none() {
        return Offer {
            sign_in: None,
            enrol: None,
        };
    }
    let allowed = flow::passkey_authenticators(policy, snapshot);
    let passwords = flow::password_authenticators(policy, snapshot);
    Offer {
        sign_in: allowed
            .iter()
            .find(|(_, p, _)| p.enable_discoverable_credentials)
            .map(|(id, _, _)| *id),
        // Registering while signing in needs the prerequisite the authenticator names to be a
        // password this policy allows (or none named).
        enrol: allowed
            .iter()
            .find(|(_, p, required)| {
                p.allow_registration_during_login && required.is_none_or(|r| passwords.contains(&r))
            })
            .map(|(id, _, _)| *id),
    }
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

/// `POST /login/passkey/options`: a challenge for any discoverable passkey, bound to the flow.
/// One statement checks the flow and stores the ceremony: this is half of every passkey
/// sign-in.
async fn options(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<FlowForm>,
) -> HttpResponse {
    let gone = || {
        json_error(
            StatusCode::FORBIDDEN,
            "This sign-in has expired; reload the page.",
        )
    };
    let not_offered = || json_error(StatusCode::FORBIDDEN, NOT_ALLOWED);
    let Some((flow_id, browser)) = posted_flow(&state, &req, &input.flow, &input.csrf) else {
        return gone();
    };
    let Some(passkeys) = &state.passkeys else {
        return not_offered();
    };
    let begun = passkeys
        .begin_discoverable_in_flow(
            &state.store,
            (flow_id, flow::secret_hash(&browser)),
            Utc::now(),
        )
        .await;
    match begun {
        Ok(Some(challenge)) => {
            // A ceremony begun under a policy that does not offer it is never answered: the
            // answer is checked against the policy again.
            let snapshot = state.config.load();
            let offered = serde_json::from_value::<Policy>(challenge.flow_policy)
                .is_ok_and(|policy| offer(&state, &policy, &snapshot).sign_in.is_some());
            if !offered {
                return not_offered();
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

/// The sign-in page (the username page, identifier-first) again with a message about the
/// passkey.
fn page_with_error(
    state: &AuthnState,
    flow_id: Uuid,
    browser: &str,
    policy: &Policy,
    status: StatusCode,
    text: &str,
) -> HttpResponse {
    let ctx = form(state, flow_id, browser, policy, "", Some(text));
    let identifier_first = flow::username_authenticator(policy, &state.config.load()).is_some();
    let page = if identifier_first {
        "username.html"
    } else {
        "login.html"
    };
    render(state, status, page, &ctx)
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
    input: web::Form<CeremonyForm>,
) -> HttpResponse {
    let Some((flow_id, browser)) = posted_flow(&state, &req, &input.flow, &input.csrf) else {
        return expired(&state);
    };
    let (Some(passkeys), Some((ceremony, credential))) =
        (&state.passkeys, input.answer::<PublicKeyCredential>())
    else {
        return refusal(
            &state,
            &req,
            flow_id,
            StatusCode::BAD_REQUEST,
            "The passkey answer was not understood. Try again.",
        )
        .await;
    };
    // The answer verified and the flow completed in one task on the database threads.
    let config = Arc::clone(&state.config);
    let now = Utc::now();
    let finished = passkeys
        .finish_authentication_then(
            &state.store,
            (ceremony, Some((flow_id, flow::secret_hash(&browser)))),
            credential,
            now,
            // The flow's expiry is judged when it completes, after the verification.
            move |conn, signed_in| {
                complete_if_allowed(conn, flow_id, signed_in, &config, Utc::now())
            },
        )
        .await;
    match finished {
        Ok(Finish::Completed(completed)) => {
            signed_in_response(flow_completion(&state, Ok(completed)))
        }
        Ok(Finish::NotAllowed) => {
            refusal(&state, &req, flow_id, StatusCode::FORBIDDEN, NOT_ALLOWED).await
        }
        Err(e @ (PasskeyError::Store(_) | PasskeyError::Setup(_))) => {
            tracing::error!(error = %e, "cannot finish a passkey sign-in");
            unavailable(&state)
        }
        Err(e) => {
            tracing::info!(error = %e, "passkey sign-in refused");
            let (status, text) = explain(&e);
            refusal(&state, &req, flow_id, status, text).await
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
    flow_id: Uuid,
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
    let completed = flow::complete_in(
        conn,
        flow_id,
        (account_id, Some((device_id, usage))),
        amr,
        acr,
        now,
    )?;
    Ok(Finish::Completed(completed))
}

const NOT_ALLOWED: &str = "This application does not allow signing in with a passkey.";

/// The sign-in page again with `text` (or, first of all, with the news that the client does
/// not allow passkeys), or the expired page when the flow is no longer open for this browser.
async fn refusal(
    state: &AuthnState,
    req: &HttpRequest,
    flow_id: Uuid,
    status: StatusCode,
    text: &str,
) -> HttpResponse {
    let Some((browser, policy)) = browser_flow(state, req, flow_id).await else {
        return expired(state);
    };
    let allowed = state.passkeys.is_some()
        && !flow::passkey_authenticators(&policy, &state.config.load()).is_empty();
    let (status, text) = if allowed {
        (status, text)
    } else {
        (StatusCode::FORBIDDEN, NOT_ALLOWED)
    };
    page_with_error(state, flow_id, &browser, &policy, status, text)
}

/// After a verified password with `enrol=passkey`: the page that creates a passkey, or `None`
/// when the policy does not offer registration (the sign-in then completes as usual).
pub(super) async fn offer_registration(
    state: &AuthnState,
    (flow_id, browser): (Uuid, &str),
    policy: &Policy,
    account: &AccountRow,
    password_authenticator: &str,
) -> Option<HttpResponse> {
    let snapshot = state.config.load();
    offer(state, policy, &snapshot).enrol?;
    let proof = Proof {
        amr: vec!["pwd".into()],
        authenticator: password_authenticator.to_owned(),
    };
    Some(
        registration_page(
            state,
            (flow_id, browser),
            policy,
            Registrant::Account(account),
            &proof,
        )
        .await,
    )
}

/// How the user proved who they are before registering a passkey: it becomes the flow's
/// authentication when the passkey is created.
#[derive(serde::Serialize, Deserialize)]
pub(super) struct Proof {
    /// RFC 8176 methods (`pwd`, `otp`).
    pub amr: Vec<String>,
    /// The authenticator the flow completes with (the client must allow it).
    pub authenticator: String,
}

/// Begins a registration for `registrant`, proved by `proof`, and renders the page that
/// creates the passkey.
pub(super) async fn registration_page(
    state: &AuthnState,
    (flow_id, browser): (Uuid, &str),
    policy: &Policy,
    registrant: Registrant<'_>,
    proof: &Proof,
) -> HttpResponse {
    let Some(passkeys) = state.passkeys.as_ref() else {
        return expired(state);
    };
    let context = serde_json::to_value(proof).unwrap_or_default();
    let (ceremony, options) = match passkeys
        .begin_registration(
            &state.store,
            registrant,
            (Some(flow_id), context),
            Utc::now(),
        )
        .await
    {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a passkey registration");
            return unavailable(state);
        }
    };
    let mut ctx = form(state, flow_id, browser, policy, registrant.username(), None);
    ctx.insert("ceremony", &ceremony.to_string());
    let proved = match (registrant, proof.amr.first().map(String::as_str)) {
        (Registrant::SignUp(_), _) => "Your email address is verified.",
        (_, Some("pwd")) => "Your password was accepted.",
        _ => "Your email address is confirmed.",
    };
    ctx.insert("proved", proved);
    ctx.insert("register_action", "/login/passkey/register");
    // Inside <script type="application/json">: no "<" may close the element early (the
    // username and display name are the user's own text).
    ctx.insert("options", &super::script_json(&options));
    render(state, StatusCode::OK, "passkey_register.html", &ctx)
}

/// `POST /login/passkey/register`: stores the new passkey and completes the flow that
/// verified the password.
async fn register(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<CeremonyForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let Some(passkeys) = &state.passkeys else {
        return expired(&state);
    };
    let Some((ceremony, credential)) = input.answer::<RegisterPublicKeyCredential>() else {
        return page_with_error(
            &state,
            flow_id,
            &browser,
            &policy,
            StatusCode::BAD_REQUEST,
            "The new passkey was not understood. Sign in again to retry.",
        );
    };
    let name = input.name.clone().unwrap_or_default();
    let registered = match passkeys
        .finish_registration(
            &state.store,
            (ceremony, Some(flow_id), None),
            &credential,
            &name,
            Utc::now(),
        )
        .await
    {
        Ok(registered) => registered,
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused");
            let (status, text) = explain(&e);
            return page_with_error(&state, flow_id, &browser, &policy, status, text);
        }
    };
    // The sign-in itself is what the user proved before registering (a password, an email
    // code); the passkey is for next time. The client must still allow it.
    let proof: Option<Proof> = serde_json::from_value(registered.context).ok();
    let Some(proof) =
        proof.filter(|p| flow::allows(&policy, &state.config.load(), &p.authenticator))
    else {
        return page_with_error(
            &state,
            flow_id,
            &browser,
            &policy,
            StatusCode::FORBIDDEN,
            "Your passkey was created, but this application no longer accepts this way of signing in.",
        );
    };
    // A passkey registered on the strength of an email code is a recovery (or a first device
    // proved by the mailbox alone): whatever was signed in before — perhaps by whoever had the
    // lost device — ends, sessions and refresh tokens alike.
    if proof.amr.iter().any(|m| m == "otp") {
        let account_id = registered.account_id;
        let now = Utc::now();
        match state
            .store
            .run(move |conn| {
                tessera_store::signin::sign_out_everywhere(conn, account_id, None, now)
            })
            .await
        {
            Ok(ended) => tracing::info!(
                sessions = ended.sessions,
                refresh_tokens = ended.refresh_tokens,
                "passkey registered by email code: signed out everywhere"
            ),
            Err(e) => {
                tracing::error!(error = %e, "cannot sign out everywhere after a recovery");
                return page_with_error(
                    &state,
                    flow_id,
                    &browser,
                    &policy,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Your passkey was created, but signing in is temporarily unavailable. Try again shortly.",
                );
            }
        }
    }
    match signed_in_redirect(
        &state,
        flow_id,
        (registered.account_id, None),
        proof.amr,
        &proof.authenticator,
    )
    .await
    {
        Ok((return_to, cookie)) => {
            let mut ctx = tera::Context::new();
            ctx.insert("base", &state.base_path);
            ctx.insert("continue_to", &return_to);
            let mut response = render(&state, StatusCode::OK, "passkey_registered.html", &ctx);
            let _ = response.add_cookie(&cookie);
            response
        }
        Err(response) => response,
    }
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../templates/passkeys.js"))
}
