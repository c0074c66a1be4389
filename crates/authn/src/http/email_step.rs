//! The email step shared by creating a passkey (seed 000, recovery) and signing up: mailing a
//! code or a link, checking a typed code, and the link's own page.
//!
//! A link is redeemed only by a POST from its page (mail scanners prefetch GETs), and only in
//! the browser whose flow asked for it. Opened anywhere else, the page shows the code the link
//! stands for, to be typed in the first browser: whoever opens a link never gets a session.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_admin::Snapshot;
use tessera_admin::config::model::{AuthenticatorKind, EmailDelivery, EmailProvider};
use tessera_store::email::{Attempt, Proves};
use uuid::Uuid;

use super::login::{browser_flow, message, render, unavailable};
use super::{AuthnState, client_address};
use crate::email::{self, CodeCheck, CodeRules, EmailError};
use crate::flow::{self, Policy};
use crate::guesses;
use crate::limits::{self, Attempt as Limit};

/// The email challenge that proves an existing account before it registers a passkey.
pub(super) const ENROLMENT: &str = "passkey-registration";
/// The email challenge that verifies a sign-up's address before the account exists.
pub(super) const SIGN_UP: &str = "sign-up";
/// The email challenge that is itself the sign-in (the selector's "Email code").
pub(super) const SIGN_IN: &str = "sign-in";

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login/email/link", web::get().to(link_page))
        .route("/login/email/link", web::post().to(redeem_link));
}

/// A passkeys authenticator the policy allows whose registration is proved by email.
pub(super) struct EmailEnrolment<'a> {
    /// The passkeys authenticator (the flow completes with it).
    pub passkeys: &'a str,
    /// The email authenticator that proves the account.
    pub email: Mailer<'a>,
    /// Its account manager lets people create their own accounts.
    pub sign_up: bool,
}

/// An email authenticator with the way its mail goes out.
#[derive(Clone, Copy)]
pub(super) struct Mailer<'a> {
    /// The authenticator's id.
    pub id: &'a str,
    /// Its rules (code or link, tries, lifetime).
    pub rules: CodeRules,
    /// Where its mail goes out.
    pub via: Via<'a>,
}

/// How mail goes out.
#[derive(Clone, Copy)]
pub(super) enum Via<'a> {
    /// Through this SMTP provider.
    Smtp(&'a EmailProvider),
    /// Into the development drop folder (set: no mail is sent at all).
    DropFolder,
}

/// The email authenticator `id` with its provider (its own, else the zone default), or the
/// development drop folder whenever one is set.
fn mailer<'a>(state: &AuthnState, snapshot: &'a Snapshot, id: &'a str) -> Option<Mailer<'a>> {
    let config = &snapshot.config;
    let AuthenticatorKind::Email(mail) = &config.authenticator(id)?.kind else {
        return None;
    };
    let provider = mail
        .email_provider
        .as_deref()
        .or(config.default_email_provider.as_deref())
        .and_then(|provider_id| config.email_providers.iter().find(|p| p.id == provider_id));
    let via = match (&state.mail_drop, provider) {
        (Some(_), _) => Via::DropFolder,
        (None, Some(provider)) => Via::Smtp(provider),
        (None, None) => return None,
    };
    Some(Mailer {
        id,
        rules: CodeRules {
            max_sends: mail.max_challenges_sent,
            max_attempts: mail.max_allowed_attempts,
            lifetime: mail.otp_lifetime,
            delivery: mail.delivery,
        },
        via,
    })
}

/// Password sign-up, when the policy allows an html-form authenticator whose account manager
/// enables registration and an email authenticator can verify the address: the password
/// authenticator and that email authenticator.
pub(super) fn password_sign_up<'a>(
    state: &AuthnState,
    policy: &Policy,
    snapshot: &'a Snapshot,
) -> Option<(&'a str, Mailer<'a>)> {
    state.secrets.as_ref()?;
    let config = &snapshot.config;
    let password = config.authenticators.iter().find(|a| {
        let AuthenticatorKind::HtmlForm(form) = &a.kind else {
            return false;
        };
        flow::allows(policy, snapshot, &a.id)
            && form.account_manager.as_deref().is_some_and(|manager| {
                config
                    .account_managers
                    .iter()
                    .any(|m| m.id == manager && m.enable_registration)
            })
    })?;
    let verifier = config
        .authenticators
        .iter()
        .filter(|a| matches!(a.kind, AuthenticatorKind::Email(_)))
        .find_map(|a| mailer(state, snapshot, &a.id))?;
    Some((password.id.as_str(), verifier))
}

