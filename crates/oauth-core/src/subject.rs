//! Stable subjects: `sub` is derived from the account id alone — never the username, email or
//! authenticator — with a key only this deployment has, so it stays the same when a user moves
//! from password to passkey or changes their email, and reveals nothing. Pairwise subjects
//! (OIDC Core §8.1) mix in the client's sector identifier.

use tessera_admin::config::model::{Client, TokenSettings};
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

    /// The `sub` of `account_id` as `client` sees it: 64 lowercase hex characters. Pairwise
    /// when the client asks for it (its sector), or when the issuer requires it for every client
    /// (`require-pairwise-subject-identifiers`; the client's id is then its sector).
    pub fn for_client(&self, account_id: Uuid, client: &Client, issuer: &TokenSettings) -> String {
        let sector = sector(client, issuer);
        let mut message = Vec::with_capacity(64);
        match sector {
            Some(sector) => {
                message.extend_from_slice(b"pairwise\0");
                message.extend_from_slice(sector.as_bytes());
                message.push(0);
            }
            None => message.extend_from_slice(b"public\0"),
        }
        message.extend_from_slice(account_id.as_bytes());
        tessera_admin::crypto::hmac_sha256(&self.key, &message)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether `client` sees public subjects, and so an account's legacy subject (the `sub`
    /// relying parties stored before a migration) in place of Tessera's own. Pairwise clients
    /// always get Tessera's pairwise subjects.
    pub fn takes_legacy(client: &Client, issuer: &TokenSettings) -> bool {
        sector(client, issuer).is_none()
    }

    /// The `sub` a stored code or refresh token carries, or for older rows, the derived one.
    pub fn stored_or_derived(
        &self,
        stored: Option<&str>,
        account_id: Uuid,
        client: &Client,
        issuer: &TokenSettings,
    ) -> String {
        match stored {
            Some(subject) => subject.to_owned(),
            None => self.for_client(account_id, client, issuer),
        }
    }
}

/// The sector a client's subjects are pairwise for, if they are.
fn sector<'a>(client: &'a Client, issuer: &TokenSettings) -> Option<&'a str> {
    client.sector_identifier.as_deref().or(issuer
        .require_pairwise_subject_identifiers
        .then_some(client.id.as_str()))
}
