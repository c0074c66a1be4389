//! "Create a passkey" for clients that sign in with passkeys only (seed 000), which is also
//! account recovery ("lost your passkey?"): the username, a code mailed to the account's
//! address, then the registration ceremony. The page after the username reads the same whether
//! or not the account exists, and nothing is mailed for an unknown one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use tessera_admin::Snapshot;
use tessera_admin::config::model::{AuthenticatorKind, EmailDelivery, EmailProvider};
use tessera_store::email::Attempt;
use uuid::Uuid;

use super::login::{expired, form, open_flow, render, unavailable};
use super::passkey_login::{Proof, checked_flow, registration_page};
use super::{AuthnState, client_address};
use crate::email::{self, CodeRules};
use crate::flow::{self, Policy};
use crate::limits::{self, Attempt as Limit};

const PURPOSE: &str = "passkey-registration";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/passkey/create", web::get().to(start))
        .route("/login/passkey/create", web::post().to(send_code))
        .route("/login/passkey/code", web::post().to(check_code));
}

/// A passkeys authenticator the policy allows whose registration is proved by an email code.
pub(super) struct EmailEnrolment<'a> {
    /// The passkeys authenticator (the flow completes with it).
    pub passkeys: &'a str,
    /// Code rules of the email authenticator.
    pub rules: CodeRules,
    /// Where its mail goes out.
    pub provider: &'a EmailProvider,
}

pub(super) fn email_enrolment<'a>(
    state: &AuthnState,
    policy: &Policy,
    snapshot: &'a Snapshot,
) -> Option<EmailEnrolment<'a>> {
    state.passkeys.as_ref()?;
    flow::passkey_authenticators(policy, snapshot)
        .into_iter()
        .filter(|(_, p, _)| p.allow_registration_during_login)
        .find_map(|(id, _, required)| {
            let prerequisite = snapshot.config.authenticator(required?)?;
            let AuthenticatorKind::Email(mail) = &prerequisite.kind else {
                return None;
            };
            // Links are not sent yet; a link-mode authenticator offers nothing here.
            if mail.delivery != EmailDelivery::Code {
                return None;
            }
            let provider_id = mail
                .email_provider
                .as_deref()
                .or(snapshot.config.default_email_provider.as_deref())?;
            let provider = snapshot
                .config
                .email_providers
                .iter()
                .find(|p| p.id == provider_id)?;
            Some(EmailEnrolment {
                passkeys: id,
                rules: CodeRules {
                    max_sends: mail.max_challenges_sent,
                    max_attempts: mail.max_allowed_attempts,
                    lifetime: mail.otp_lifetime,
                },
                provider,
            })
        })
}

#[derive(Deserialize)]
struct FlowQuery {
    flow: Option<String>,
}

/// `GET /login/passkey/create`: asks for the username.
async fn start(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    let Some(flow_id) = query.flow.as_deref().and_then(|f| Uuid::parse_str(f).ok()) else {
        return expired(&state);
    };
    let Some((browser, policy)) = open_flow(&state, &req, flow_id).await else {
        return expired(&state);
    };
    if email_enrolment(&state, &policy, &state.config.load()).is_none() {
        return not_offered(&state, flow_id, &browser, &policy);
    }
    let hint = policy.login_hint.clone().unwrap_or_default();
    page(
        &state,
        (flow_id, &browser, &policy),
        CREATE,
        &hint,
        (StatusCode::OK, None),
    )
}

fn not_offered(state: &AuthnState, flow_id: Uuid, browser: &str, policy: &Policy) -> HttpResponse {
    let ctx = form(
        state,
        flow_id,
        browser,
        policy,
        "",
        Some("This application does not offer creating a passkey here."),
    );
    render(state, StatusCode::FORBIDDEN, "login.html", &ctx)
}

#[derive(Deserialize)]
struct UsernameForm {
    flow: String,
    csrf: String,
    username: String,
}

/// One of this module's pages (`passkey_create.html`, `passkey_code.html`) for the flow.
fn page(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    template: &str,
    username: &str,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    let ctx = form(state, flow_id, browser, policy, username, error);
    render(state, status, template, &ctx)
}

const CREATE: &str = "passkey_create.html";
const CODE: &str = "passkey_code.html";