/// The first email authenticator the policy allows as a way to sign in, with its provider.
pub(super) fn email_sign_in<'a>(
    state: &AuthnState,
    policy: &Policy,
    snapshot: &'a Snapshot,
) -> Option<Mailer<'a>> {
    state.secrets.as_ref()?;
    snapshot
        .config
        .authenticators
        .iter()
        .filter(|a| matches!(a.kind, AuthenticatorKind::Email(_)))
        .filter(|a| flow::allows(policy, snapshot, &a.id))
        .find_map(|a| mailer(state, snapshot, &a.id))
}

/// The first passkeys authenticator the policy allows that may be registered while signing
/// in, after an email authenticator (code or link) with a usable provider.
pub(super) fn email_enrolment<'a>(
    state: &AuthnState,
    policy: &Policy,
    snapshot: &'a Snapshot,
) -> Option<EmailEnrolment<'a>> {
    state.passkeys.as_ref()?;
    let config = &snapshot.config;
    flow::passkey_authenticators(policy, snapshot)
        .into_iter()
        .filter(|(_, p, _)| p.allow_registration_during_login)
        .find_map(|(id, passkeys, required)| {
            let email = mailer(state, snapshot, required?)?;
            let sign_up = passkeys.account_manager.as_deref().is_some_and(|manager| {
                config
                    .account_managers
                    .iter()
                    .any(|m| m.id == manager && m.enable_registration)
            });
            Some(EmailEnrolment {
                passkeys: id,
                email,
                sign_up,
            })
        })
}

/// Who gets the mail for a challenge.
pub(super) enum Recipient<'a> {
    /// Nobody: the username is unknown (the page still reads the same).
    Nobody,
    /// This address gets the code or link.
    Challenge(&'a str),
    /// This address gets another mail instead (an account exists for it already).
    Instead(email::Mail),
}

/// Issues a code or link for the flow and mails it. `Err` is the text to show (with its
/// status) when nothing could be sent.
pub(super) async fn deliver(
    state: &AuthnState,
    mailer: &Mailer<'_>,
    (flow_id, purpose): (Uuid, &str),
    proves: Proves,
    recipient: Recipient<'_>,
) -> Result<(), (StatusCode, &'static str)> {
    let rules = mailer.rules;
    let issued = email::issue(&state.store, flow_id, purpose, proves, rules, Utc::now()).await;
    let challenge = match issued {
        Ok(challenge) => challenge,
        Err(EmailError::TooManySends) => {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                "No more emails can be sent for this sign-in. Start again from the application.",
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot issue an email challenge");
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is temporarily unavailable. Try again shortly.",
            ));
        }
    };
    let minutes = rules.lifetime.as_secs().div_ceil(60).max(1);
    let mail = match recipient {
        Recipient::Nobody => None,
        Recipient::Challenge(to) => Some(email::challenge_mail(
            to,
            &state.service_name,
            &challenge,
            &state.issuer,
            minutes,
        )),
        Recipient::Instead(mail) => Some(mail),
    };
    // Every request connects to the mail server before it is answered, and a mail goes out
    // after the answer: the answer fails alike when SMTP is down and takes as long whether an
    // account exists or not. (The challenge stays stored if the server is down: asking again
    // replaces it.)
    if let Err(e) = reach(state, mailer).await {
        tracing::error!(error = %e, "cannot reach the SMTP server");
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "The email could not be sent just now. Try again in a moment.",
        ));
    }
    if let Some(mail) = mail {
        send_after_answer(state, mailer, mail).await;
    }
    Ok(())
}

/// Mails a code or link for `purpose` to the address of `username`'s account, if it has one
/// (nothing is mailed otherwise, and the caller shows the same page). Counted per username and
/// per client address first. An account whose wrong codes reached the bound gets a link
/// instead of a code, and its owner is warned once when they pass `guesses::WARN_AT`.
/// `Ok(true)` when a link was mailed although the authenticator sends codes. `Err` is the
/// status and text to show.
pub(super) async fn send_to_username(
    state: &AuthnState,
    req: &HttpRequest,
    mailer: &Mailer<'_>,
    (flow_id, purpose): (Uuid, &str),
    username: &str,
) -> Result<bool, (StatusCode, String)> {
    let now = Utc::now();
    let limits = state.limits.email;
    let buckets = limits::email_buckets(
        username,
        client_address(req, &state.limits.trusted_proxies),
        super::is_known_device(state, req, username),
    );
    let lookup = username.to_owned();
    let looked_up = state
        .store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Limit::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            let Some(account) = tessera_store::accounts::by_username(conn, &lookup)? else {
                return Ok(Ok((None, 0, false)));
            };
            let failures = tessera_store::rate_limits::current(
                conn,
                &guesses::bucket(account.account_id),
                now,
                guesses::WINDOW,
            )?;
            // Warned once per window: the first send after the count passes the mark.
            let warn = failures >= guesses::WARN_AT
                && tessera_store::rate_limits::hit(
                    conn,
                    &[format!("otp:warned:{}", account.account_id)],
                    now,
                    guesses::WINDOW,
                )?
                .first()
                .is_some_and(|c| c.hits == 1);
            Ok(Ok((Some(account), failures, warn)))
        })
        .await;
    let (account, failures, warn) = match looked_up {
        Ok(Ok(found)) => found,
        Ok(Err(retry_after)) => {
            let minutes = retry_after.as_secs().div_ceil(60).max(1);
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many emails were requested. Try again in {minutes} minutes."),
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot look up an account for an email");
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is temporarily unavailable. Try again shortly.".into(),
            ));
        }
    };
    let guessed = guesses::is_locked(failures) && !is_link(&mailer.rules);
    let mailer = Mailer {
        rules: linked(mailer.rules, guessed),
        ..*mailer
    };
    let (proves, recipient) = match account
        .as_ref()
        .and_then(|a| a.email.as_deref().map(|to| (a.account_id, to)))
    {
        Some((account_id, to)) => (Proves::Account(account_id), Recipient::Challenge(to)),
        None => (Proves::Nothing, Recipient::Nobody),
    };
    deliver(state, &mailer, (flow_id, purpose), proves, recipient)
        .await
        .map_err(|(status, text)| (status, text.to_owned()))?;
    if warn && let Some(to) = account.as_ref().and_then(|a| a.email.as_deref()) {
        tracing::warn!("many wrong email codes for an account: its owner is warned");
        send_after_answer(
            state,
            &mailer,
            email::guessing_mail(to, &state.service_name),
        )
        .await;
    }
    Ok(guessed)
}

