//! The cryptography the rest of Tessera shares: random tokens, SHA-256, HMAC, form (CSRF)
//! tokens, constant-time comparison and password hashing on a bounded pool. One place, so that
//! every caller gets the same rules: randomness failures are errors (never ignored, never an
//! empty value), digests and MACs cannot fail, and an empty expected value never matches.

mod hmac;
pub mod legacy;
pub mod passwords;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use hmac::hmac_sha256;

/// The operating system's random number generator failed: nothing secret can be made.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the system's random number generator failed: {0}")]
pub struct RandomnessError(String);

/// `N` bytes from the operating system's CSPRNG: the one place Tessera draws randomness.
#[allow(clippy::disallowed_methods)]
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomnessError> {
    let mut bytes = [0u8; N];
    openssl::rand::rand_bytes(&mut bytes).map_err(|e| RandomnessError(e.to_string()))?;
    Ok(bytes)
}

/// 256 random bits, base64url without padding (43 characters): cookie secrets, session ids,
/// codes, refresh tokens.
pub fn random_token() -> Result<String, RandomnessError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// SHA-256 of `data`: what the database keeps of a high-entropy secret (a code, a token, a
/// cookie secret), which a lookup by digest then finds.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

/// True when `presented` equals `expected`, compared in constant time. An empty `expected`
/// matches nothing, so a value that failed to be computed can never be met by an empty one.
pub fn same(expected: &[u8], presented: &[u8]) -> bool {
    !expected.is_empty()
        && expected.len() == presented.len()
        && openssl::memcmp::eq(expected, presented)
}

/// Tokens that tie a posted form to what it was issued for (a flow and its browser, a
/// session): the HMAC of that binding under a server key, so none is stored.
#[derive(Clone)]
pub struct FormTokens {
    key: Vec<u8>,
}

impl std::fmt::Debug for FormTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FormTokens(..)")
    }
}

impl FormTokens {
    /// Tokens under `key` (derive it from the key-encryption key, so every instance agrees).
    pub fn new(key: Vec<u8>) -> Self {
        FormTokens { key }
    }

    /// The token for forms bound to `binding`.
    pub fn token(&self, binding: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, binding.as_bytes()))
    }

    /// True when `posted` is the token for `binding`.
    pub fn verify(&self, binding: &str, posted: &str) -> bool {
        same(self.token(binding).as_bytes(), posted.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_43_base64url_characters_and_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }

    #[test]
    fn an_empty_expected_value_matches_nothing_not_even_an_empty_one() {
        assert!(!same(b"", b""));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(same(b"abc", b"abc"));
    }

    #[test]
    fn a_form_token_verifies_for_its_binding_only() {
        let tokens = FormTokens::new(vec![7; 32]);
        let token = tokens.token("flow-1|browser-a");
        assert!(tokens.verify("flow-1|browser-a", &token));
        assert!(!tokens.verify("flow-1|browser-b", &token));
        assert!(!tokens.verify("flow-1|browser-a", ""));
        assert!(!FormTokens::new(vec![8; 32]).verify("flow-1|browser-a", &token));
    }

    #[test]
    fn sha256_matches_the_standard_vector() {
        let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
