//! Identifier-first sign-in (seed 003), when the client allows a `username` authenticator: the
//! username alone first (remembered in a cookie, or hinted), then
//!
//! - an account with a passkey goes straight to the passkey prompt, no selector;
//! - anyone else (an account without one, or an unknown username: the two read the same)
//!   chooses among the client's methods: "Passkey" (which for an existing user first asks for
//!   the method they have now, then creates the passkey), "Password", "Email code" (or link).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::error::SignInError;
use super::finish;
use super::guard::{OpenFlow, Posted, flow_form};
use super::mail::{self, CodeForm, CodePage, Refused};
use super::page::{form, render, retry_after, script_json, try_again_in};
use super::{AuthnState, client_address, cookies};
use crate::signin::offers::Prerequisite;
use crate::signin::steps::{self, Identified};
use crate::signin::{Mailer, Offers, Purpose};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/identify", web::post().to(identify))
        .route("/select", web::post().to(select))
        .route("/email/code", web::post().to(email_code));
}

#[derive(Deserialize)]
struct UsernameForm {
    flow: String,
    csrf: String,
    username: String,
}

/// `POST /login/identify`: remembers the username and routes on it.
async fn identify(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    Posted(flow, input): Posted<UsernameForm>,
) -> Result<HttpResponse, SignInError> {
    let remember = {
        let snapshot = state.config.load();
        let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
        offers
            .username_first
            .ok_or(SignInError::Expired)?
            .remember_username
    };
    let username = input.username.trim().to_owned();
    if username.is_empty() || username.chars().count() > 256 {
        let ctx = form(&state, &flow, "", Some("Enter your username."));
        return Ok(render(
            &state,
            StatusCode::BAD_REQUEST,
            "username.html",
            &ctx,
        ));
    }
    let address = client_address(&req, &state.limits.trusted_proxies);
    let mut response = match steps::identify(&state.store, &username, address, Utc::now()).await? {
        Identified::HasPasskeys(account) if offers_passkeys(&state, &flow) => {
            passkey_prompt(&state, &flow, &account).await?
        }
        Identified::HasPasskeys(_) | Identified::Choose => {
            selector(&state, &flow, &username, (StatusCode::OK, None))
        }
        Identified::TooMany { retry_after: after } => {
            tracing::warn!("identifier-first look-ups over the limit");
            let text = format!("Too many sign-in attempts. {}", try_again_in(after));
            let ctx = form(&state, &flow, &username, Some(&text));
            let page = render(&state, StatusCode::TOO_MANY_REQUESTS, "username.html", &ctx);
            return Ok(retry_after(page, after));
        }
    };
    if remember {
        let _ = response.add_cookie(&cookies::username_cookie(&username, state.secure_cookies));
    }
    Ok(response)
}

fn offers_passkeys(state: &AuthnState, flow: &OpenFlow) -> bool {
    Offers::of(&flow.policy, &state.config.load(), state.capabilities())
        .passkeys
        .is_some()
}

/// "How do you want to sign in?", with a message when something went wrong.
fn selector(
    state: &AuthnState,
    flow: &OpenFlow,
    username: &str,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    let mut ctx = form(state, flow, username, error);
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    ctx.insert("methods", &offers.methods());
    render(state, status, "select.html", &ctx)
}

/// The passkey prompt for an account that has passkeys: a challenge its passkeys answer.
async fn passkey_prompt(
    state: &AuthnState,
    flow: &OpenFlow,
    account: &tessera_store::accounts::AccountRow,
) -> Result<HttpResponse, SignInError> {
    let passkeys = state.passkeys.as_ref().ok_or(SignInError::Expired)?;
    let (ceremony, options) = passkeys
        .begin_authentication(
            &state.store,
            Some(account.account_id),
            Some(flow.id),
            Utc::now(),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey sign-in");
            SignInError::Unavailable
        })?;
    let options = serde_json::to_string(&options).map_err(|_| SignInError::Unavailable)?;
    let mut ctx = form(state, flow, &account.username, None);
    ctx.insert("ceremony", &ceremony.to_string());
    ctx.insert("options", &script_json(&options));
    Ok(render(state, StatusCode::OK, "passkey_prompt.html", &ctx))
}

#[derive(Deserialize)]
struct SelectForm {
    flow: String,
    csrf: String,
    username: String,
    method: String,
}

/// `POST /login/select`: the method chosen on the selector.
async fn select(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    Posted(flow, input): Posted<SelectForm>,
) -> Result<HttpResponse, SignInError> {
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    let username = input.username.trim();
    // Enforced again: the configuration may have changed since the selector was shown.
    if !offers
        .methods()
        .iter()
        .any(|(value, _)| *value == input.method)
    {
        let refusal = "That way of signing in is not available here.";
        return Ok(selector(
            &state,
            &flow,
            username,
            (StatusCode::FORBIDDEN, Some(refusal)),
        ));
    }
    let mut ctx = form(&state, &flow, username, None);
    // The page after the selector is about this username and this method only.
    ctx.insert("identified", &true);
    ctx.insert("passkey_signin", &false);
    Ok(match (input.method.as_str(), offers.prerequisite()) {
        ("passkey", Some(Prerequisite::Password)) => {
            ctx.insert("enrol_only", &true);
            render(&state, StatusCode::OK, "login.html", &ctx)
        }
        ("passkey", Some(Prerequisite::Email)) => {
            render(&state, StatusCode::OK, "passkey_create.html", &ctx)
        }
        ("email", _) => {
            let mailer = offers.email_sign_in.ok_or(SignInError::Expired)?;
            let at = (flow.id, Purpose::SignIn);
            match mail::send_to_username(&state, &req, &mailer, at, username).await {
                Ok(linked) => {
                    let mailer = mailer.linked(linked);
                    email_code_page(&state, &flow, (username, &mailer), (StatusCode::OK, None))
                }
                Err((status, text)) => selector(&state, &flow, username, (status, Some(&text))),
            }
        }
        _ => {
            ctx.insert("passkey_enrol", &false);
            render(&state, StatusCode::OK, "login.html", &ctx)
        }
    })
}

/// "Check your email" for signing in by email.
fn email_code_page(
    state: &AuthnState,
    flow: &OpenFlow,
    (username, mailer): (&str, &Mailer<'_>),
    outcome: (StatusCode, Option<&str>),
) -> HttpResponse {
    let link = mailer.sends_links();
    let page = CodePage {
        sent: mail::sent_to_username(username, link),
        code_action: "/login/email/code",
        resend_action: "/login/select",
        hidden: vec![
            ("username", username.to_owned()),
            ("method", "email".to_owned()),
        ],
        link,
    };
    mail::code_page(state, form(state, flow, username, None), &page, outcome)
}

/// `POST /login/email/code`: a right code signs in.
async fn email_code(
    state: web::Data<AuthnState>,
    Posted(flow, input): Posted<CodeForm>,
) -> Result<HttpResponse, SignInError> {
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    let mailer = offers.email_sign_in.ok_or(SignInError::Expired)?;
    let username = input.username.trim();
    match mail::check(&state, (flow.id, Purpose::SignIn), (&input.code, true)).await? {
        Ok(next) => finish::after_email(&state, &flow, next).await,
        Err(Refused::Wrong(text)) => Ok(email_code_page(
            &state,
            &flow,
            (username, &mailer),
            (StatusCode::UNAUTHORIZED, Some(&text)),
        )),
        Err(Refused::Gone(text)) => Ok(selector(
            &state,
            &flow,
            username,
            (StatusCode::UNAUTHORIZED, Some(text)),
        )),
    }
}

flow_form!(UsernameForm, SelectForm);
