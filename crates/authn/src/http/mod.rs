//! authn's HTTP surface: the login pages and the cookies that tie a browser to its flows and
//! its SSO session.
//!
//! Pages are thin: each handler reads its form (through the [`guard`] extractors, which check
//! the flow, the browser and the CSRF token), takes one step of [`crate::signin`] and renders
//! the outcome. Page modules (`login`, `identify`, `passkey_login`, `recovery`, `signup`,
//! `email_link`, `account`, `assets`) import only the shared modules — `page` (rendering),
//! `error` (dead ends, mapped once), `guard`, `mail` (sending and checking emailed codes) and
//! `finish` (what completes a sign-in) — never each other.

// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

mod account;
mod assets;
pub mod cookies;
mod email_link;
mod error;
mod finish;
mod guard;
mod identify;
mod login;
mod mail;
mod page;
mod passkey_login;
mod recovery;
mod signup;

pub use tessera_admin::http::client_address;

use std::sync::Arc;

use actix_web::web;
use tessera_admin::ActiveConfig;
use tessera_store::Store;

use crate::limits::AttemptLimits;
use crate::passkeys::Passkeys;
use tessera_admin::crypto::passwords::Passwords;

/// What the login handlers share.
pub struct AuthnState {
    /// Database.
    pub store: Store,
    /// Password hashing pool.
    pub passwords: Passwords,
    /// The live configuration (authenticators).
    pub config: Arc<ActiveConfig>,
    /// CSRF tokens (and known-device proofs).
    pub(crate) forms: tessera_admin::crypto::FormTokens,
    /// Mark cookies `Secure`.
    pub secure_cookies: bool,
    /// Path prefix of the issuer ("" or "/tenant"), for links on the pages.
    pub base_path: String,
    /// Attempt limits and how to find the client's address.
    pub limits: Limits,
    /// The passkey relying party; `None` when the issuer cannot have one (an IP address).
    pub passkeys: Option<Passkeys>,
    /// Opens the SMTP password of email providers; `None`: no mail can be sent.
    pub secrets: Option<tessera_admin::secrets::ConfigSecrets>,
    /// Named in emails ("Your … sign-in code").
    pub service_name: String,
    /// The issuer's URL, which emailed links start with.
    pub issuer: String,
    /// Development only: where all mail goes instead of the configured providers.
    pub mail_drop: Option<std::path::PathBuf>,
    templates: tera::Tera,
}

impl AuthnState {
    /// Builds the state; `csrf_key` should be derived from the key-encryption key.
    pub fn new(
        store: Store,
        passwords: Passwords,
        config: Arc<ActiveConfig>,
        csrf_key: Vec<u8>,
        secure_cookies: bool,
        base_path: String,
        limits: Limits,
    ) -> Result<Self, tera::Error> {
        let mut templates = tera::Tera::default();
        templates.add_raw_templates(vec![
            ("login.html", include_str!("../../templates/login.html")),
            ("message.html", include_str!("../../templates/message.html")),
            (
                "passkey_register.html",
                include_str!("../../templates/passkey_register.html"),
            ),
            (
                "passkey_registered.html",
                include_str!("../../templates/passkey_registered.html"),
            ),
            (
                "passkey_create.html",
                include_str!("../../templates/passkey_create.html"),
            ),
            (
                "email_code.html",
                include_str!("../../templates/email_code.html"),
            ),
            (
                "email_link.html",
                include_str!("../../templates/email_link.html"),
            ),
            (
                "email_elsewhere.html",
                include_str!("../../templates/email_elsewhere.html"),
            ),
            ("signup.html", include_str!("../../templates/signup.html")),
            (
                "username.html",
                include_str!("../../templates/username.html"),
            ),
            ("select.html", include_str!("../../templates/select.html")),
            ("account.html", include_str!("../../templates/account.html")),
            (
                "account_delete.html",
                include_str!("../../templates/account_delete.html"),
            ),
            (
                "passkey_prompt.html",
                include_str!("../../templates/passkey_prompt.html"),
            ),
        ])?;
        Ok(AuthnState {
            store,
            passwords,
            config,
            forms: tessera_admin::crypto::FormTokens::new(csrf_key),
            secure_cookies,
            base_path,
            limits,
            passkeys: None,
            secrets: None,
            service_name: "Tessera".into(),
            issuer: String::new(),
            mail_drop: None,
            templates,
        })
    }
}

