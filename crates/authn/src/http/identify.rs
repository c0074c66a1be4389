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
use tessera_admin::Snapshot;
use uuid::Uuid;

use super::email_step::{
    self, CodePage, CodeRefusal, Mailer, SIGN_IN, email_enrolment, email_sign_in,
};
use super::login::{checked_flow, complete_sign_in, expired, form, render, unavailable};
use super::passkey_login::offer;
use super::{AuthnState, cookies};
use crate::flow::{self, Policy};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/identify", web::post().to(identify))
        .route("/login/select", web::post().to(select))
        .route("/login/email/code", web::post().to(email_code));
}

/// The first page of an identifier-first sign-in, or `None` when the policy allows no
/// `username` authenticator.
pub(super) fn username_page(
    state: &AuthnState,
    req: &HttpRequest,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
) -> Option<HttpResponse> {
    let snapshot = state.config.load();
    let settings = flow::username_authenticator(policy, &snapshot)?;
    let known = policy
        .login_hint
        .clone()
        .or_else(|| {
            settings
                .remember_username
                .then(|| cookies::remembered_username(req))
                .flatten()
        })
        .unwrap_or_default();
    let ctx = form(state, flow_id, browser, policy, &known, None);
    Some(render(state, StatusCode::OK, "username.html", &ctx))
}

#[derive(Deserialize)]
struct UsernameForm {
    flow: String,
    csrf: String,
    username: String,
}

/// The ways the selector offers, as (value, label).
fn methods(
    state: &AuthnState,
    policy: &Policy,
    snapshot: &Snapshot,
) -> Vec<(&'static str, &'static str)> {
    let mut methods = Vec::new();
    if registration_prerequisite(state, policy, snapshot).is_some() {
        methods.push(("passkey", "Passkey"));
    }
    if !flow::password_authenticators(policy, snapshot).is_empty() {
        methods.push(("password", "Password"));
    }
    if let Some(mailer) = email_sign_in(state, policy, snapshot) {
        methods.push(if email_step::is_link(&mailer.rules) {
            ("email", "Email link")
        } else {
            ("email", "Email code")
        });
    }
    methods
}

/// How someone without a passkey proves who they are before creating one.
enum Prerequisite {
    /// The password form (then the ceremony).
    Password,
    /// A code or link mailed to the account's address (then the ceremony).
    Email,
}

fn registration_prerequisite(
    state: &AuthnState,
    policy: &Policy,
    snapshot: &Snapshot,
) -> Option<Prerequisite> {
    if offer(state, policy, snapshot).enrol.is_some() {
        Some(Prerequisite::Password)
    } else if email_enrolment(state, policy, snapshot).is_some() {
        Some(Prerequisite::Email)
    } else {
        None
    }
}

/// `POST /login/identify`: remembers the username and routes on it.
async fn identify(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<UsernameForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let snapshot = state.config.load();
    let Some(settings) = flow::username_authenticator(&policy, &snapshot) else {
        return expired(&state);
    };
    let username = input.username.trim().to_owned();
    let at = (flow_id, browser.as_str(), &policy);
    if username.is_empty() || username.chars().count() > 256 {
        let ctx = form(
            &state,
            flow_id,
            &browser,
            &policy,
            "",
            Some("Enter your username."),
        );
        return render(&state, StatusCode::BAD_REQUEST, "username.html", &ctx);
    }
    let lookup = username.clone();
    let buckets =
        crate::limits::identify_buckets(super::client_address(&req, &state.limits.trusted_proxies));
    let limits = crate::limits::IDENTIFY_LIMITS;
    let now = Utc::now();
    let found = state
        .store
        .run(move |conn| {
            let counts = tessera_store::rate_limits::hit(conn, &buckets, now, limits.window)?;
            if let crate::limits::Attempt::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            tessera_store::accounts::by_username_with_passkeys(conn, &lookup).map(Ok)
        })
        .await;
    let found = match found {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(retry_after)) => {
            tracing::warn!("identifier-first look-ups over the limit");
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let text = format!("Too many sign-in attempts. Try again in {minutes} minutes.");
            let ctx = form(&state, flow_id, &browser, &policy, &username, Some(&text));
            let mut response = render(&state, StatusCode::TOO_MANY_REQUESTS, "username.html", &ctx);
            if let Ok(value) = retry_after.as_secs().to_string().parse() {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            return response;
        }
        Err(e) => Err(e),
    };
    let mut response = match found {
        Ok(Some((account, true)))
            if state.passkeys.is_some()
                && !flow::passkey_authenticators(&policy, &snapshot).is_empty() =>
        {
            passkey_prompt(&state, at, &account).await
        }
        Ok(_) => selector(&state, at, &username, (StatusCode::OK, None)),
        Err(e) => {
            tracing::error!(error = %e, "cannot look up a username");
            return unavailable(&state);
        }
    };
    if settings.remember_username {
        let _ = response.add_cookie(&cookies::username_cookie(&username, state.secure_cookies));
    }
    response
}

/// "How do you want to sign in?", with a message when something went wrong.
fn selector(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    username: &str,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    let mut ctx = form(state, flow_id, browser, policy, username, error);
    ctx.insert("methods", &methods(state, policy, &state.config.load()));
    render(state, status, "select.html", &ctx)
}

