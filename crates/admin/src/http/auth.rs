//! Admin authentication: HTTP Basic against an argon2 password hash from the settings, or a
//! bearer token whose SHA-256 the settings hold. Password checks share the sign-in pages'
//! bounded argon2 pool (waiting at most a few seconds for a place), so they cannot starve other
//! requests, and run behind attempt limits counted in PostgreSQL (shared by every instance):
//! per client address, and per username.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ipnet::IpNet;
use tessera_store::Store;

use super::AdminError;
use crate::crypto::{self, passwords::Passwords};

/// Admin password attempts allowed from one client address per window.
pub const ATTEMPTS_PER_ADDRESS: i32 = 10;
/// Admin password attempts allowed for one username (from anywhere) per window. Higher than
/// per address: it stops a guesser spread over many addresses, while one attacker's address
/// alone cannot lock the real admin out (who also has the bearer token and the CLI).
pub const ATTEMPTS_PER_USERNAME: i32 = 50;
/// The counting window.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Where attempts are counted, and how the client's address is found.
#[derive(Clone)]
struct AttemptCounter {
    store: Store,
    trusted_proxies: Vec<IpNet>,
}

/// Admin credentials as configured.
#[derive(Clone)]
pub enum AdminCredentials {
    /// Username and argon2 PHC hash, optionally a bearer-token SHA-256.
    Configured {
        /// Admin username.
        username: String,
        /// argon2 PHC string; `None` disables Basic.
        password_hash: Option<String>,
        /// SHA-256 of the bearer token; `None` disables bearer tokens.
        token_sha256: Option<Vec<u8>>,
    },
    /// Development only: `admin` / `admin`.
    Development,
}

/// Checks admin credentials on requests.
#[derive(Clone)]
pub struct AdminAuth {
    credentials: AdminCredentials,
    passwords: Passwords,
    attempts: Option<AttemptCounter>,
}

impl AdminAuth {
    /// Wraps the configured credentials, checking passwords on `passwords`' pool.
    pub fn new(credentials: AdminCredentials, passwords: Passwords) -> Self {
        AdminAuth {
            credentials,
            passwords,
            attempts: None,
        }
    }

    /// Counts password attempts in `store`, finding client addresses behind `trusted_proxies`.
    pub fn with_attempt_limits(mut self, store: Store, trusted_proxies: Vec<IpNet>) -> Self {
        self.attempts = Some(AttemptCounter {
            store,
            trusted_proxies,
        });
        self
    }

    /// The admin's name when `username`/`password`, sent with `req`, are right; refused
    /// without a check past the attempt limits.
    pub async fn check_password(
        &self,
        req: &HttpRequest,
        username: &str,
        password: &str,
    ) -> Result<String, AdminError> {
        let Some(counter) = &self.attempts else {
            return self.verify_password(username, password).await;
        };
        let address = super::client_address(req, &counter.trusted_proxies);
        let buckets = attempt_buckets(username, address);
        let now = chrono::Utc::now();
        let hit = buckets.clone();
        let counts = counter
            .store
            .run(move |conn| tessera_store::rate_limits::hit(conn, &hit, now, ATTEMPT_WINDOW))
            .await
            .map_err(|_| AdminError::Busy)?;
        if let Some(retry_after) = over_limit(&counts, now) {
            tracing::warn!(?address, "admin password attempts over the limit");
            return Err(AdminError::TooManyAttempts(retry_after));
        }
        let verified = self.verify_password(username, password).await?;
        if let Some(address_bucket) = buckets.get(1).cloned() {
            let _ = counter
                .store
                .run(move |conn| tessera_store::rate_limits::reset(conn, &address_bucket))
                .await;
        }
        Ok(verified)
    }

