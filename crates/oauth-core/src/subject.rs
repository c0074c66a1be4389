//! Stable subjects: `sub` is derived from the account id alone — never the username, email or
//! authenticator — with a key only this deployment has, so it stays the same when a user moves
//! from password to passkey or changes their email, and reveals nothing. Pairwise subjects
//! (OIDC Core §8.1) mix in the client's sector identifier.

use tessera_admin::config::model::Client;
use tessera_admin::secrets::{ConfigSecrets, KekError};
use uuid::Uuid;

/// Derives subjects.
#[derive(Clone)]
pub struct Subjects {
    key: Vec<u8>,
}

impl Subjects {
    /// The deriver for this deployment.
    pub fn new(secrets: &ConfigSecrets) -> Result<Self, KekError> {
        Ok(Subjects {
            key: secrets.subkey("tessera/subject/v1")?,
        })
    }

    /// The `sub` of `account_id` as `client` sees it: 64 lowercase hex characters.
    pub fn for_client(&self, account_id: Uuid, client: &Client) -> String {
        let mut message = Vec::with_capacity(64);
        match &client.sector_identifier {
            Some(sector) => {
                message.extend_from_slice(b"pairwise\0");
                message.extend_from_slice(sector.as_bytes());
                message.push(0);
            }
            None => message.extend_from_slice(b"public\0"),
        }
        message.extend_from_slice(account_id.as_bytes());
        ConfigSecrets::mac(&self.key, &message)
            .map(|mac| mac.iter().map(|b| format!("{b:02x}")).collect())
            .unwrap_or_default()
    }
}
