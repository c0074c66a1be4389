//! `/login`: the first page of a sign-in, and the password form. The same answer, after the
//! same work, for an unknown username as for a wrong password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::error::SignInError;
use super::finish;
use super::guard::{OpenFlow, Posted, QueriedFlow, flow_form};
use super::page::{form, render, retry_after, try_again_in};
use super::{AuthnState, client_address, cookies};
use crate::passkeys::Registrant;
use crate::signin::steps::{self, PasswordAttempt, PasswordOutcome};
use crate::signin::{Offers, Proof};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(page))
        .route("", web::post().to(submit));
}

const NO_PASSWORD: &str = "This application does not allow signing in with a password.";

/// `GET /login?flow=…`: the username page (identifier-first) or the password page.
async fn page(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    QueriedFlow(flow): QueriedFlow,
) -> Result<HttpResponse, SignInError> {
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    let hint = flow.policy.login_hint.clone();
    if let Some(settings) = offers.username_first {
        let remembered = settings
            .remember_username
            .then(|| cookies::remembered_username(&req))
            .flatten();
        let known = hint.or(remembered).unwrap_or_default();
        let ctx = form(&state, &flow, &known, None);
        return Ok(render(&state, StatusCode::OK, "username.html", &ctx));
    }
    if offers.password.is_none() && offers.passkey_sign_in.is_none() {
        return Err(SignInError::NotOffered(NO_PASSWORD));
    }
    let ctx = form(&state, &flow, &hint.unwrap_or_default(), None);
    Ok(render(&state, StatusCode::OK, "login.html", &ctx))
}

#[derive(Deserialize)]
struct LoginForm {
    flow: String,
    csrf: String,
    username: String,
    password: String,
    /// `passkey`: create a passkey after the password is verified.
    enrol: Option<String>,
}

/// `POST /login`: a password; then the sign-in completes, or (opting into passkeys) the page
/// that creates one.
async fn submit(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    Posted(flow, input): Posted<LoginForm>,
) -> Result<HttpResponse, SignInError> {
    // The policy is read from the configuration as it is now: a commit applies to the next
    // step of flows already under way.
    let (authenticator, enrol) = {
        let snapshot = state.config.load();
        let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
        let authenticator = offers
            .password
            .ok_or(SignInError::NotOffered(NO_PASSWORD))?;
        (
            authenticator.to_owned(),
            offers.passkey_after_password.is_some(),
        )
    };
    let username = input.username.trim().to_owned();
    let attempt = PasswordAttempt {
        username: username.clone(),
        password: input.password,
        address: client_address(&req, &state.limits.trusted_proxies),
        known_device: super::is_known_device(&state, &req, &username),
    };
    let limits = (attempt, state.limits.password);
    let outcome = steps::check_password(&state.store, &state.passwords, limits, Utc::now());
    match outcome.await? {
        PasswordOutcome::Verified(account) => {
            let enrol = enrol && input.enrol.as_deref() == Some("passkey");
            verified(&state, &flow, &account, (&authenticator, enrol)).await
        }
        PasswordOutcome::Refused { delay } => {
            tracing::info!("password sign-in refused");
            // A refusal after repeated attempts at a username (known or not) comes slower and
            // slower, well before the limit; a right password is not held up.
            tokio::time::sleep(delay).await;
            let wrong = (StatusCode::UNAUTHORIZED, "Wrong username or password.");
            Ok(password_page(&state, &flow, &username, wrong))
        }
        PasswordOutcome::TooMany { retry_after: after } => {
            tracing::warn!("password attempts over the limit");
            let text = format!("Too many sign-in attempts. {}", try_again_in(after));
            let too_many = (StatusCode::TOO_MANY_REQUESTS, text.as_str());
            Ok(retry_after(
                password_page(&state, &flow, &username, too_many),
                after,
            ))
        }
    }
}

/// A verified password: the sign-in completes or, opting into passkeys (`enrol`), the page
/// that creates one comes first; either way the browser becomes a known device of the account.
async fn verified(
    state: &AuthnState,
    flow: &OpenFlow,
    account: &tessera_store::accounts::AccountRow,
    (authenticator, enrol): (&str, bool),
) -> Result<HttpResponse, SignInError> {
    let proof = Proof::password(authenticator);
    let mut response = if enrol {
        // The password was just verified for this flow: the prerequisite for registering a
        // passkey. The sign-in completes when the passkey is created.
        finish::registration_page(state, flow, Registrant::Account(account), &proof).await?
    } else {
        finish::signed_in(state, flow.id, (account.account_id, None), &proof).await?
    };
    let known_device = super::known_device_cookie(state, &flow.browser, &account.username);
    let _ = response.add_cookie(&known_device);
    Ok(response)
}

/// The password page again, with a message.
fn password_page(
    state: &AuthnState,
    flow: &OpenFlow,
    username: &str,
    (status, text): (StatusCode, &str),
) -> HttpResponse {
    let ctx = form(state, flow, username, Some(text));
    render(state, status, "login.html", &ctx)
}

flow_form!(LoginForm);