    /// The admin's name when `username`/`password` are right.
    async fn verify_password(&self, username: &str, password: &str) -> Result<String, AdminError> {
        let (expected_user, hash) = match &self.credentials {
            AdminCredentials::Development => {
                // Lengths first: memcmp::eq requires equal lengths.
                let ok = crypto::same(b"admin", username.as_bytes())
                    & crypto::same(b"admin", password.as_bytes());
                return if ok {
                    Ok("admin".into())
                } else {
                    Err(AdminError::Unauthorized)
                };
            }
            AdminCredentials::Configured {
                username,
                password_hash,
                ..
            } => (
                username.clone(),
                password_hash.clone().ok_or(AdminError::Unauthorized)?,
            ),
        };
        // Bounded wait: a flood of password attempts gets "busy", not an ever-growing queue.
        // Always hashed, even for a wrong username, so timing does not reveal which was wrong.
        let verified = tokio::time::timeout(
            Duration::from_secs(3),
            self.passwords.verify(password.to_owned(), Some(hash)),
        )
        .await
        .map_err(|_| AdminError::Busy)?
        .map_err(|_| AdminError::Busy)?;
        if verified && username == expected_user {
            Ok(expected_user)
        } else {
            Err(AdminError::Unauthorized)
        }
    }

    fn check_token(&self, token: &str) -> Result<String, AdminError> {
        let AdminCredentials::Configured {
            token_sha256: Some(expected),
            username,
            ..
        } = &self.credentials
        else {
            return Err(AdminError::Unauthorized);
        };
        if crypto::same(expected, &crypto::sha256(token.as_bytes())) {
            Ok(format!("{username} (token)"))
        } else {
            Err(AdminError::Unauthorized)
        }
    }

    /// What the credentials are: admin sessions are signed under a key bound to it, so
    /// changing the password (or username, or token) ends every session.
    pub fn fingerprint(&self) -> String {
        match &self.credentials {
            AdminCredentials::Development => "development".into(),
            AdminCredentials::Configured {
                username,
                password_hash,
                token_sha256,
            } => {
                let token: String = token_sha256
                    .iter()
                    .flatten()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                format!(
                    "{username}\n{}\n{token}",
                    password_hash.as_deref().unwrap_or_default()
                )
            }
        }
    }

    /// Authenticates an API request by its `Authorization` header; returns the author name.
    pub async fn authenticate(&self, req: &HttpRequest) -> Result<String, AdminError> {
        let value = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AdminError::Unauthorized)?;
        if let Some(token) = value.strip_prefix("Bearer ") {
            return self.check_token(token.trim());
        }
        let encoded = value
            .strip_prefix("Basic ")
            .ok_or(AdminError::Unauthorized)?;
        let decoded = STANDARD
            .decode(encoded.trim())
            .map_err(|_| AdminError::Unauthorized)?;
        let decoded = String::from_utf8(decoded).map_err(|_| AdminError::Unauthorized)?;
        let (user, password) = decoded.split_once(':').ok_or(AdminError::BasicRefused)?;
        self.check_password(req, user, password)
            .await
            .map_err(|e| match e {
                AdminError::Unauthorized => AdminError::BasicRefused,
                other => other,
            })
    }
}

/// The buckets an admin password attempt counts in: the username (hashed: the table holds no
/// names) and the client address.
fn attempt_buckets(username: &str, address: Option<IpAddr>) -> Vec<String> {
    let digest: String = crypto::sha256(username.trim().to_lowercase().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut buckets = vec![format!("admin:user:{digest}")];
    if let Some(address) = address {
        buckets.push(format!("admin:addr:{address}"));
    }
    buckets
}

/// How long until the fullest bucket's window ends, when a bucket is over its limit.
fn over_limit(
    counts: &[tessera_store::rate_limits::BucketCount],
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let window = chrono::Duration::from_std(ATTEMPT_WINDOW).unwrap_or(chrono::Duration::MAX);
    counts
        .iter()
        .filter(|c| {
            let limit = if c.bucket.starts_with("admin:user:") {
                ATTEMPTS_PER_USERNAME
            } else {
                ATTEMPTS_PER_ADDRESS
            };
            c.hits > limit
        })
        .map(|c| {
            let ends = c.window_start.checked_add_signed(window).unwrap_or(now);
            (ends - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_secs(1))
        })
        .max()
}

/// An argon2id PHC hash of `password` with the library's defaults (OWASP parameters), for
/// `tessera admin hash-password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    crate::crypto::passwords::hash_here(password).map_err(|e| e.to_string())
}