/// `POST /login/passkey/create`: mails a code to the account's address, if there is one.
async fn send_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<UsernameForm>,
) -> HttpResponse {
    let Some((flow_id, browser, policy)) =
        checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let snapshot = state.config.load();
    let Some(enrolment) = email_enrolment(&state, &policy, &snapshot) else {
        return not_offered(&state, flow_id, &browser, &policy);
    };
    let username = input.username.trim().to_owned();
    let at = (flow_id, browser.as_str(), &policy);
    if username.is_empty() {
        let error = (StatusCode::BAD_REQUEST, Some("Enter your username."));
        return page(&state, at, CREATE, "", error);
    }
    // Counted like password attempts, in buckets of their own, before anything is looked up.
    let now = Utc::now();
    let limits = state.limits.email;
    let buckets = limits::email_buckets(
        &username,
        client_address(&req, &state.limits.trusted_proxies),
    );
    let lookup = username.clone();
    let looked_up = state
        .store
        .run(move |conn| {
            let counts = tessera_store::rate_limits::hit(conn, &buckets, now, limits.window)?;
            if let Limit::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            tessera_store::accounts::by_username(conn, &lookup).map(Ok)
        })
        .await;
    let account = match looked_up {
        Ok(Ok(account)) => account,
        Ok(Err(retry_after)) => {
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let text = format!("Too many codes were requested. Try again in {minutes} minutes.");
            let error = (StatusCode::TOO_MANY_REQUESTS, Some(text.as_str()));
            return page(&state, at, CREATE, &username, error);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look up an account for an email code");
            return unavailable(&state);
        }
    };
    let recipient = account
        .as_ref()
        .and_then(|a| a.email.clone().map(|to| (a.account_id, to)));
    let code = match email::issue_code(
        &state.store,
        flow_id,
        PURPOSE,
        recipient.as_ref().map(|(id, _)| *id),
        enrolment.rules,
        now,
    )
    .await
    {
        Ok(code) => code,
        Err(email::EmailError::TooManySends) => {
            let text =
                "No more codes can be sent for this sign-in. Start again from the application.";
            let error = (StatusCode::TOO_MANY_REQUESTS, Some(text));
            return page(&state, at, CREATE, &username, error);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot issue an email code");
            return unavailable(&state);
        }
    };
    if let Some((_, to)) = recipient {
        let minutes = enrolment.rules.lifetime.as_secs().div_ceil(60).max(1);
        let mail = email::code_mail(&to, &state.service_name, &code, minutes);
        let sent = match &state.secrets {
            Some(secrets) => email::send(enrolment.provider, secrets, &mail).await,
            None => Err(email::EmailError::Secret),
        };
        if let Err(e) = sent {
            tracing::error!(error = %e, "cannot send an email code");
            let text = "The email could not be sent just now. Try again in a moment.";
            let error = (StatusCode::SERVICE_UNAVAILABLE, Some(text));
            return page(&state, at, CREATE, &username, error);
        }
    }
    page(&state, at, CODE, &username, (StatusCode::OK, None))
}

#[derive(Deserialize)]
struct CodeForm {
    flow: String,
    csrf: String,
    username: String,
    code: String,
}

/// `POST /login/passkey/code`: a right code starts the registration ceremony.
async fn check_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<CodeForm>,
) -> HttpResponse {
    let Some((flow_id, browser, policy)) =
        checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let snapshot = state.config.load();
    let Some(enrolment) = email_enrolment(&state, &policy, &snapshot) else {
        return not_offered(&state, flow_id, &browser, &policy);
    };
    let passkeys_id = enrolment.passkeys.to_owned();
    let username = input.username.trim().to_owned();
    let at = (flow_id, browser.as_str(), &policy);
    let checked = email::check_code(&state.store, flow_id, PURPOSE, &input.code, Utc::now()).await;
    let account_id = match checked {
        Ok(Attempt::Matched(account_id)) => account_id,
        Ok(Attempt::Wrong { remaining }) if remaining > 0 => {
            let text = format!(
                "That code is not right. {remaining} {} left.",
                if remaining == 1 { "try" } else { "tries" }
            );
            return page(
                &state,
                at,
                CODE,
                &username,
                (StatusCode::UNAUTHORIZED, Some(&text)),
            );
        }
        Ok(_) => {
            let text = "That code has expired or was used up. Ask for a new one.";
            return page(
                &state,
                at,
                CREATE,
                &username,
                (StatusCode::UNAUTHORIZED, Some(text)),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check an email code");
            return unavailable(&state);
        }
    };
    let account = state
        .store
        .run(move |conn| tessera_store::accounts::by_id(conn, account_id))
        .await;
    let Ok(Some(account)) = account else {
        return unavailable(&state);
    };
    let proof = Proof {
        amr: vec!["otp".into()],
        authenticator: passkeys_id,
    };
    registration_page(&state, (flow_id, &browser), &policy, &account, &proof).await
}
