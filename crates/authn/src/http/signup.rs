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
use serde::{Deserialize, Serialize};
use tessera_admin::Snapshot;
use tessera_store::email::Proves;
use uuid::Uuid;

use super::email_step::{
    self, CodePage, CodeRefusal, EmailEnrolment, Mailer, Recipient, SIGN_UP, email_enrolment,
};
use super::login::{
    FlowQuery, checked_flow, complete_sign_in, expired, form, message, queried_flow, render,
    unavailable,
};
use super::passkey_email::not_offered;
use super::passkey_login::{Proof, registration_page};
use super::{AuthnState, client_address};
use crate::flow::Policy;
use crate::limits::{self, Attempt as Limit};
use crate::passkeys::{Registrant, SignUp};
use crate::{email, password};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/signup", web::get().to(start))
        .route("/login/signup", web::post().to(send_code))
        .route("/login/signup/code", web::post().to(check_code));
}

const PAGE: &str = "signup.html";

/// The kinds of sign-up a policy offers.
struct Offer<'a> {
    /// With a passkey (and the email authenticator that verifies the address).
    passkey: Option<EmailEnrolment<'a>>,
    /// With a password: the password authenticator and the email authenticator.
    password: Option<(&'a str, Mailer<'a>)>,
}

impl<'a> Offer<'a> {
    fn of(state: &AuthnState, policy: &Policy, snapshot: &'a Snapshot) -> Self {
        Offer {
            passkey: email_enrolment(state, policy, snapshot).filter(|e| e.sign_up),
            password: email_step::password_sign_up(state, policy, snapshot),
        }
    }

    fn any(&self) -> bool {
        self.passkey.is_some() || self.password.is_some()
    }

    /// Whether the "check your email" page speaks of a link.
    fn link(&self) -> bool {
        self.passkey
            .as_ref()
            .map(|e| &e.email)
            .or(self.password.as_ref().map(|(_, m)| m))
            .is_some_and(|m| email_step::is_link(&m.rules))
    }
}

/// A sign-up waiting for its address to be verified, as kept with the email challenge.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Pending {
    /// The first passkey is created next.
    Passkey { details: SignUp },
    /// The account is created with this password hash.
    Password {
        details: SignUp,
        password_hash: String,
    },
}

/// Does the policy let people sign up here?
pub(super) fn offered(state: &AuthnState, policy: &Policy) -> bool {
    Offer::of(state, policy, &state.config.load()).any()
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
    (flow_id, browser, policy): (Uuid, &str, &Policy),
    input: &SignUpForm,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    let mut ctx = form(
        state,
        flow_id,
        browser,
        policy,
        input.username.trim(),
        error,
    );
    ctx.insert("given_name", input.given_name.trim());
    ctx.insert("family_name", input.family_name.trim());
    ctx.insert("email", input.email.trim());
    ctx.insert("phone", input.phone.trim());
    let snapshot = state.config.load();
    let offer = Offer::of(state, policy, &snapshot);
    ctx.insert("password_signup", &offer.password.is_some());
    ctx.insert("passkey_signup", &offer.passkey.is_some());
    render(state, status, PAGE, &ctx)
}

/// `GET /login/signup`: the form.
async fn start(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    let Some((flow_id, browser, policy)) = queried_flow(&state, &req, &query).await else {
        return expired(&state);
    };
    if !offered(&state, &policy) {
        return not_offered(&state, flow_id, &browser, &policy);
    }
    // (The form says which kinds of sign-up are offered.)
    let input = SignUpForm {
        username: policy.login_hint.clone().unwrap_or_default(),
        ..SignUpForm::default()
    };
    form_page(
        &state,
        (flow_id, &browser, &policy),
        &input,
        (StatusCode::OK, None),
    )
}

/// The "check your email" page of a sign-up.
fn code_page(
    state: &AuthnState,
    (flow_id, browser, policy): (Uuid, &str, &Policy),
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
    let ctx = form(state, flow_id, browser, policy, input.username.trim(), None);
    email_step::code_page(state, ctx, &page, outcome)
}

