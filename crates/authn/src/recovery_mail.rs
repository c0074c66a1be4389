//! The recovery email an operator sends from the admin pages: it points the account's owner at
//! the recovery path they would start themselves (the account page, then "create a passkey"
//! or another way in), which proves the address before anything changes.

use std::path::PathBuf;
use std::sync::Arc;

use tessera_admin::ActiveConfig;
use tessera_admin::notify::{RecoveryMail, Sending};
use tessera_admin::secrets::ConfigSecrets;

use crate::email;

/// Sends recovery invitations through the zone's email provider (or the development drop
/// folder).
pub struct RecoveryInvitations {
    /// The live configuration (its email providers).
    pub config: Arc<ActiveConfig>,
    /// Opens SMTP passwords; `None`: no SMTP.
    pub secrets: Option<ConfigSecrets>,
    /// Development only: where mail goes instead.
    pub mail_drop: Option<PathBuf>,
    /// Named in the mail.
    pub service_name: String,
    /// Where the recovery path starts: the account page.
    pub start_url: String,
}

impl RecoveryMail for RecoveryInvitations {
    fn send<'a>(&'a self, to: &'a str, username: &'a str) -> Sending<'a> {
        Box::pin(async move {
            let mail =
                email::recovery_invitation_mail(to, &self.service_name, username, &self.start_url);
            if let Some(folder) = &self.mail_drop {
                return email::drop_in(folder, &mail)
                    .await
                    .map_err(|e| e.to_string());
            }
            let snapshot = self.config.load();
            let config = &snapshot.config;
            let provider = config
                .default_email_provider
                .as_deref()
                .and_then(|id| config.email_providers.iter().find(|p| p.id == id))
                .or(config.email_providers.first())
                .ok_or("no email provider is configured")?;
            let secrets = self.secrets.as_ref().ok_or("mail is not set up")?;
            email::send(provider, secrets, &mail)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
