//! "Create a passkey" for clients that sign in with passkeys only (seed 000), which is also
//! account recovery ("lost your passkey?"): the username, a code or link mailed to the
//! account's address, then the registration ceremony. The page after the username reads the
//! same whether or not the account exists, and nothing is mailed for an unknown one.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::AuthnState;
use super::error::SignInError;
use super::finish::{self, NO_PASSKEY_CREATION};
use super::guard::{OpenFlow, Posted, QueriedFlow, flow_form};
use super::mail::{self, CodeForm, CodePage, Refused};
use super::page::{form, render};
use crate::signin::offers::EmailEnrolment;
use crate::signin::{Offers, Purpose};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/passkey/create", web::get().to(start))
        .route("/passkey/create", web::post().to(send_code))
        .route("/passkey/code", web::post().to(check_code));
}

const CREATE: &str = "passkey_create.html";

/// The enrolment the flow's policy offers, or the refusal.
fn enrolment<'a>(
    state: &AuthnState,
    flow: &OpenFlow,
    snapshot: &'a tessera_admin::Snapshot,
) -> Result<EmailEnrolment<'a>, SignInError> {
    Offers::of(&flow.policy, snapshot, state.capabilities())
        .passkey_by_email
        .ok_or(SignInError::NotOffered(NO_PASSKEY_CREATION))
}

/// `GET /login/passkey/create`: asks for the username.
async fn start(
    state: web::Data<AuthnState>,
    QueriedFlow(flow): QueriedFlow,
) -> Result<HttpResponse, SignInError> {
    enrolment(&state, &flow, &state.config.load())?;
    let hint = flow.policy.login_hint.clone().unwrap_or_default();
    let ctx = form(&state, &flow, &hint, None);
    Ok(render(&state, StatusCode::OK, CREATE, &ctx))
}

#[derive(Deserialize)]
struct UsernameForm {
    flow: String,
    csrf: String,
    username: String,
}

/// The username page again with a message.
fn username_page(
    state: &AuthnState,
    flow: &OpenFlow,
    username: &str,
    (status, error): (StatusCode, &str),
) -> HttpResponse {
    let ctx = form(state, flow, username, Some(error));
    render(state, status, CREATE, &ctx)
}

/// The "check your email" page of this path.
fn code_page(
    state: &AuthnState,
    flow: &OpenFlow,
    (username, link): (&str, bool),
    outcome: (StatusCode, Option<&str>),
) -> HttpResponse {
    let page = CodePage {
        sent: mail::sent_to_username(username, link),
        code_action: "/login/passkey/code",
        resend_action: "/login/passkey/create",
        hidden: vec![("username", username.to_owned())],
        link,
    };
    mail::code_page(state, form(state, flow, username, None), &page, outcome)
}

/// `POST /login/passkey/create`: mails a code or link to the account's address, if there is
/// one.
async fn send_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    Posted(flow, input): Posted<UsernameForm>,
) -> Result<HttpResponse, SignInError> {
    let snapshot = state.config.load();
    let enrolment = enrolment(&state, &flow, &snapshot)?;
    let username = input.username.trim();
    if username.is_empty() {
        let empty = (StatusCode::BAD_REQUEST, "Enter your username.");
        return Ok(username_page(&state, &flow, "", empty));
    }
    let at = (flow.id, Purpose::Enrolment);
    Ok(
        match mail::send_to_username(&state, &req, &enrolment.email, at, username).await {
            Ok(linked) => {
                let link = enrolment.email.sends_links() || linked;
                code_page(&state, &flow, (username, link), (StatusCode::OK, None))
            }
            Err((status, text)) => username_page(&state, &flow, username, (status, &text)),
        },
    )
}

/// `POST /login/passkey/code`: a right code starts the registration ceremony.
async fn check_code(
    state: web::Data<AuthnState>,
    Posted(flow, input): Posted<CodeForm>,
) -> Result<HttpResponse, SignInError> {
    let link = enrolment(&state, &flow, &state.config.load())?
        .email
        .sends_links();
    let username = input.username.trim();
    match mail::check(&state, (flow.id, Purpose::Enrolment), (&input.code, true)).await? {
        Ok(next) => finish::after_email(&state, &flow, next).await,
        Err(Refused::Wrong(text)) => Ok(code_page(
            &state,
            &flow,
            (username, link),
            (StatusCode::UNAUTHORIZED, Some(&text)),
        )),
        Err(Refused::Gone(text)) => Ok(username_page(
            &state,
            &flow,
            username,
            (StatusCode::UNAUTHORIZED, text),
        )),
    }
}

flow_form!(UsernameForm);