/// `POST /login/signup`: checks the details and mails a code or link to the address.
async fn send_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<SignUpForm>,
) -> HttpResponse {
    let Ok((flow_id, browser, policy)) = checked_flow(&state, &req, &input.flow, &input.csrf).await
    else {
        return expired(&state);
    };
    let snapshot = state.config.load();
    let offer = Offer::of(&state, &policy, &snapshot);
    if !offer.any() {
        return not_offered(&state, flow_id, &browser, &policy);
    }
    let at = (flow_id, browser.as_str(), &policy);
    let sign_up = match input.validate() {
        Ok(sign_up) => sign_up,
        Err(text) => return form_page(&state, at, &input, (StatusCode::BAD_REQUEST, Some(text))),
    };
    // A password makes it a password sign-up; none, a passkey one.
    if input.kind == "password" && input.password.is_empty() {
        let text = "Enter your password again to get a new code.";
        return form_page(&state, at, &input, (StatusCode::BAD_REQUEST, Some(text)));
    }
    let mailer = match (&offer, input.password.is_empty()) {
        (
            Offer {
                passkey: Some(enrolment),
                ..
            },
            true,
        ) => enrolment.email,
        (
            Offer {
                password: Some((_, mailer)),
                ..
            },
            false,
        ) => {
            let problem = if input.password != input.password_again {
                Some("The two passwords differ.")
            } else if password::check_policy(&input.password).is_err() {
                Some("Choose a password of at least 8 characters.")
            } else {
                None
            };
            if let Some(text) = problem {
                return form_page(&state, at, &input, (StatusCode::BAD_REQUEST, Some(text)));
            }
            *mailer
        }
        _ => {
            let text = "Choose a password.";
            return form_page(&state, at, &input, (StatusCode::BAD_REQUEST, Some(text)));
        }
    };
    // Limited per address typed and per client address, before anything is looked up.
    let now = Utc::now();
    let limits = state.limits.email;
    let buckets = limits::email_buckets(
        &sign_up.email,
        client_address(&req, &state.limits.trusted_proxies),
        false,
    );
    let (username, address) = (sign_up.username.clone(), sign_up.email.clone());
    let looked_up = state
        .store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Limit::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            let username_taken = tessera_store::accounts::by_username(conn, &username)?.is_some();
            let owner = tessera_store::accounts::by_email(conn, &address)?;
            Ok(Ok((username_taken, owner)))
        })
        .await;
    let owner = match looked_up {
        Ok(Ok((false, owner))) => owner,
        Ok(Ok((true, _))) => {
            let text = "That username is taken. Choose another, or go back and sign in.";
            return form_page(&state, at, &input, (StatusCode::CONFLICT, Some(text)));
        }
        Ok(Err(retry_after)) => {
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            let text = format!("Too many emails were requested. Try again in {minutes} minutes.");
            return form_page(
                &state,
                at,
                &input,
                (StatusCode::TOO_MANY_REQUESTS, Some(&text)),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a sign-up");
            return unavailable(&state);
        }
    };
    // Hashed now, after the limits and the username check, and whether or not the address
    // has an account (the answer must take as long either way); only the hash is kept.
    let password_hash = if input.password.is_empty() {
        None
    } else {
        match state.passwords.hash(input.password.clone()).await {
            Ok(hash) => Some(hash),
            Err(e) => {
                tracing::error!(error = %e, "cannot hash a sign-up's password");
                return unavailable(&state);
            }
        }
    };
    let (proves, recipient) = match owner {
        Some(owner) => (
            Proves::Nothing,
            Recipient::Instead(email::existing_account_mail(
                &sign_up.email,
                &state.service_name,
                &owner.username,
            )),
        ),
        None => {
            let details = sign_up.clone();
            let pending = match password_hash {
                None => Pending::Passkey { details },
                Some(password_hash) => Pending::Password {
                    details,
                    password_hash,
                },
            };
            match serde_json::to_value(&pending) {
                Ok(pending) => (
                    Proves::SignUp(pending),
                    Recipient::Challenge(&sign_up.email),
                ),
                Err(_) => return unavailable(&state),
            }
        }
    };
    let link = email_step::is_link(&mailer.rules);
    match email_step::deliver(&state, &mailer, (flow_id, SIGN_UP), proves, recipient).await {
        Ok(()) => code_page(&state, at, (&input, link), (StatusCode::OK, None)),
        Err((status, text)) => form_page(&state, at, &input, (status, Some(text))),
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(flatten)]
    details: SignUpForm,
    code: String,
}