impl AuthnState {
    /// Offers passkeys as the relying party `passkeys`.
    pub fn with_passkeys(mut self, passkeys: Option<Passkeys>) -> Self {
        self.passkeys = passkeys;
        self
    }

    /// Sends email (codes, and links under `issuer`) with SMTP passwords opened by `secrets`.
    pub fn with_mail(
        mut self,
        secrets: tessera_admin::secrets::ConfigSecrets,
        issuer: &str,
    ) -> Self {
        self.secrets = Some(secrets);
        self.issuer = issuer.trim_end_matches('/').to_owned();
        self
    }
}

impl AuthnState {
    /// What this server can do for a sign-in, whatever the configuration offers.
    pub(crate) fn capabilities(&self) -> crate::signin::Capabilities {
        use crate::signin::MailRoute;
        crate::signin::Capabilities {
            passkeys: self.passkeys.is_some(),
            mail: match (&self.mail_drop, &self.secrets) {
                (Some(_), _) => MailRoute::DropFolder,
                (None, Some(_)) => MailRoute::Smtp,
                (None, None) => MailRoute::None,
            },
        }
    }

    /// What the admin pages send when an operator mails an account's owner the way back in.
    pub fn recovery_invitations(&self) -> crate::recovery_mail::RecoveryInvitations {
        crate::recovery_mail::RecoveryInvitations {
            config: Arc::clone(&self.config),
            secrets: self.secrets.clone(),
            mail_drop: self.mail_drop.clone(),
            service_name: self.service_name.clone(),
            start_url: format!("{}/account", self.issuer),
        }
    }

    /// Development only: all mail goes to `folder` (and the log) instead of the configured
    /// providers.
    pub fn with_mail_drop(mut self, folder: Option<std::path::PathBuf>) -> Self {
        self.mail_drop = folder;
        self
    }
}

/// Limits on attempts, and the proxies whose `X-Forwarded-For` is believed when counting them
/// per client address.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Password attempts.
    pub password: AttemptLimits,
    /// Email codes requested.
    pub email: AttemptLimits,
    /// Sign-ins one client address may start per [`crate::flow::FLOW_WINDOW`].
    pub sign_ins_per_address: u32,
    /// Addresses of the operator's reverse proxies.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            password: AttemptLimits::default(),
            email: crate::limits::EMAIL_LIMITS,
            sign_ins_per_address: crate::flow::FLOWS_PER_ADDRESS,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What a browser keeps to show that `username` signed in with it before: a MAC of its
/// browser id and the username, under the CSRF key.
fn known_device_proof(state: &AuthnState, browser: &str, username: &str) -> String {
    state.forms.token(&known_device_binding(browser, username))
}

fn known_device_binding(browser: &str, username: &str) -> String {
    format!("known-device|{browser}|{}", username.trim().to_lowercase())
}

/// True when this browser proves that `username` signed in with it before.
fn is_known_device(state: &AuthnState, req: &actix_web::HttpRequest, username: &str) -> bool {
    let (Some(browser), Some(proof)) = (
        req.cookie(cookies::BROWSER),
        req.cookie(cookies::KNOWN_DEVICE),
    ) else {
        return false;
    };
    state.forms.verify(
        &known_device_binding(browser.value(), username),
        proof.value(),
    )
}

/// The cookie marking `browser` as a known device of `username`.
fn known_device_cookie(
    state: &AuthnState,
    browser: &str,
    username: &str,
) -> actix_web::cookie::Cookie<'static> {
    cookies::known_device_cookie(
        known_device_proof(state, browser, username),
        state.secure_cookies,
    )
}

/// Routes mounted under the issuer's path: the sign-in pages under `/login`, the account page
/// under `/account`, each scope rendering [`error::SignInError`]s as pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/login")
            .wrap(error::pages())
            .configure(login::routes)
            .configure(assets::routes)
            .configure(identify::routes)
            .configure(passkey_login::routes)
            .configure(recovery::routes)
            .configure(signup::routes)
            .configure(email_link::routes),
    )
    .service(
        web::scope("/account")
            .wrap(error::pages())
            .configure(account::routes),
    );
}
