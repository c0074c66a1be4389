//! "Create a passkey" for clients that sign in with passkeys only (seed 000), which is also
//! account recovery ("lost your passkey?"): the username, a code or link mailed to the
//! account's address, then the registration ceremony. The page after the username reads the
//! same whether or not the account exists, and nothing is mailed for an unknown one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use uuid::Uuid;

use super::AuthnState;
use super::email_step::{self, CodePage, CodeRefusal, ENROLMENT, email_enrolment};
use super::login::{FlowQuery, checked_flow, expired, form, queried_flow, render, unavailable};
use super::passkey_login::{Proof, registration_page};
use crate::flow::Policy;
use crate::passkeys::Registrant;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/passkey/create", web::get().to(start))
        .route("/login/passkey/create", web::post().to(send_code))
        .route("/login/passkey/code", web::post().to(check_code));
}

/// `GET /login/passkey/create`: asks for the username.
async fn start(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    let Some((flow_id, browser, policy)) = queried_flow(&state, &req, &query).await else {
        return expired(&state);
    };
    if email_enrolment(&state, &policy, &state.config.load()).is_none() {
        return not_offered(&state, flow_id, &browser, &policy);
    }
    let hint = policy.login_hint.clone().unwrap_or_default();
    let ctx = form(&state, flow_id, &browser, &policy, &hint, None);
    render(&state, StatusCode::OK, CREATE, &ctx)
}

pub(super) fn not_offered(
    state: &AuthnState,
    flow_id: Uuid,
    browser: &str,
    policy: &Policy,
) -> HttpResponse {
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

const CREATE: &str = "passkey_create.html";

/// The username page again with a message.
fn username_page(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    username: &str,
    (status, error): (StatusCode, &str),
) -> HttpResponse {
    let ctx = form(state, flow_id, browser, policy, username, Some(error));
    render(state, status, CREATE, &ctx)
}

/// The "check your email" page of this path.
fn code_page(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    (username, link): (&str, bool),
    outcome: (StatusCode, Option<&str>),
) -> HttpResponse {
    let what = if link {
        "a sign-in link"
    } else {
        "a six-digit code"
    };
    let page = CodePage {
        sent: format!(
            "If {username} has an account with an email address, {what} is on its way there."
        ),
        code_action: "/login/passkey/code",
        resend_action: "/login/passkey/create",
        hidden: vec![("username", username.to_owned())],
        link,
    };
    let ctx = form(state, flow_id, browser, policy, username, None);
    email_step::code_page(state, ctx, &page, outcome)
}

/// `POST /login/passkey/create`: mails a code or link to the account's address, if there is
/// one.
async fn send_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<UsernameForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
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
        return username_page(
            &state,
            at,
            "",
            (StatusCode::BAD_REQUEST, "Enter your username."),
        );
    }
    let link = email_step::is_link(&enrolment.email.rules);
    let sent = email_step::send_to_username(
        &state,
        &req,
        &enrolment.email,
        (flow_id, ENROLMENT),
        &username,
    )
    .await;
    match sent {
        Ok(linked) => code_page(
            &state,
            at,
            (&username, link || linked),
            (StatusCode::OK, None),
        ),
        Err((status, text)) => username_page(&state, at, &username, (status, &text)),
    }
}

/// `POST /login/passkey/code`: a right code starts the registration ceremony.
async fn check_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<email_step::CodeForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let Some(link) = email_enrolment(&state, &policy, &state.config.load())
        .map(|e| email_step::is_link(&e.email.rules))
    else {
        return not_offered(&state, flow_id, &browser, &policy);
    };
    let username = input.username.trim();
    let at = (flow_id, browser.as_str(), &policy);
    match email_step::check(&state, flow_id, ENROLMENT, &input.code).await {
        Ok(proves) => {
            email_step::proved(&state, (flow_id, &browser), &policy, ENROLMENT, proves).await
        }
        Err(CodeRefusal::Wrong(text)) => code_page(
            &state,
            at,
            (username, link),
            (StatusCode::UNAUTHORIZED, Some(&text)),
        ),
        Err(CodeRefusal::Gone) => username_page(
            &state,
            at,
            username,
            (
                StatusCode::UNAUTHORIZED,
                "That code has expired or was used up. Ask for a new one.",
            ),
        ),
        Err(CodeRefusal::Unavailable) => unavailable(&state),
    }
}

/// The registration ceremony for an account whose address was just proved.
pub(super) async fn register_for_account(
    state: &AuthnState,
    (flow_id, browser): (Uuid, &str),
    policy: &Policy,
    account_id: Uuid,
) -> HttpResponse {
    let Some(authenticator) =
        email_enrolment(state, policy, &state.config.load()).map(|e| e.passkeys.to_owned())
    else {
        return not_offered(state, flow_id, browser, policy);
    };
    let proof = Proof {
        amr: vec!["otp".into()],
        authenticator,
    };
    let account = state
        .store
        .run(move |conn| tessera_store::accounts::by_id(conn, account_id))
        .await;
    let Ok(Some(account)) = account else {
        return unavailable(state);
    };
    registration_page(
        state,
        (flow_id, browser),
        policy,
        Registrant::Account(&account),
        &proof,
    )
    .await
}