/// `POST /login/signup/code`: a right code starts the registration ceremony of the new
/// account's first passkey.
async fn check_code(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<CodeForm>,
) -> HttpResponse {
    let details = &input.details;
    let Ok((flow_id, browser, policy)) =
        checked_flow(&state, &req, &details.flow, &details.csrf).await
    else {
        return expired(&state);
    };
    let (offered, link) = {
        let snapshot = state.config.load();
        let offer = Offer::of(&state, &policy, &snapshot);
        (offer.any(), offer.link())
    };
    if !offered {
        return not_offered(&state, flow_id, &browser, &policy);
    }
    let at = (flow_id, browser.as_str(), &policy);
    match email_step::check(&state, flow_id, SIGN_UP, &input.code).await {
        Ok(proves) => {
            email_step::proved(&state, (flow_id, &browser), &policy, SIGN_UP, proves).await
        }
        Err(CodeRefusal::Wrong(text)) => code_page(
            &state,
            at,
            (details, link),
            (StatusCode::UNAUTHORIZED, Some(&text)),
        ),
        Err(CodeRefusal::Gone) => form_page(
            &state,
            at,
            details,
            (
                StatusCode::UNAUTHORIZED,
                Some("That code has expired or was used up. Ask for a new one."),
            ),
        ),
        Err(CodeRefusal::Unavailable) => unavailable(&state),
    }
}

/// A sign-up whose address was just verified: the registration ceremony of its first passkey,
/// or (a password sign-up) the account itself, and the sign-in completes.
pub(super) async fn register_new_account(
    state: &AuthnState,
    (flow_id, browser): (Uuid, &str),
    policy: &Policy,
    pending: serde_json::Value,
) -> HttpResponse {
    let Ok(pending) = serde_json::from_value::<Pending>(pending) else {
        return unavailable(state);
    };
    // The client must still offer this kind of sign-up.
    let (passkeys, password) = {
        let snapshot = state.config.load();
        let offer = Offer::of(state, policy, &snapshot);
        (
            offer.passkey.map(|e| e.passkeys.to_owned()),
            offer.password.map(|(id, _)| id.to_owned()),
        )
    };
    match (pending, passkeys, password) {
        (Pending::Passkey { details }, Some(authenticator), _) => {
            let proof = Proof {
                amr: vec!["otp".into()],
                authenticator,
            };
            registration_page(
                state,
                (flow_id, browser),
                policy,
                Registrant::SignUp(&details),
                &proof,
            )
            .await
        }
        (
            Pending::Password {
                details,
                password_hash,
            },
            _,
            Some(authenticator),
        ) => create_with_password(state, flow_id, (&details, &password_hash), &authenticator).await,
        _ => not_offered(state, flow_id, browser, policy),
    }
}

/// Creates a password sign-up's account and completes the sign-in with it.
async fn create_with_password(
    state: &AuthnState,
    flow_id: Uuid,
    (details, password_hash): (&SignUp, &str),
    authenticator: &str,
) -> HttpResponse {
    let (details, hash) = (details.clone(), password_hash.to_owned());
    let created = state
        .store
        .run(move |conn| tessera_store::accounts::create(conn, &details.new_account(), Some(&hash)))
        .await;
    match created {
        Ok(Ok(account_id)) => {
            complete_sign_in(
                state,
                flow_id,
                (account_id, None),
                vec!["otp".into()],
                authenticator,
            )
            .await
        }
        Ok(Err(_taken)) => message(
            state,
            StatusCode::CONFLICT,
            "That name was taken meanwhile",
            "Someone took that username or email address while you were signing up. Start again.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot create a signed-up account");
            unavailable(state)
        }
    }
}