/// Connects to `mailer`'s SMTP server as a send would, sending nothing.
async fn reach(state: &AuthnState, mailer: &Mailer<'_>) -> Result<(), EmailError> {
    match (mailer.via, &state.secrets) {
        (Via::Smtp(provider), Some(secrets)) => email::probe(provider, secrets).await,
        (Via::DropFolder, _) => Ok(()),
        (Via::Smtp(_), None) => Err(EmailError::Secret),
    }
}

/// Sends `mail` the way `mailer`'s mail goes out, in a task of its own (so the page does not
/// wait for the mail server); a failure is logged. The development drop folder is written at
/// once.
async fn send_after_answer(state: &AuthnState, mailer: &Mailer<'_>, mail: email::Mail) {
    match (mailer.via, &state.secrets, &state.mail_drop) {
        (Via::Smtp(provider), Some(secrets), _) => {
            let (provider, secrets) = (provider.clone(), secrets.clone());
            tokio::spawn(async move {
                if let Err(e) = email::send(&provider, &secrets, &mail).await {
                    tracing::error!(error = %e, "cannot send an email");
                }
            });
        }
        (Via::DropFolder, _, Some(folder)) => {
            if let Err(e) = email::drop_in(folder, &mail).await {
                tracing::error!(error = %e, "cannot write an email to the drop folder");
            }
        }
        _ => tracing::error!("no way to send an email is configured"),
    }
}

/// Why a typed code did not prove anything.
pub(super) enum CodeRefusal {
    /// Wrong; tries remain. The text says how many.
    Wrong(String),
    /// Expired, spent or out of tries: a new code is needed.
    Gone,
    /// The database failed.
    Unavailable,
}

/// Checks a typed code for the flow's challenge of `purpose`. Wrong codes count against the
/// account (`guesses`): their answers slow down, and past the bound typed codes are refused
/// unchecked (as gone: asking again then mails a link).
pub(super) async fn check(
    state: &AuthnState,
    flow_id: Uuid,
    purpose: &str,
    code: &str,
) -> Result<Proves, CodeRefusal> {
    check_code(state, (flow_id, purpose), code, true).await
}

/// Checks the code an emailed link stands for (its token was presented, nothing was guessed).
async fn check_link(
    state: &AuthnState,
    flow_id: Uuid,
    purpose: &str,
    code: &str,
) -> Result<Proves, CodeRefusal> {
    check_code(state, (flow_id, purpose), code, false).await
}

