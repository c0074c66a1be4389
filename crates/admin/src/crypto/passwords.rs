//! Password hashing: argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane — the argon2
//! crate's defaults), on tokio's blocking pool, at most as many at once as there are cores, so
//! password checks can never stall other endpoints. An unknown user costs the same as a wrong
//! password: a dummy hash is verified instead. Sign-in pages and the admin's password share one
//! pool, so neither can take more than the cores.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use tokio::sync::Semaphore;

/// Longest password accepted (argon2 would take more, but a megabyte password is an attack).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password accepted (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a password operation failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Too short or too long.
    #[error("the password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_BYTES} characters")]
    Policy,
    /// The hashing task failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// Hashes and verifies passwords on a bounded pool.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<String>,
    /// argon2's working memory (19 MiB a hash), kept between verifications: at most one per
    /// permit exists, so memory stays bounded and no hash pays for fresh pages.
    workspaces: Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("available", &self.permits.available_permits())
            .finish()
    }
}

/// The argon2id PHC string of `password`, computed on the calling thread (a command-line tool;
/// servers use [`Passwords::hash`]).
pub fn hash_here(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Checks the length rules.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::Policy);
    }
    Ok(())
}

impl Passwords {
    /// A pool allowing `concurrency` hashes at once (use the number of cores).
    pub fn new(concurrency: usize) -> Result<Self, PasswordError> {
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(hash_here("tessera-dummy-password-for-timing")?),
            workspaces: Arc::new(std::sync::Mutex::new(Vec::new())),
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PasswordError> {
        // The permit goes with the work: a caller that stops waiting (a timeout) does not free
        // a place while its hash is still being computed.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|e| PasswordError::Hashing(e.to_string()))
    }

    /// True when `stored` is not what Tessera writes now (argon2id): after a successful
    /// sign-in, the password is hashed again.
    pub fn needs_rehash(stored: &str) -> bool {
        !stored.starts_with("$argon2id$")
    }

    /// The argon2id PHC string of `password` (after the policy check).
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        check_policy(&password)?;
        self.blocking(move || hash_here(&password)).await?
    }

    /// True when `password` matches `stored`; with no stored hash (unknown user, no password)
    /// a dummy hash is checked so that the answer takes as long and is always false.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, PasswordError> {
        let real = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let workspaces = Arc::clone(&self.workspaces);
        let matches = self
            .blocking(move || {
                let mut blocks = workspaces
                    .lock()
                    .ok()
                    .and_then(|mut w| w.pop())
                    .unwrap_or_default();
                let matches = super::legacy::verify(password.as_bytes(), &hash)
                    .unwrap_or_else(|| verify_in(password.as_bytes(), &hash, &mut blocks));
                if let Ok(mut w) = workspaces.lock() {
                    w.push(blocks);
                }
                matches
            })
            .await?;
        Ok(real && matches)
    }
}

/// Verifies `password` against a PHC-format argon2 hash, computing in `blocks` (grown as the
/// hash's memory cost needs). Every pass overwrites the blocks it reads, so reused memory needs
/// no clearing; the comparison is constant-time.
fn verify_in(password: &[u8], phc: &str, blocks: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    if blocks.len() < params.block_count() {
        blocks.resize(params.block_count(), Block::new());
    }
    let count = params.block_count();
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..count])
        .is_ok()
        && super::same(expected.as_bytes(), &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let passwords = Passwords::new(2).unwrap();
        let hash = passwords.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            passwords
                .verify("correct horse".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
        assert!(
            !passwords
                .verify("tessera-dummy-password-for-timing".into(), None)
                .await
                .unwrap()
        );
    }

    #[test]
    fn short_and_huge_passwords_break_the_policy() {
        assert_eq!(check_policy("short"), Err(PasswordError::Policy));
        assert_eq!(check_policy(&"x".repeat(2000)), Err(PasswordError::Policy));
        assert!(check_policy("long enough").is_ok());
    }
}
