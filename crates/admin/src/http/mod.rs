//! The admin HTTP surface: the JSON/RESTCONF API (`/admin/api/…`) and the admin pages
//! (`/admin`). Handlers are thin: authenticate, call [`ConfigService`], render.

// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

mod accounts;
mod api;
mod auth;
mod client_address;
mod error;
mod pages;
mod session;
mod view;

use actix_web::web;

pub use auth::{AdminAuth, AdminCredentials, hash_password};
pub use client_address::client_address;
pub use error::AdminError;

use crate::ConfigService;

/// What the admin handlers share.
pub struct AdminState {
    /// Configuration history and the active configuration.
    pub service: ConfigService,
    /// Who may use the admin surface.
    pub auth: AdminAuth,
    /// Page templates.
    pub(crate) templates: tera::Tera,
    /// Mark cookies `Secure` (the issuer is https).
    pub secure_cookies: bool,
    /// Keys admin sessions and signs CSRF tokens.
    pub(crate) session_key: Vec<u8>,
    /// Where admin sessions are kept.
    pub(crate) store: tessera_store::Store,
    /// How to mail an account's owner the way back in; `None`: no mail can be sent.
    pub(crate) recovery_mail: Option<std::sync::Arc<dyn crate::notify::RecoveryMail>>,
}

impl AdminState {
    /// Builds the state; fails only if an embedded template is broken.
    pub fn new(
        service: ConfigService,
        auth: AdminAuth,
        secure_cookies: bool,
    ) -> Result<Self, tera::Error> {
        let session_key = service
            .secrets()
            .subkey("tessera/admin-session/v1")
            .map(|key| crate::crypto::hmac_sha256(&key, auth.fingerprint().as_bytes()).to_vec())
            .map_err(|e| tera::Error::msg(e.to_string()))?;
        Ok(AdminState {
            session_key,
            store: service.store().clone(),
            service,
            auth,
            templates: pages::templates()?,
            secure_cookies,
            recovery_mail: None,
        })
    }

    /// Lets the account pages mail an account's owner the way back in.
    pub fn with_recovery_mail(
        mut self,
        mail: std::sync::Arc<dyn crate::notify::RecoveryMail>,
    ) -> Self {
        self.recovery_mail = Some(mail);
        self
    }
}

/// Registers `/admin` and `/admin/api`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/api")
            // Our own size check answers 413 with a JSON body; this only caps what is read.
            .app_data(web::PayloadConfig::new(
                crate::config::MAX_DOCUMENT_BYTES + 64 * 1024,
            ))
            .configure(api::routes),
    )
    .service(
        web::scope("/admin")
            .configure(accounts::routes)
            .configure(pages::routes),
    );
}