/// The passkey prompt for an account that has passkeys: a challenge its passkeys answer.
async fn passkey_prompt(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    account: &tessera_store::accounts::AccountRow,
) -> HttpResponse {
    let Some(passkeys) = &state.passkeys else {
        return expired(state);
    };
    let started = passkeys
        .begin_authentication(
            &state.store,
            Some(account.account_id),
            Some(flow_id),
            Utc::now(),
        )
        .await;
    let (ceremony, options) = match started {
        Ok(started) => started,
        Err(e) => {
            tracing::error!(error = %e, "cannot start a passkey sign-in");
            return unavailable(state);
        }
    };
    let Ok(options) = serde_json::to_string(&options) else {
        return unavailable(state);
    };
    let mut ctx = form(state, flow_id, browser, policy, &account.username, None);
    ctx.insert("ceremony", &ceremony.to_string());
    ctx.insert("options", &super::script_json(&options));
    render(state, StatusCode::OK, "passkey_prompt.html", &ctx)
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
    input: web::Form<SelectForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let snapshot = state.config.load();
    let username = input.username.trim();
    // Enforced again: the configuration may have changed since the selector was shown.
    if !methods(&state, &policy, &snapshot)
        .iter()
        .any(|(value, _)| *value == input.method)
    {
        let refusal = "That way of signing in is not available here.";
        let at = (flow_id, browser.as_str(), &policy);
        return selector(&state, at, username, (StatusCode::FORBIDDEN, Some(refusal)));
    }
    let mut ctx = form(&state, flow_id, &browser, &policy, username, None);
    // The page after the selector is about this username and this method only.
    ctx.insert("identified", &true);
    ctx.insert("passkey_signin", &false);
    match (
        input.method.as_str(),
        registration_prerequisite(&state, &policy, &snapshot),
    ) {
        ("passkey", Some(Prerequisite::Password)) => {
            ctx.insert("enrol_only", &true);
            render(&state, StatusCode::OK, "login.html", &ctx)
        }
        ("passkey", Some(Prerequisite::Email)) => {
            render(&state, StatusCode::OK, "passkey_create.html", &ctx)
        }
        ("email", _) => {
            let Some(mailer) = email_sign_in(&state, &policy, &snapshot) else {
                return expired(&state);
            };
            let at = (flow_id, browser.as_str(), &policy);
            match email_step::send_to_username(&state, &req, &mailer, (flow_id, SIGN_IN), username)
                .await
            {
                Ok(linked) => {
                    let mailer = email_step::Mailer {
                        rules: email_step::linked(mailer.rules, linked),
                        ..mailer
                    };
                    email_code_page(&state, at, (username, &mailer), (StatusCode::OK, None))
                }
                Err((status, text)) => selector(&state, at, username, (status, Some(&text))),
            }
        }
        _ => {
            ctx.insert("passkey_enrol", &false);
            render(&state, StatusCode::OK, "login.html", &ctx)
        }
    }
}

/// "Check your email" for signing in by email.
fn email_code_page(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    (username, mailer): (&str, &Mailer<'_>),
    outcome: (StatusCode, Option<&str>),
) -> HttpResponse {
    let link = email_step::is_link(&mailer.rules);
    let what = if link {
        "a sign-in link"
    } else {
        "a six-digit code"
    };
    let page = CodePage {
        sent: format!(
            "If {username} has an account with an email address, {what} is on its way there."
        ),
        code_action: "/login/email/code",
        resend_action: "/login/select",
        hidden: vec![
            ("username", username.to_owned()),
            ("method", "email".to_owned()),
        ],
        link,
    };
    let ctx = form(state, flow_id, browser, policy, username, None);
    email_step::code_page(state, ctx, &page, outcome)
}

/// `POST /login/email/code`: a right code signs in.
async fn email_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<email_step::CodeForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let snapshot = state.config.load();
    let Some(mailer) = email_sign_in(&state, &policy, &snapshot) else {
        return expired(&state);
    };
    let username = input.username.trim();
    let at = (flow_id, browser.as_str(), &policy);
    match email_step::check(&state, flow_id, SIGN_IN, &input.code).await {
        Ok(proves) => {
            email_step::proved(&state, (flow_id, &browser), &policy, SIGN_IN, proves).await
        }
        Err(CodeRefusal::Wrong(text)) => email_code_page(
            &state,
            at,
            (username, &mailer),
            (StatusCode::UNAUTHORIZED, Some(&text)),
        ),
        Err(CodeRefusal::Gone) => {
            let gone = "That code has expired or was used up. Ask for a new one.";
            selector(&state, at, username, (StatusCode::UNAUTHORIZED, Some(gone)))
        }
        Err(CodeRefusal::Unavailable) => unavailable(&state),
    }
}

/// Completes a flow whose user proved their address by email (`amr` `otp`), if the client
/// still allows signing in by email.
pub(super) async fn signed_in_by_email(
    state: &AuthnState,
    flow_id: Uuid,
    policy: &Policy,
    account_id: Uuid,
) -> HttpResponse {
    let Some(authenticator) =
        email_sign_in(state, policy, &state.config.load()).map(|m| m.id.to_owned())
    else {
        return expired(state);
    };
    complete_sign_in(
        state,
        flow_id,
        (account_id, None),
        vec!["otp".into()],
        &authenticator,
    )
    .await
}
