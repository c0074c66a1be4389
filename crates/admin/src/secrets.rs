//! Secrets in the configuration: client secrets are stored only as keyed digests
//! (HMAC-SHA-256, cheap enough for every token request, unlike argon2), and secrets Tessera must
//! use itself (SMTP passwords) are sealed under the key-encryption key. Neither is ever exported
//! in clear. A secret written as a placeholder, `#{NAME}` (as Curity exports carry them), is
//! taken from the environment of the process that stages the configuration, and only its
//! stored form is kept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

pub use crate::secrets_kek::{KekError, KeyEncryptionKey};

const DIGEST_PREFIX: &str = "hmac-sha256:";

/// Where `#{NAME}` placeholders are looked up.
pub type Environment = std::sync::Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Turns configuration secrets into their stored forms and checks presented ones.
#[derive(Clone)]
pub struct ConfigSecrets {
    kek: KeyEncryptionKey,
    hmac_key: Vec<u8>,
    environment: Environment,
}

impl std::fmt::Debug for ConfigSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigSecrets(..)")
    }
}

pub(crate) fn hmac(key: &[u8], message: &[u8]) -> Result<Vec<u8>, KekError> {
    Ok(crate::crypto::hmac_sha256(key, message).to_vec())
}

impl ConfigSecrets {
    /// Derives the digest key from the key-encryption key, so every instance sharing the
    /// database (and therefore the key-encryption key) computes the same digests.
    pub fn new(kek: KeyEncryptionKey) -> Result<Self, KekError> {
        let hmac_key = kek.derive(b"tessera/client-secret-digest/v1")?;
        Ok(ConfigSecrets {
            kek,
            hmac_key,
            // The edge: placeholders name variables of this process's environment.
            environment: std::sync::Arc::new(|name: &str| std::env::var(name).ok()),
        })
    }

    /// The same, with placeholders looked up in `environment` instead of the process's.
    pub fn with_environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// The value a placeholder `#{name}` stands for, if the environment has it.
    pub fn placeholder(&self, name: &str) -> Option<String> {
        (self.environment)(name).filter(|value| !value.is_empty())
    }

    /// The name in a placeholder `#{NAME}`, when `value` is one.
    pub fn placeholder_name(value: &str) -> Option<&str> {
        let name = value.trim().strip_prefix("#{")?.strip_suffix('}')?;
        (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(name)
    }

    /// A throw-away instance for offline validation, where digests are never compared.
    pub fn ephemeral() -> Result<Self, KekError> {
        Self::new(KeyEncryptionKey::from_base64(
            &KeyEncryptionKey::generate_base64()?,
        )?)
    }

    /// A 32-byte key for `purpose` (e.g. signing admin session cookies).
    pub fn subkey(&self, purpose: &str) -> Result<Vec<u8>, KekError> {
        self.kek.derive(purpose.as_bytes())
    }

    /// The stored form of a client secret: `hmac-sha256:<base64>`.
    pub fn digest(&self, client_id: &str, secret: &str) -> Result<String, KekError> {
        let mut message = Vec::with_capacity(client_id.len() + secret.len() + 1);
        message.extend_from_slice(client_id.as_bytes());
        message.push(0);
        message.extend_from_slice(secret.as_bytes());
        Ok(format!(
            "{DIGEST_PREFIX}{}",
            STANDARD.encode(hmac(&self.hmac_key, &message)?)
        ))
    }

    /// Constant-time check of a presented secret against a stored digest.
    pub fn verify(&self, client_id: &str, presented: &str, stored: &str) -> bool {
        self.digest(client_id, presented)
            .is_ok_and(|computed| crate::crypto::same(stored.as_bytes(), computed.as_bytes()))
    }

    /// True when `value` has the shape of a stored digest.
    pub fn is_digest(value: &str) -> bool {
        value
            .strip_prefix(DIGEST_PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|bytes| bytes.len() == 32)
    }

    /// Seals a secret Tessera must use later (an SMTP password), bound to `context`.
    pub fn seal(&self, context: &str, secret: &str) -> Result<String, KekError> {
        Ok(STANDARD.encode(self.kek.seal(context.as_bytes(), secret.as_bytes())?))
    }

    /// Opens a sealed secret.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, KekError> {
        let bytes = STANDARD.decode(sealed).map_err(|_| KekError::WrongKey)?;
        let plain = self.kek.open(context.as_bytes(), &bytes)?;
        String::from_utf8(plain).map_err(|_| KekError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_verifies_only_against_its_own_digest() {
        let secrets = ConfigSecrets::ephemeral().unwrap();
        let digest = secrets
            .digest("web", "s3cret-s3cret-s3cret-s3cret-s3cret")
            .unwrap();
        assert!(ConfigSecrets::is_digest(&digest));
        assert!(secrets.verify("web", "s3cret-s3cret-s3cret-s3cret-s3cret", &digest));
        assert!(!secrets.verify("web", "s3cret-s3cret-s3cret-s3cret-s3creT", &digest));
        assert!(!secrets.verify("api", "s3cret-s3cret-s3cret-s3cret-s3cret", &digest));
        assert!(!ConfigSecrets::ephemeral().unwrap().verify(
            "web",
            "s3cret-s3cret-s3cret-s3cret-s3cret",
            &digest
        ));
    }

    #[test]
    fn a_sealed_password_opens_in_its_context_only() {
        let secrets = ConfigSecrets::ephemeral().unwrap();
        let sealed = secrets.seal("smtp", "Password1").unwrap();
        assert!(!sealed.contains("Password1"));
        assert_eq!(secrets.open("smtp", &sealed).unwrap(), "Password1");
        assert!(secrets.open("other", &sealed).is_err());
    }
}
