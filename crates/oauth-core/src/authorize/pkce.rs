//! PKCE (RFC 7636), S256 only (RFC 9700 §2.1.1: `plain` is not accepted).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// A code challenge is BASE64URL(SHA-256(verifier)): exactly 43 base64url characters.
pub fn is_valid_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

/// True when `verifier` is well-formed (43–128 unreserved characters) and hashes to
/// `challenge`. The comparison is constant-time.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(unreserved) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(tessera_admin::crypto::sha256(verifier.as_bytes()));
    tessera_admin::crypto::same(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn the_rfc_7636_example_verifies() {
        assert!(is_valid_challenge(CHALLENGE));
        assert!(verify_s256(VERIFIER, CHALLENGE));
    }

    #[test]
    fn wrong_short_or_malformed_verifiers_fail() {
        assert!(!verify_s256(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            CHALLENGE
        ));
        assert!(!verify_s256("short", CHALLENGE));
        assert!(!verify_s256(&"a".repeat(129), CHALLENGE));
        assert!(!verify_s256(&format!("{}!", &VERIFIER[..43]), CHALLENGE));
        assert!(!verify_s256(CHALLENGE, CHALLENGE)); // plain: the challenge as verifier
        assert!(!is_valid_challenge("too-short"));
        assert!(!is_valid_challenge(&format!("{}=", &CHALLENGE[..42])));
    }
}
