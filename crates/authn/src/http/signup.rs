//! Signing up (seed 002): the person's details, a code or link mailed to the address they
//! typed, then the account. No account row exists until the address is verified.
//!
//! - With a passkey: after the address, the registration ceremony; the account and its first
//!   passkey are stored together, in one transaction.
//! - With a password (the standard form, where the client allows a password authenticator whose
//!   account manager enables registration): the password is hashed when the form is posted, kept
//!   with the pending sign-up (only the hash), and the account is created with it once the
//!   address is verified.
//!
//! A taken username is said plainly (it has to be: the person must choose another). A taken
//! address is not: the same "check your email" page is shown, and the address's owner gets a
//! mail saying they have an account already.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use tessera_admin::crypto::passwords as password;
use tessera_store::email::Proves;
use uuid::Uuid;

use super::error::SignInError;
use super::finish::{self, NO_PASSKEY_CREATION};
use super::guard::{FlowFields, OpenFlow, Posted, QueriedFlow, flow_form};
use super::mail::{self, CodePage, Recipient, Refused};
use super::page::{form, render, try_again_in};
use super::{AuthnState, client_address};
use crate::email;
use crate::limits::{self, Attempt as Limit};
use crate::passkeys::SignUp;
use crate::signin::{Mailer, Offers, PendingSignUp, Purpose};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/signup", web::get().to(start))
        .route("/signup", web::post().to(send_code))
        .route("/signup/code", web::post().to(check_code));
}

const PAGE: &str = "signup.html";

fn not_offered() -> SignInError {
    SignInError::NotOffered(NO_PASSKEY_CREATION)
}

/// What the sign-up form posts.
#[derive(Deserialize, Default)]
struct SignUpForm {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
    /// `password` on the "send a new code" form of a password sign-up, which must not turn
    /// into a passkey sign-up for want of the password it does not carry.
    #[serde(default)]
    kind: String,
}

impl SignUpForm {
    /// The details, checked; `Err` names the first problem in words for the form.
    fn validate(&self) -> Result<SignUp, &'static str> {
        let text = |value: &str, max: usize| {
            let value = value.trim();
            (!value.is_empty()
                && value.chars().count() <= max
                && !value.chars().any(char::is_control))
            .then(|| value.to_owned())
        };
        let username =
            text(&self.username, 64).ok_or("Choose a username of at most 64 characters.")?;
        let given_name = text(&self.given_name, 64).ok_or("Enter your given name.")?;
        let family_name = text(&self.family_name, 64).ok_or("Enter your family name.")?;
        let email = text(&self.email, 254)
            .filter(|e| e.parse::<lettre::Address>().is_ok())
            .ok_or("Enter a valid email address.")?;
        let phone = self.phone.trim();
        let phone = if phone.is_empty() {
            None
        } else if phone.len() <= 32
            && phone.chars().filter(char::is_ascii_digit).count() >= 5
            && phone
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            Some(phone.to_owned())
        } else {
            return Err(
                "Enter a phone number with digits only (and + - ( ) spaces), or leave it empty.",
            );
        };
        Ok(SignUp {
            account_id: Uuid::new_v4(),
            username,
            email,
            phone,
            given_name,
            family_name,
        })
    }

    /// The fields the "check your email" page carries so that "send again" can repost them
    /// (never the password: a password sign-up asks for it again).
    fn hidden(&self) -> Vec<(&'static str, String)> {
        vec![
            ("username", self.username.trim().to_owned()),
            ("given_name", self.given_name.trim().to_owned()),
            ("family_name", self.family_name.trim().to_owned()),
            ("email", self.email.trim().to_owned()),
            ("phone", self.phone.trim().to_owned()),
            (
                "kind",
                if self.password.is_empty() && self.kind != "password" {
                    "passkey".to_owned()
                } else {
                    "password".to_owned()
                },
            ),
        ]
    }
}

