//! The email authenticator's two halves: one-time codes (six digits from the CSPRNG, stored
//! only as a hash, a new one replacing the old, a few tries each) and their delivery through
//! the configured SMTP provider with lettre (a plain-text and an HTML part naming the service).

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::MultiPart;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tessera_admin::config::model::{EmailDelivery, EmailProvider, SmtpTls};
use tessera_admin::crypto::{self, RandomnessError};
use tessera_admin::secrets::ConfigSecrets;
use tessera_store::email::{self as rows, Attempt, NewChallenge, Proves};
use tessera_store::{Store, StoreError};
use thiserror::Error;
use uuid::Uuid;

use crate::guesses;
use crate::signin::{DecodeError, Purpose};

/// How long the SMTP conversation may take before the page says so.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an email could not be sent or a code not issued.
#[derive(Debug, Error)]
pub enum EmailError {
    /// The message could not be built (a bad address in the configuration or the account).
    #[error("the email could not be composed: {0}")]
    Compose(String),
    /// The SMTP server could not be reached or refused the message.
    #[error("the email could not be sent: {0}")]
    Send(String),
    /// The SMTP password cannot be opened with this key-encryption key.
    #[error("the SMTP password cannot be decrypted")]
    Secret,
    /// The flow has had as many codes as it may.
    #[error("no more codes can be sent for this sign-in")]
    TooManySends,
    /// Database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No randomness for a code or a link.
    #[error(transparent)]
    Randomness(#[from] RandomnessError),
    /// A stored challenge cannot be read back.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// A six-digit code, uniformly drawn (rejection sampling, so no digit is favoured).
pub fn new_code() -> Result<String, EmailError> {
    loop {
        let n = u32::from_be_bytes(crypto::random_bytes::<4>()?);
        // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

fn code_hash(flow_id: Uuid, code: &str) -> Vec<u8> {
    // Bound to the flow, so a code's hash is useless for any other flow.
    crypto::sha256(format!("{flow_id}:{}", code.trim()).as_bytes()).to_vec()
}

/// The six-digit code an emailed link stands for. Opened in the browser that asked for it,
/// the link redeems this code; opened anywhere else, its page shows the code to type in the
/// first browser. Derived rather than stored, so only hashes are kept.
pub fn code_for_link(token: &str) -> String {
    let digest = crypto::sha256(format!("tessera-link-code:{token}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 64 bits reduced modulo 10^6: the bias is below 10^-13.
    format!("{:06}", u64::from_be_bytes(first) % 1_000_000)
}

/// The hash under which a link's token is found.
pub fn link_hash(token: &str) -> Vec<u8> {
    crypto::sha256(format!("tessera-link:{token}").as_bytes()).to_vec()
}

/// What was issued, to be mailed.
#[derive(Debug, Clone)]
pub enum Challenge {
    /// A code to type.
    Code(String),
    /// A link to open, carrying this token.
    Link(String),
}

/// The rules of one email authenticator.
#[derive(Debug, Clone, Copy)]
pub struct CodeRules {
    /// Codes a flow may be sent.
    pub max_sends: u32,
    /// Wrong tries per code.
    pub max_attempts: u32,
    /// Lifetime of a code.
    pub lifetime: Duration,
    /// A code to type, or a link to open.
    pub delivery: EmailDelivery,
}

/// Stores a fresh code or link for `flow_id` (replacing any earlier one) and returns it to be
/// sent. For an unknown username `proves` is [`Proves::Nothing`]: a challenge is still made,
/// so the flow behaves the same, but it can never match and the caller sends nothing.
pub async fn issue(
    store: &Store,
    flow_id: Uuid,
    purpose: Purpose,
    proves: Proves,
    rules: CodeRules,
    now: DateTime<Utc>,
) -> Result<Challenge, EmailError> {
    let (challenge, code, link_hash) = match rules.delivery {
        EmailDelivery::Code => {
            let code = new_code()?;
            (Challenge::Code(code.clone()), code, None)
        }
        EmailDelivery::Link => {
            let token = crypto::random_token()?;
            let hash = link_hash(&token);
            (
                Challenge::Link(token.clone()),
                code_for_link(&token),
                Some(hash),
            )
        }
    };
    let row = NewChallenge {
        flow_id,
        purpose: purpose.as_str().to_owned(),
        proves,
        code_hash: code_hash(flow_id, &code),
        link_hash,
        max_attempts: i32::try_from(rules.max_attempts.max(1)).unwrap_or(i32::MAX),
        now,
        // Saturating: the lifetime is bounded at commit, but a request must never panic on it.
        expires_at: chrono::Duration::from_std(rules.lifetime)
            .ok()
            .and_then(|lifetime| now.checked_add_signed(lifetime))
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    };
    let max_sends = match rules.max_sends {
        0 => i32::MAX,
        n => i32::try_from(n).unwrap_or(i32::MAX),
    };
    store
        .run(move |conn| rows::replace(conn, &row, max_sends))
        .await?
        .ok_or(EmailError::TooManySends)?;
    Ok(challenge)
}

/// The flow and purpose of a live emailed link.
pub async fn link_flow(
    store: &Store,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Uuid, Purpose)>, EmailError> {
    let hash = link_hash(token);
    let found = store
        .run(move |conn| rows::link_flow(conn, &hash, now))
        .await?;
    Ok(match found {
        Some((flow_id, purpose)) => Some((flow_id, Purpose::parse(&purpose)?)),
        None => None,
    })
}

/// What checking a code found.
#[derive(Debug)]
pub enum CodeCheck {
    /// The code was checked; `failures` is the account's count of wrong codes in the
    /// [`guesses::WINDOW`] (0 for a challenge that is not for an account).
    Checked {
        /// Right, wrong or gone.
        attempt: Attempt,
        /// Wrong codes against the account so far, this one included.
        failures: i32,
    },
    /// The account has had [`guesses::BOUND`] wrong codes: a typed code is not even checked.
    Locked,
}

/// Checks a code for the flow's challenge. A `typed` code counts against the account's bound
/// on wrong codes, and is refused unchecked past it; a code that stands for an emailed link
/// (its 256-bit token was presented) is never refused for that.
pub async fn check_code(
    store: &Store,
    (flow_id, purpose): (Uuid, Purpose),
    code: &str,
    typed: bool,
    now: DateTime<Utc>,
) -> Result<CodeCheck, StoreError> {
    let (purpose, hash) = (purpose.as_str(), code_hash(flow_id, code));
    store
        .run(move |conn| {
            let account = rows::challenge_account(conn, flow_id, purpose)?;
            let bucket = account.map(guesses::bucket);
            let failures = match &bucket {
                Some(bucket) => {
                    tessera_store::rate_limits::current(conn, bucket, now, guesses::WINDOW)?
                }
                None => 0,
            };
            if typed && guesses::is_locked(failures) {
                return Ok(CodeCheck::Locked);
            }
            let attempt = rows::attempt(conn, flow_id, purpose, &hash, now)?;
            let failures = match (&attempt, &bucket) {
                (Attempt::Wrong { .. }, Some(bucket)) => tessera_store::rate_limits::hit(
                    conn,
                    std::slice::from_ref(bucket),
                    now,
                    guesses::WINDOW,
                )?
                .first()
                .map_or(failures, |c| c.hits),
                _ => failures,
            };
            Ok(CodeCheck::Checked { attempt, failures })
        })
        .await
}

/// The mail that warns an account's owner that someone is guessing its email codes.
pub fn guessing_mail(to: &str, service: &str) -> Mail {
    let text = format!(
        "Someone has typed many wrong sign-in codes for your {service} account.\n\n\
         If it was not you, nothing is needed: the codes we emailed you stay secret, and from \
         now on you will get a sign-in link instead of a code. Do not share codes or links.\n"
    );
    Mail {
        to: to.to_owned(),
        subject: format!("Someone is trying to sign in to your {service} account"),
        html: format!("<p>{}</p>", escape(&text).replace("\n\n", "</p><p>")),
        text,
    }
}

/// An email to send.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The mail that carries a challenge: [`code_mail`] or [`link_mail`]; `link_base` is the
/// issuer's URL the link page lives under.
pub fn challenge_mail(
    to: &str,
    service: &str,
    challenge: &Challenge,
    link_base: &str,
    minutes: u64,
) -> Mail {
    match challenge {
        Challenge::Code(code) => code_mail(to, service, code, minutes),
        Challenge::Link(token) => link_mail(
            to,
            service,
            &format!("{link_base}/login/email/link?token={token}"),
            minutes,
        ),
    }
}

/// The sign-in link mail.
pub fn link_mail(to: &str, service: &str, url: &str, minutes: u64) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("Your {service} sign-in link"),
        text: format!(
            "Open this link to continue signing in to {service}:\n\n{url}\n\nIt expires in {minutes} minutes. Open it in the browser where you started; anywhere else it shows a code to type there. If you did not try to sign in, you can ignore this email.\n"
        ),
        html: format!(
            "<!doctype html><html><body style=\"font-family: system-ui, sans-serif\"><p>Continue signing in to {s}:</p><p><a href=\"{u}\" style=\"font-size: 1.2rem; font-weight: 700\">Continue signing in</a></p><p>It expires in {minutes} minutes. Open it in the browser where you started; anywhere else it shows a code to type there. If you did not try to sign in, you can ignore this email.</p></body></html>",
            s = escape(service),
            u = escape(url)
        ),
    }
}

/// Sent at an operator's request: how to get back into the account (the user proves the
/// address again on the way; the mail itself carries no secret).
pub fn recovery_invitation_mail(to: &str, service: &str, username: &str, url: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("Get back into your {service} account"),
        text: format!(
            "An administrator of {service} sent you this so that you can get back into the account {username}, for instance after losing a passkey.\n\nOpen {url}, choose to sign in another way or to create a passkey, and follow the steps: a code or link is sent to this address to prove it is yours.\n\nIf you did not ask for this, you can ignore this email.\n"
        ),
        html: format!(
            "<!doctype html><html><body style=\"font-family: system-ui, sans-serif\"><p>An administrator of {s} sent you this so that you can get back into the account <strong>{u}</strong>, for instance after losing a passkey.</p><p><a href=\"{l}\" style=\"font-size: 1.2rem; font-weight: 700\">Get back into your account</a></p><p>Choose to sign in another way or to create a passkey, and follow the steps: a code or link is sent to this address to prove it is yours.</p><p>If you did not ask for this, you can ignore this email.</p></body></html>",
            s = escape(service),
            u = escape(username),
            l = escape(url)
        ),
    }
}

/// Sent instead of a code when someone signs up with an address that has an account already:
/// the page the person sees is the same either way, so the form does not reveal who has one.
pub fn existing_account_mail(to: &str, service: &str, username: &str) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("You already have a {service} account"),
        text: format!(
            "Someone (probably you) tried to sign up to {service} with this address, which already belongs to the account {username}.\n\nSign in as {username} instead. If this was not you, you can ignore this email.\n"
        ),
        html: format!(
            "<!doctype html><html><body style=\"font-family: system-ui, sans-serif\"><p>Someone (probably you) tried to sign up to {s} with this address, which already belongs to the account <strong>{u}</strong>.</p><p>Sign in as {u} instead. If this was not you, you can ignore this email.</p></body></html>",
            s = escape(service),
            u = escape(username)
        ),
    }
}

/// The sign-in code mail.
pub fn code_mail(to: &str, service: &str, code: &str, minutes: u64) -> Mail {
    Mail {
        to: to.to_owned(),
        subject: format!("Your {service} sign-in code: {code}"),
        text: format!(
            "Your {service} sign-in code is {code}\n\nIt expires in {minutes} minutes. If you did not try to sign in, you can ignore this email.\n"
        ),
        html: format!(
            "<!doctype html><html><body style=\"font-family: system-ui, sans-serif\"><p>Your {s} sign-in code is</p><p style=\"font-size: 2rem; letter-spacing: .3rem; font-weight: 700\">{code}</p><p>It expires in {minutes} minutes. If you did not try to sign in, you can ignore this email.</p></body></html>",
            s = escape(service)
        ),
    }
}

fn message(from: &str, mail: &Mail) -> Result<Message, EmailError> {
    let compose = |e: &dyn std::fmt::Display| EmailError::Compose(e.to_string());
    Message::builder()
        .from(from.parse().map_err(|e| compose(&e))?)
        .to(mail.to.parse().map_err(|e| compose(&e))?)
        .subject(&mail.subject)
        .multipart(MultiPart::alternative_plain_html(
            mail.text.clone(),
            mail.html.clone(),
        ))
        .map_err(|e| compose(&e))
}

/// Development only: writes `mail` to `folder` as an `.eml` file instead of sending it, and
/// logs it — code or link included — so that a newcomer can sign in without a mail server.
// Development only: the file's name says when it was written.
#[allow(clippy::disallowed_methods)]
pub async fn drop_in(folder: &std::path::Path, mail: &Mail) -> Result<(), EmailError> {
    let message = message("tessera@localhost", mail)?;
    let name = format!(
        "{}-{}.eml",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"),
        &crypto::random_token()?[..8]
    );
    let path = folder.join(name);
    let (bytes, target) = (message.formatted(), path.clone());
    let folder = folder.to_owned();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&folder)?;
        std::fs::write(&target, bytes)
    })
    .await
    .map_err(|e| EmailError::Send(e.to_string()))?
    .map_err(|e| EmailError::Send(format!("{}: {e}", path.display())))?;
    tracing::warn!(
        to = %mail.to,
        file = %path.display(),
        "development mail drop (not sent): {}\n{}",
        mail.subject,
        mail.text
    );
    Ok(())
}