async fn check_code(
    state: &AuthnState,
    at: (Uuid, &str),
    code: &str,
    typed: bool,
) -> Result<Proves, CodeRefusal> {
    let checked = email::check_code(&state.store, at, code, typed, Utc::now()).await;
    let (attempt, failures) = match checked {
        Ok(CodeCheck::Checked { attempt, failures }) => (attempt, failures),
        Ok(CodeCheck::Locked) => {
            tracing::warn!(
                "a typed email code refused: the account's wrong codes are at the bound"
            );
            return Err(CodeRefusal::Gone);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check an email code");
            return Err(CodeRefusal::Unavailable);
        }
    };
    if matches!(attempt, Attempt::Wrong { .. }) {
        let delay = guesses::delay(failures);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    match attempt {
        Attempt::Matched(proves) => Ok(proves),
        Attempt::Wrong { remaining } if remaining > 0 => Err(CodeRefusal::Wrong(format!(
            "That code is not right. {remaining} {} left.",
            if remaining == 1 { "try" } else { "tries" }
        ))),
        _ => Err(CodeRefusal::Gone),
    }
}

/// A typed code, posted from a code page.
#[derive(Deserialize)]
pub(super) struct CodeForm {
    pub flow: String,
    pub csrf: String,
    pub username: String,
    pub code: String,
}

/// What the "check your email" page says and where its forms post.
#[derive(Serialize)]
pub(super) struct CodePage<'a> {
    /// The status line ("a code is on its way to …").
    pub sent: String,
    /// Form action for the code.
    pub code_action: &'a str,
    /// Form action that sends a new code or link.
    pub resend_action: &'a str,
    /// Fields both forms carry along (name, value).
    pub hidden: Vec<(&'a str, String)>,
    /// A link was mailed rather than a code.
    pub link: bool,
}

/// The "check your email" page.
pub(super) fn code_page(
    state: &AuthnState,
    mut ctx: tera::Context,
    page: &CodePage<'_>,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    ctx.insert("page", page);
    ctx.insert("error", &error);
    render(state, status, "email_code.html", &ctx)
}

/// `?token=` of a link.
#[derive(Deserialize)]
struct LinkQuery {
    token: Option<String>,
}

/// `GET /login/email/link`: a page whose button posts the token. A GET never redeems it.
async fn link_page(state: web::Data<AuthnState>, query: web::Query<LinkQuery>) -> HttpResponse {
    let Some(token) = query.token.as_deref().filter(|t| plausible_token(t)) else {
        return dead_link(&state);
    };
    let mut ctx = tera::Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("token", token);
    render(&state, StatusCode::OK, "email_link.html", &ctx)
}

#[derive(Deserialize)]
struct LinkForm {
    token: String,
}

fn plausible_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn dead_link(state: &AuthnState) -> HttpResponse {
    message(
        state,
        StatusCode::BAD_REQUEST,
        "This link has expired",
        "It was used already, replaced by a newer one, or is too old. Go back to the application and start again.",
    )
}

/// `POST /login/email/link`: in the browser that asked for the link, redeems it and goes on
/// with the flow; anywhere else, shows the code to type there.
///
/// The form carries no CSRF token: the link's token is itself the secret, and a page posted
/// from elsewhere can only ever reveal the code to the browser that holds the flow.
async fn redeem_link(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<LinkForm>,
) -> HttpResponse {
    if !plausible_token(&input.token) {
        return dead_link(&state);
    }
    let found = match email::link_flow(&state.store, &input.token, Utc::now()).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "cannot look up an email link");
            return unavailable(&state);
        }
    };
    let Some((flow_id, purpose)) = found else {
        return dead_link(&state);
    };
    let code = email::code_for_link(&input.token);
    let Some((browser, policy)) = browser_flow(&state, &req, flow_id).await else {
        tracing::info!("an email link was opened in another browser");
        let mut ctx = tera::Context::new();
        ctx.insert("base", &state.base_path);
        ctx.insert("code", &code);
        return render(&state, StatusCode::OK, "email_elsewhere.html", &ctx);
    };
    match check_link(&state, flow_id, &purpose, &code).await {
        Ok(proves) => proved(&state, (flow_id, &browser), &policy, &purpose, proves).await,
        Err(CodeRefusal::Unavailable) => unavailable(&state),
        Err(_) => dead_link(&state),
    }
}

/// Goes on with a flow once its email challenge of `purpose` is answered.
pub(super) async fn proved(
    state: &AuthnState,
    (flow_id, browser): (Uuid, &str),
    policy: &Policy,
    purpose: &str,
    proves: Proves,
) -> HttpResponse {
    match (purpose, proves) {
        (ENROLMENT, Proves::Account(account_id)) => {
            super::passkey_email::register_for_account(
                state,
                (flow_id, browser),
                policy,
                account_id,
            )
            .await
        }
        (SIGN_UP, Proves::SignUp(sign_up)) => {
            super::signup::register_new_account(state, (flow_id, browser), policy, sign_up).await
        }
        (SIGN_IN, Proves::Account(account_id)) => {
            super::identify::signed_in_by_email(state, flow_id, policy, account_id).await
        }
        _ => dead_link(state),
    }
}

/// The delivery's words for the pages: "code" or "link".
/// `rules`, with links instead of codes when `linked` (what [`send_to_username`] mailed).
pub(super) fn linked(rules: CodeRules, linked: bool) -> CodeRules {
    if linked {
        CodeRules {
            delivery: EmailDelivery::Link,
            ..rules
        }
    } else {
        rules
    }
}

pub(super) fn is_link(rules: &CodeRules) -> bool {
    rules.delivery == EmailDelivery::Link
}
