//! Password hashes that other identity systems export, checked so that imported users keep
//! their passwords; the first successful sign-in replaces them with argon2id.
//!
//! - bcrypt: `$2a$`, `$2b$`, `$2y$` (the `bcrypt` crate);
//! - PBKDF2 (Keycloak's `pbkdf2-sha256` and `pbkdf2-sha512`, Curity's and others'), written
//!   `$pbkdf2-sha256$i=ITERATIONS$SALT$HASH` with SALT and HASH in standard base64
//!   (`tessera account import` converts Keycloak's credential JSON to it); computed with
//!   OpenSSL;
//! - SHA-crypt: `$5$` (SHA-256, what Curity's credential manager stores) and `$6$` (SHA-512),
//!   optionally with `rounds=N` (the `sha-crypt` crate, RustCrypto).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;

/// The most PBKDF2 iterations accepted: enough for any export, not a way to burn a core.
const MAX_ITERATIONS: u32 = 10_000_000;

/// The most SHA-crypt rounds accepted (Curity writes 20,000; the format allows 999,999,999).
const MAX_SHA_CRYPT_ROUNDS: u32 = 1_000_000;

/// The scheme of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// argon2id (what Tessera writes).
    Argon2,
    /// bcrypt.
    Bcrypt,
    /// PBKDF2 with HMAC-SHA-256 or -512.
    Pbkdf2(Pbkdf2Digest),
    /// SHA-crypt with SHA-256 (`$5$`) or SHA-512 (`$6$`).
    ShaCrypt(Pbkdf2Digest),
}

/// PBKDF2's HMAC digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

/// The scheme of `stored`, when Tessera can check it.
pub fn scheme(stored: &str) -> Option<Scheme> {
    if stored.starts_with("$argon2id$") {
        Some(Scheme::Argon2)
    } else if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        Some(Scheme::Bcrypt)
    } else if stored.starts_with("$pbkdf2-sha256$") {
        pbkdf2_parts(stored).map(|_| Scheme::Pbkdf2(Pbkdf2Digest::Sha256))
    } else if stored.starts_with("$pbkdf2-sha512$") {
        pbkdf2_parts(stored).map(|_| Scheme::Pbkdf2(Pbkdf2Digest::Sha512))
    } else if stored.starts_with("$5$") {
        sha_crypt_rounds_ok(stored).then_some(Scheme::ShaCrypt(Pbkdf2Digest::Sha256))
    } else if stored.starts_with("$6$") {
        sha_crypt_rounds_ok(stored).then_some(Scheme::ShaCrypt(Pbkdf2Digest::Sha512))
    } else {
        None
    }
}

/// Whether a SHA-crypt hash has the shape `$5$[rounds=N$]SALT$HASH` with N within bounds.
fn sha_crypt_rounds_ok(stored: &str) -> bool {
    let parts: Vec<&str> = stored.split('$').collect();
    match parts.as_slice() {
        ["", _, rounds, salt, hash] => {
            rounds
                .strip_prefix("rounds=")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| (1000..=MAX_SHA_CRYPT_ROUNDS).contains(&n))
                && !salt.is_empty()
                && !hash.is_empty()
        }
        ["", _, salt, hash] => !salt.is_empty() && !hash.is_empty(),
        _ => false,
    }
}

/// Checks `password` against a bcrypt, PBKDF2 or SHA-crypt hash; `None` for any other scheme.
pub fn verify(password: &[u8], stored: &str) -> Option<bool> {
    match scheme(stored)? {
        Scheme::Argon2 => None,
        Scheme::Bcrypt => Some(bcrypt::verify(password, stored).unwrap_or(false)),
        Scheme::ShaCrypt(digest) => {
            // The crate takes the password as text; a password that is not UTF-8 never matched.
            let Ok(password) = std::str::from_utf8(password) else {
                return Some(false);
            };
            Some(match digest {
                Pbkdf2Digest::Sha256 => sha_crypt::sha256_check(password, stored).is_ok(),
                Pbkdf2Digest::Sha512 => sha_crypt::sha512_check(password, stored).is_ok(),
            })
        }
        Scheme::Pbkdf2(digest) => {
            let (iterations, salt, expected) = pbkdf2_parts(stored)?;
            let mut computed = vec![0u8; expected.len()];
            let md = match digest {
                Pbkdf2Digest::Sha256 => MessageDigest::sha256(),
                Pbkdf2Digest::Sha512 => MessageDigest::sha512(),
            };
            let iterations = usize::try_from(iterations).ok()?;
            openssl::pkcs5::pbkdf2_hmac(password, &salt, iterations, md, &mut computed).ok()?;
            Some(super::same(&expected, &computed))
        }
    }
}