/// Sends `mail` through `provider`.
pub async fn send(
    provider: &EmailProvider,
    secrets: &ConfigSecrets,
    mail: &Mail,
) -> Result<(), EmailError> {
    let message = message(&provider.smtp.default_sender, mail)?;
    transport(provider, secrets)?
        .send(message)
        .await
        .map_err(|e| EmailError::Send(e.to_string()))?;
    Ok(())
}

/// Connects to `provider` as a send would, and sends nothing: what a request for an unknown
/// account does instead of mailing, so that it fails (SMTP down) and takes time like a real one.
pub async fn probe(provider: &EmailProvider, secrets: &ConfigSecrets) -> Result<(), EmailError> {
    match transport(provider, secrets)?.test_connection().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(EmailError::Send("the SMTP server did not answer".into())),
        Err(e) => Err(EmailError::Send(e.to_string())),
    }
}

fn transport(
    provider: &EmailProvider,
    secrets: &ConfigSecrets,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, EmailError> {
    let smtp = &provider.smtp;
    let tls = |required: bool| {
        TlsParameters::new(smtp.host.clone())
            .map(|p| {
                if required {
                    Tls::Required(p)
                } else {
                    Tls::Opportunistic(p)
                }
            })
            .map_err(|e| EmailError::Send(e.to_string()))
    };
    let security = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Opportunistic => tls(false)?,
        SmtpTls::StartTls => tls(true)?,
        SmtpTls::Tls => Tls::Wrapper(
            TlsParameters::new(smtp.host.clone()).map_err(|e| EmailError::Send(e.to_string()))?,
        ),
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(security)
        .timeout(Some(SMTP_TIMEOUT));
    if let (Some(user), Some(sealed)) = (&smtp.username, &smtp.sealed_password) {
        let password = secrets
            .open(&format!("smtp:{}", provider.id), sealed)
            .map_err(|_| EmailError::Secret)?;
        transport = transport.credentials(Credentials::new(user.clone(), password));
    }
    Ok(transport.build())
}
