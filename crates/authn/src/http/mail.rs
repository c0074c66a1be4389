//! Emailed codes and links as the pages use them: issuing and mailing one (the answer never
//! waits for the mail server, and reads the same whether an account exists), the "check your
//! email" page, and checking a typed code.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use tessera_store::email::Proves;
use uuid::Uuid;

use super::error::SignInError;
use super::guard::flow_form;
use super::page::render;
use super::{AuthnState, client_address};
use crate::email::{self, EmailError};
use crate::limits;
use crate::signin::steps::{self, CodeRefusal, CodeRequest, Next};
use crate::signin::{Mailer, Purpose, Via};

/// Who gets the mail for a challenge.
pub(super) enum Recipient<'a> {
    /// Nobody: the username is unknown (the page still reads the same).
    Nobody,
    /// This address gets the code or link.
    Challenge(&'a str),
    /// This address gets another mail instead (an account exists for it already).
    Instead(email::Mail),
}

/// A refusal to mail, as the page shows it.
pub(super) type Unsent = (StatusCode, String);

/// Issues a code or link for the flow and mails it. `Err` is the status and text to show when
/// nothing could be sent.
pub(super) async fn deliver(
    state: &AuthnState,
    mailer: &Mailer<'_>,
    (flow_id, purpose): (Uuid, Purpose),
    proves: Proves,
    recipient: Recipient<'_>,
) -> Result<(), Unsent> {
    let rules = mailer.rules;
    let issued = email::issue(&state.store, flow_id, purpose, proves, rules, Utc::now()).await;
    let challenge = match issued {
        Ok(challenge) => challenge,
        Err(EmailError::TooManySends) => {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                "No more emails can be sent for this sign-in. Start again from the application."
                    .into(),
            ));
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot issue an email challenge");
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is temporarily unavailable. Try again shortly.".into(),
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
            "The email could not be sent just now. Try again in a moment.".into(),
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
/// instead of a code, and its owner is warned once when they pass the mark. `Ok(true)` when a
/// link was mailed although the authenticator sends codes.
pub(super) async fn send_to_username(
    state: &AuthnState,
    req: &HttpRequest,
    mailer: &Mailer<'_>,
    (flow_id, purpose): (Uuid, Purpose),
    username: &str,
) -> Result<bool, Unsent> {
    let buckets = limits::email_buckets(
        username,
        client_address(req, &state.limits.trusted_proxies),
        super::is_known_device(state, req, username),
    );
    let request = steps::request_code(
        &state.store,
        (username, buckets),
        state.limits.email,
        Utc::now(),
    )
    .await;
    let (account, linked, warn) = match request {
        Ok(CodeRequest::Send {
            account,
            linked,
            warn,
        }) => (account, linked, warn),
        Ok(CodeRequest::TooMany { retry_after }) => {
            return Err((
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many emails were requested. {}",
                    super::page::try_again_in(retry_after)
                ),
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
    let linked = linked && !mailer.sends_links();
    let mailer = mailer.linked(linked);
    let to = account
        .as_ref()
        .and_then(|a| Some((a.account_id, a.email.as_deref()?)));
    let (proves, recipient) = match to {
        Some((account_id, to)) => (Proves::Account(account_id), Recipient::Challenge(to)),
        None => (Proves::Nothing, Recipient::Nobody),
    };
    deliver(state, &mailer, (flow_id, purpose), proves, recipient).await?;
    if warn && let Some((_, to)) = to {
        tracing::warn!("many wrong email codes for an account: its owner is warned");
        send_after_answer(
            state,
            &mailer,
            email::guessing_mail(to, &state.service_name),
        )
        .await;
    }
    Ok(linked)
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

/// Why a typed code proved nothing, in words.
pub(super) enum Refused {
    /// Wrong; tries remain.
    Wrong(String),
    /// Expired, spent or out of tries: a new code is needed.
    Gone(&'static str),
}

/// Checks an answer to the flow's challenge of `purpose`: a typed code (`true`) or the code an
/// emailed link stands for (`false`, never refused for the account's wrong codes). Wrong codes
/// count against the account: their answers slow down, and past the bound typed codes are
/// refused unchecked (as gone: asking again then mails a link). `Err` is a dead end.
pub(super) async fn check(
    state: &AuthnState,
    at: (Uuid, Purpose),
    answer: (&str, bool),
) -> Result<Result<Next, Refused>, SignInError> {
    match steps::check_email_code(&state.store, at, answer, Utc::now()).await? {
        Ok(Some(next)) => Ok(Ok(next)),
        Ok(None) => Err(SignInError::DeadLink),
        Err(CodeRefusal::Wrong { remaining, delay }) => {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok(Err(Refused::Wrong(format!(
                "That code is not right. {remaining} {} left.",
                if remaining == 1 { "try" } else { "tries" }
            ))))
        }
        Err(CodeRefusal::Gone) => Ok(Err(Refused::Gone(
            "That code has expired or was used up. Ask for a new one.",
        ))),
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

/// The "check your email" page, on the context of its flow's form.
pub(super) fn code_page(
    state: &AuthnState,
    mut ctx: tera::Context,
    page: &CodePage<'_>,
    (status, error): (StatusCode, Option<&str>),
) -> actix_web::HttpResponse {
    ctx.insert("page", page);
    ctx.insert("error", &error);
    render(state, status, "email_code.html", &ctx)
}

/// "If kim has an account with an email address, a six-digit code is on its way there."
pub(super) fn sent_to_username(username: &str, link: bool) -> String {
    let what = if link {
        "a sign-in link"
    } else {
        "a six-digit code"
    };
    format!("If {username} has an account with an email address, {what} is on its way there.")
}

flow_form!(CodeForm);