/// A PBKDF2 hash's iterations, salt and derived key.
fn pbkdf2_parts(stored: &str) -> Option<(u32, Vec<u8>, Vec<u8>)> {
    let mut parts = stored.split('$').skip(2);
    let iterations: u32 = parts.next()?.strip_prefix("i=")?.parse().ok()?;
    let salt = STANDARD.decode(parts.next()?).ok()?;
    let hash = STANDARD.decode(parts.next()?).ok()?;
    let whole = parts.next().is_none();
    (whole && (1..=MAX_ITERATIONS).contains(&iterations) && !salt.is_empty() && hash.len() >= 16)
        .then_some((iterations, salt, hash))
}

/// The PBKDF2 hash of Keycloak's exported credential (`credentialData` and `secretData`
/// JSON): its algorithm, iterations, salt and value.
pub fn from_keycloak(algorithm: &str, iterations: u32, salt: &str, value: &str) -> Option<String> {
    let name = match algorithm {
        "pbkdf2-sha256" => "pbkdf2-sha256",
        "pbkdf2-sha512" => "pbkdf2-sha512",
        _ => return None,
    };
    let stored = format!("${name}$i={iterations}${salt}${value}");
    scheme(&stored).map(|_| stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pbkdf2(password: &str, salt: &[u8], iterations: usize, md: MessageDigest) -> String {
        let mut out = [0u8; 32];
        openssl::pkcs5::pbkdf2_hmac(password.as_bytes(), salt, iterations, md, &mut out).unwrap();
        STANDARD.encode(out)
    }

    #[test]
    fn sha_crypt_hashes_as_curity_stores_them_verify_their_password_only() {
        // The test vectors of Drepper's SHA-crypt specification.
        let sha256 = "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5";
        assert_eq!(scheme(sha256), Some(Scheme::ShaCrypt(Pbkdf2Digest::Sha256)));
        assert_eq!(verify(b"This is just a test", sha256), Some(true));
        assert_eq!(verify(b"This is just a tesT", sha256), Some(false));
        let sha512 = "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0";
        assert_eq!(verify(b"This is just a test", sha512), Some(true));
        assert_eq!(verify(b"this is just a test", sha512), Some(false));
        // Rounds beyond the bound are refused before any work.
        assert_eq!(scheme("$5$rounds=999999999$salt$hash"), None);
        assert_eq!(scheme("$5$saltonly"), None);
    }

    #[test]
    fn bcrypt_hashes_from_other_systems_verify_their_password_only() {
        let stored = bcrypt::hash("correct horse", 4).unwrap();
        assert_eq!(scheme(&stored), Some(Scheme::Bcrypt));
        assert_eq!(verify(b"correct horse", &stored), Some(true));
        assert_eq!(verify(b"wrong horse", &stored), Some(false));
    }

    #[test]
    fn keycloak_pbkdf2_credentials_verify_their_password_only() {
        let salt = b"0123456789abcdef";
        let value = pbkdf2("correct horse", salt, 27_500, MessageDigest::sha256());
        let stored =
            from_keycloak("pbkdf2-sha256", 27_500, &STANDARD.encode(salt), &value).unwrap();
        assert_eq!(scheme(&stored), Some(Scheme::Pbkdf2(Pbkdf2Digest::Sha256)));
        assert_eq!(verify(b"correct horse", &stored), Some(true));
        assert_eq!(verify(b"wrong horse", &stored), Some(false));
        let value = pbkdf2("correct horse", salt, 1000, MessageDigest::sha512());
        let stored = from_keycloak("pbkdf2-sha512", 1000, &STANDARD.encode(salt), &value).unwrap();
        assert_eq!(verify(b"correct horse", &stored), Some(true));
    }

    #[test]
    fn unknown_or_damaged_hashes_are_refused_not_guessed() {
        assert_eq!(scheme("md5:5f4dcc3b5aa765d61d8327deb882cf99"), None);
        assert_eq!(scheme("$pbkdf2-sha256$i=0$c2FsdA==$aGFzaA=="), None);
        assert_eq!(
            scheme("$pbkdf2-sha256$i=99999999999$c2FsdA==$aGFzaA=="),
            None
        );
        assert_eq!(from_keycloak("md5", 1, "c2FsdA==", "aGFzaA=="), None);
        assert_eq!(
            verify(b"x", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"),
            None
        );
    }
}
