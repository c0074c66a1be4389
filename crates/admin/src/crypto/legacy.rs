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

/// The stored hash of a password credential as Keycloak's realm export writes it: current
/// versions keep the fields in two JSON strings, `credentialData` (`algorithm`,
/// `hashIterations`, `additionalParameters`) and `secretData` (`value`, `salt`); older exports
/// and hand-written lines have them flat. PBKDF2-SHA-256/512 become `$pbkdf2-…$` hashes and
/// argon2id (Keycloak 24's default) a PHC string; anything else is refused with the reason.
pub fn from_keycloak_credential(credential: &serde_json::Value) -> Result<String, String> {
    use serde_json::Value;
    let nested = |name: &str| -> Result<Value, String> {
        match credential.get(name) {
            None | Some(Value::Null) => Ok(credential.clone()),
            Some(Value::String(text)) => {
                serde_json::from_str(text).map_err(|_| format!("{name} is not JSON"))
            }
            Some(object @ Value::Object(_)) => Ok(object.clone()),
            Some(_) => Err(format!("{name} is not JSON text")),
        }
    };
    if let Some(kind) = credential.get("type").and_then(Value::as_str)
        && kind != "password"
    {
        return Err(format!("a {kind:?} credential is not a password"));
    }
    let (data, secret) = (nested("credentialData")?, nested("secretData")?);
    let text = |from: &Value, name: &str| {
        from.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("the Keycloak credential has no {name}"))
    };
    let algorithm = text(&data, "algorithm")?;
    let iterations = data
        .get("hashIterations")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or("the Keycloak credential has no hashIterations")?;
    let (salt, value) = (text(&secret, "salt")?, text(&secret, "value")?);
    let unchecked = || format!("Keycloak credential {algorithm:?} cannot be checked");
    match algorithm.as_str() {
        "pbkdf2-sha256" | "pbkdf2-sha512" => {
            from_keycloak(&algorithm, iterations, &salt, &value).ok_or_else(unchecked)
        }
        "argon2" => keycloak_argon2(&data, iterations, &salt, &value).ok_or_else(unchecked),
        _ => Err(unchecked()),
    }
}

/// Keycloak's argon2 credential as a PHC string (argon2id only, as Tessera checks).
fn keycloak_argon2(
    data: &serde_json::Value,
    iterations: u32,
    salt: &str,
    value: &str,
) -> Option<String> {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    // Keycloak writes each parameter as a list of one string.
    let parameter = |name: &str| {
        data.get("additionalParameters")?
            .get(name)?
            .get(0)?
            .as_str()
            .map(str::to_owned)
    };
    if parameter("type").as_deref().unwrap_or("id") != "id" {
        return None;
    }
    let version = match parameter("version").as_deref().unwrap_or("1.3") {
        "1.3" => 19,
        "1.0" => 16,
        _ => return None,
    };
    let memory: u32 = parameter("memory")?.parse().ok()?;
    let parallelism: u32 = parameter("parallelism")
        .unwrap_or_else(|| "1".into())
        .parse()
        .ok()?;
    let salt = STANDARD_NO_PAD.encode(STANDARD.decode(salt).ok()?);
    let hash = STANDARD_NO_PAD.encode(STANDARD.decode(value).ok()?);
    let stored =
        format!("$argon2id$v={version}$m={memory},t={iterations},p={parallelism}${salt}${hash}");
    (scheme(&stored) == Some(Scheme::Argon2)).then_some(stored)
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
    fn keycloak_credentials_are_read_as_current_exports_nest_them_and_older_ones_flatten_them() {
        let salt = b"keycloak-salt-16";
        let mut derived = [0u8; 32];
        openssl::pkcs5::pbkdf2_hmac(
            b"Old-pw-1",
            salt,
            27_500,
            MessageDigest::sha256(),
            &mut derived,
        )
        .unwrap();
        let nested = serde_json::json!({
            "type": "password", "userLabel": null, "createdDate": 1_700_000_000_000_u64,
            "secretData": format!("{{\"value\":\"{}\",\"salt\":\"{}\",\"additionalParameters\":{{}}}}",
                STANDARD.encode(derived), STANDARD.encode(salt)),
            "credentialData": "{\"hashIterations\":27500,\"algorithm\":\"pbkdf2-sha256\",\"additionalParameters\":{}}",
        });
        let stored = from_keycloak_credential(&nested).unwrap();
        assert_eq!(verify(b"Old-pw-1", &stored), Some(true));
        assert_eq!(verify(b"old-pw-1", &stored), Some(false));
        let flat = serde_json::json!({"algorithm": "pbkdf2-sha256", "hashIterations": 27500,
            "salt": STANDARD.encode(salt), "value": STANDARD.encode(derived)});
        assert_eq!(from_keycloak_credential(&flat).unwrap(), stored);

        // Keycloak 24's argon2id, as its export writes it.
        let argon2 = serde_json::json!({
            "type": "password",
            "secretData": "{\"value\":\"c2FsdHNhbHRzYWx0c2FsdHNhbHRzYWx0c2FsdHNhbHQ=\",\"salt\":\"c2FsdHNhbHRzYWx0c2FsdA==\"}",
            "credentialData": "{\"hashIterations\":5,\"algorithm\":\"argon2\",\"additionalParameters\":{\"hashLength\":[\"32\"],\"memory\":[\"7168\"],\"type\":[\"id\"],\"version\":[\"1.3\"],\"parallelism\":[\"1\"]}}",
        });
        let stored = from_keycloak_credential(&argon2).unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"),
            "{stored}"
        );

        let sha1 = serde_json::json!({"algorithm": "pbkdf2", "hashIterations": 20000,
            "salt": STANDARD.encode(salt), "value": STANDARD.encode(derived)});
        assert!(
            from_keycloak_credential(&sha1)
                .unwrap_err()
                .contains("cannot be checked")
        );
        let otp = serde_json::json!({"type": "otp", "secretData": "{}", "credentialData": "{}"});
        assert!(
            from_keycloak_credential(&otp)
                .unwrap_err()
                .contains("not a password")
        );
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
