use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use thiserror::Error;

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The key-encryption key: 32 bytes that seal the private half of every signing key at rest
/// (AES-256-GCM). Without it a database dump does not yield signing keys.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

/// Problems with the key-encryption key or a sealed value.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KekError {
    /// Not 32 bytes of standard base64.
    #[error(
        "must be 32 bytes encoded in standard base64 (generate one with `openssl rand -base64 32`)"
    )]
    Malformed,
    /// A sealed value failed authentication: wrong key-encryption key or tampered row.
    #[error(
        "cannot unseal a private key: the key-encryption key does not match the one it was sealed with"
    )]
    WrongKey,
    /// The crypto library failed.
    #[error("encryption failed: {0}")]
    Crypto(String),
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(..)")
    }
}

impl KeyEncryptionKey {
    /// Decodes a base64 key.
    pub fn from_base64(encoded: &str) -> Result<Self, KekError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| KekError::Malformed)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| KekError::Malformed)?;
        Ok(KeyEncryptionKey(key))
    }

    /// A fresh random key, base64-encoded (for development defaults and `keys` tooling).
    pub fn generate_base64() -> Result<String, KekError> {
        let key =
            crate::crypto::random_bytes::<32>().map_err(|e| KekError::Crypto(e.to_string()))?;
        Ok(STANDARD.encode(key))
    }

    /// Seals `plaintext`, binding it to `context` (the kid) as associated data.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KekError> {
        let nonce = crate::crypto::random_bytes::<NONCE_LEN>()
            .map_err(|e| KekError::Crypto(e.to_string()))?;
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.0,
            Some(&nonce),
            context,
            plaintext,
            &mut tag,
        )
        .map_err(|e| KekError::Crypto(e.to_string()))?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed.extend_from_slice(&tag);
        Ok(sealed)
    }

    /// A 32-byte subkey for `purpose` (HMAC-SHA-256 of the purpose under this key), so one
    /// configured secret serves several uses without reusing key material.
    pub fn derive(&self, purpose: &[u8]) -> Result<Vec<u8>, KekError> {
        crate::secrets::hmac(&self.0, purpose)
    }

    /// Opens a value sealed by [`KeyEncryptionKey::seal`] with the same context.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KekError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(KekError::WrongKey);
        }
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.0,
            Some(nonce),
            context,
            ciphertext,
            tag,
        )
        .map_err(|_| KekError::WrongKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> KeyEncryptionKey {
        KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64().unwrap()).unwrap()
    }

    #[test]
    fn sealed_value_opens_with_the_same_key_and_context() {
        let kek = kek();
        let sealed = kek.seal(b"kid-1", b"private").unwrap();
        assert_ne!(&sealed[12..sealed.len() - 16], b"private");
        assert_eq!(kek.open(b"kid-1", &sealed).unwrap(), b"private");
    }

    #[test]
    fn sealed_value_does_not_open_under_another_kid_or_key() {
        let kek = kek();
        let sealed = kek.seal(b"kid-1", b"private").unwrap();
        assert_eq!(kek.open(b"kid-2", &sealed), Err(KekError::WrongKey));
        assert_eq!(self::kek().open(b"kid-1", &sealed), Err(KekError::WrongKey));
        assert_eq!(kek.open(b"kid-1", &sealed[..10]), Err(KekError::WrongKey));
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert_eq!(
            KeyEncryptionKey::from_base64("c2hvcnQ=").unwrap_err(),
            KekError::Malformed
        );
        assert_eq!(
            KeyEncryptionKey::from_base64("!!!").unwrap_err(),
            KekError::Malformed
        );
    }
}