/// The sign-up form, filled with what was typed.
fn form_page(
    state: &AuthnState,
    flow: &OpenFlow,
    input: &SignUpForm,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    let mut ctx = form(state, flow, input.username.trim(), error);
    ctx.insert("given_name", input.given_name.trim());
    ctx.insert("family_name", input.family_name.trim());
    ctx.insert("email", input.email.trim());
    ctx.insert("phone", input.phone.trim());
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    ctx.insert("password_signup", &offers.password_sign_up.is_some());
    ctx.insert("passkey_signup", &offers.passkey_sign_up().is_some());
    render(state, status, PAGE, &ctx)
}

/// `GET /login/signup`: the form (which says which kinds of sign-up are offered).
async fn start(
    state: web::Data<AuthnState>,
    QueriedFlow(flow): QueriedFlow,
) -> Result<HttpResponse, SignInError> {
    if !Offers::of(&flow.policy, &state.config.load(), state.capabilities()).sign_up() {
        return Err(not_offered());
    }
    let input = SignUpForm {
        username: flow.policy.login_hint.clone().unwrap_or_default(),
        ..SignUpForm::default()
    };
    Ok(form_page(&state, &flow, &input, (StatusCode::OK, None)))
}

/// The "check your email" page of a sign-up.
fn code_page(
    state: &AuthnState,
    flow: &OpenFlow,
    (input, link): (&SignUpForm, bool),
    outcome: (StatusCode, Option<&str>),
) -> HttpResponse {
    let what = if link { "A link" } else { "A six-digit code" };
    let page = CodePage {
        sent: format!(
            "{what} to verify your address is on its way to {}.",
            input.email.trim()
        ),
        code_action: "/login/signup/code",
        resend_action: "/login/signup",
        hidden: input.hidden(),
        link,
    };
    let ctx = form(state, flow, input.username.trim(), None);
    mail::code_page(state, ctx, &page, outcome)
}

/// The mailer for this kind of sign-up (a password makes it a password sign-up; none, a
/// passkey one), or the form's complaint.
fn mailer_for<'a>(offers: &Offers<'a>, input: &SignUpForm) -> Result<Mailer<'a>, &'static str> {
    // The "send a new code" form of a password sign-up does not carry the password.
    if input.kind == "password" && input.password.is_empty() {
        return Err("Enter your password again to get a new code.");
    }
    match (
        offers.passkey_sign_up(),
        offers.password_sign_up,
        input.password.is_empty(),
    ) {
        (Some(enrolment), _, true) => Ok(enrolment.email),
        (_, Some((_, mailer)), false) => {
            if input.password != input.password_again {
                Err("The two passwords differ.")
            } else if password::check_policy(&input.password).is_err() {
                Err("Choose a password of at least 8 characters.")
            } else {
                Ok(mailer)
            }
        }
        _ => Err("Choose a password."),
    }
}

/// Whether the sign-up may go on: `Ok(owner)` (the account that already has the address, if
/// any), or the form's complaint.
async fn check_free(
    state: &AuthnState,
    req: &HttpRequest,
    sign_up: &SignUp,
) -> Result<Result<Option<tessera_store::accounts::AccountRow>, (StatusCode, String)>, SignInError>
{
    // Limited per address typed and per client address, before anything is looked up.
    let now = Utc::now();
    let limits = state.limits.email;
    let address = client_address(req, &state.limits.trusted_proxies);
    let buckets = limits::email_buckets(&sign_up.email, address, false);
    let (username, email) = (sign_up.username.clone(), sign_up.email.clone());
    let looked_up = state
        .store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Limit::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            let username_taken = tessera_store::accounts::by_username(conn, &username)?.is_some();
            let owner = tessera_store::accounts::by_email(conn, &email)?;
            Ok(Ok((username_taken, owner)))
        })
        .await?;
    Ok(match looked_up {
        Ok((false, owner)) => Ok(owner),
        Ok((true, _)) => Err((
            StatusCode::CONFLICT,
            "That username is taken. Choose another, or go back and sign in.".into(),
        )),
        Err(after) => Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many emails were requested. {}", try_again_in(after)),
        )),
    })
}

/// `POST /login/signup`: checks the details and mails a code or link to the address.
async fn send_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    Posted(flow, input): Posted<SignUpForm>,
) -> Result<HttpResponse, SignInError> {
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    if !offers.sign_up() {
        return Err(not_offered());
    }
    let refuse = |status, text: &str| Ok(form_page(&state, &flow, &input, (status, Some(text))));
    let sign_up = match input.validate() {
        Ok(sign_up) => sign_up,
        Err(text) => return refuse(StatusCode::BAD_REQUEST, text),
    };
    let mailer = match mailer_for(&offers, &input) {
        Ok(mailer) => mailer,
        Err(text) => return refuse(StatusCode::BAD_REQUEST, text),
    };
    let owner = match check_free(&state, &req, &sign_up).await? {
        Ok(owner) => owner,
        Err((status, text)) => return refuse(status, &text),
    };
    let (proves, recipient) = challenge(&state, &sign_up, owner, &input.password).await?;
    let at = (flow.id, Purpose::SignUp);
    match mail::deliver(&state, &mailer, at, proves, recipient).await {
        Ok(()) => Ok(code_page(
            &state,
            &flow,
            (&input, mailer.sends_links()),
            (StatusCode::OK, None),
        )),
        Err((status, text)) => refuse(status, &text),
    }
}

/// What the sign-up's emailed code will prove, and who gets the mail: the pending sign-up
/// (with the password's hash, for a password sign-up) mailed to the address, or — when the
/// address has an account already — nothing, and its owner is told so instead. The password
/// is hashed either way, so the answer takes as long.
async fn challenge<'a>(
    state: &AuthnState,
    sign_up: &'a SignUp,
    owner: Option<tessera_store::accounts::AccountRow>,
    password: &str,
) -> Result<(Proves, Recipient<'a>), SignInError> {
    let password_hash = if password.is_empty() {
        None
    } else {
        let hashed = state.passwords.hash(password.to_owned()).await;
        Some(hashed.map_err(|e| {
            tracing::error!(error = %e, "cannot hash a sign-up's password");
            SignInError::Unavailable
        })?)
    };
    if let Some(owner) = owner {
        let mail =
            email::existing_account_mail(&sign_up.email, &state.service_name, &owner.username);
        return Ok((Proves::Nothing, Recipient::Instead(mail)));
    }
    let details = sign_up.clone();
    let pending = match password_hash {
        None => PendingSignUp::Passkey { details },
        Some(password_hash) => PendingSignUp::Password {
            details,
            password_hash,
        },
    };
    let pending = pending.encode().map_err(|_| SignInError::Unavailable)?;
    Ok((
        Proves::SignUp(pending),
        Recipient::Challenge(&sign_up.email),
    ))
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(flatten)]
    details: SignUpForm,
    code: String,
}

impl FlowFields for CodeForm {
    fn flow(&self) -> &str {
        &self.details.flow
    }
    fn csrf(&self) -> &str {
        &self.details.csrf
    }
}

/// `POST /login/signup/code`: a right code starts the registration ceremony of the new
/// account's first passkey, or (a password sign-up) creates the account.
async fn check_code(
    state: web::Data<AuthnState>,
    Posted(flow, input): Posted<CodeForm>,
) -> Result<HttpResponse, SignInError> {
    let link = {
        let snapshot = state.config.load();
        let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
        if !offers.sign_up() {
            return Err(not_offered());
        }
        offers.sign_up_mailer().is_some_and(|m| m.sends_links())
    };
    let details = &input.details;
    match mail::check(&state, (flow.id, Purpose::SignUp), (&input.code, true)).await? {
        Ok(next) => finish::after_email(&state, &flow, next).await,
        Err(Refused::Wrong(text)) => Ok(code_page(
            &state,
            &flow,
            (details, link),
            (StatusCode::UNAUTHORIZED, Some(&text)),
        )),
        Err(Refused::Gone(text)) => Ok(form_page(
            &state,
            &flow,
            details,
            (StatusCode::UNAUTHORIZED, Some(text)),
        )),
    }
}

flow_form!(SignUpForm);
