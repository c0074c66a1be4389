//! An example API protected by Tessera's access tokens: a model to copy.
//!
//! An API trusts a bearer token only after checking, in this order:
//!
//! 1. the header names a key (`kid`) that the issuer publishes in its JWKS, and an algorithm
//!    that key is for — never the algorithm the token merely claims (RFC 8725 §3.1);
//! 2. the header's `typ` is `at+jwt` (RFC 9068 §4): an ID token, signed by the same keys, is
//!    not an access token and must not open the API;
//! 3. the signature, then `iss` (exactly the issuer), `aud` (this API's identifier) and `exp`.
//!
//! The JWKS is fetched once and cached ([`KeySet`]); a token naming an unknown `kid` makes it
//! fetch again — that is how a rotated key becomes known — but at most once per
//! [`DEFAULT_MIN_REFRESH_INTERVAL`], so a flood of forged `kid`s cannot turn the API against
//! the issuer.

pub mod http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::RwLock;

/// Why a token was not accepted. The message is safe to send back to the caller.
#[derive(Debug, Error)]
pub enum Rejection {
    /// No `Authorization: Bearer` header.
    #[error("a bearer access token is required")]
    Missing,
    /// Not a JWT, or a header that cannot be read.
    #[error("the token is not a JWT")]
    Malformed,
    /// `typ` is not `at+jwt` (an ID token, say).
    #[error("the token is not an access token (typ must be at+jwt)")]
    NotAnAccessToken,
    /// The `kid` is not in the issuer's JWKS, even after fetching it again.
    #[error("the token is signed by a key the issuer does not publish")]
    UnknownKey,
    /// The algorithm is not the key's.
    #[error("the token's algorithm does not match its key")]
    WrongAlgorithm,
    /// Signature, issuer, audience or expiry failed.
    #[error("the token is invalid: {0}")]
    Invalid(String),
    /// The issuer's JWKS could not be fetched; the API cannot decide.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
}

/// What the API knows about the caller once its token is accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user (or, for client credentials, the client).
    pub sub: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
    /// Issue time.
    pub iat: u64,
    /// When the user authenticated, if a user did.
    #[serde(default)]
    pub auth_time: Option<u64>,
}

impl AccessClaims {
    /// True when the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// Where the API's trust comes from.
#[derive(Debug, Clone)]
pub struct TrustSettings {
    /// The issuer, exactly as in its tokens' `iss`.
    pub issuer: String,
    /// The issuer's JWKS URL (from its discovery document's `jwks_uri`).
    pub jwks_uri: String,
    /// This API's identifier: the `aud` its tokens must carry.
    pub audience: String,
}

impl TrustSettings {
    /// Reads `jwks_uri` from the issuer's discovery document.
    pub async fn discover(
        http: &reqwest::Client,
        issuer: &str,
        audience: &str,
    ) -> Result<Self, reqwest::Error> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let found: Discovery = http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(TrustSettings {
            issuer: found.issuer,
            jwks_uri: found.jwks_uri,
            audience: audience.to_owned(),
        })
    }
}

/// The issuer's published keys, cached.
pub struct KeySet {
    http: reqwest::Client,
    jwks_uri: String,
    min_refresh_interval: Duration,
    cached: RwLock<Cached>,
}

struct Cached {
    keys: JwkSet,
    fetched_at: Option<Instant>,
}

impl KeySet {
    /// An empty cache for `jwks_uri`; the first token fills it. An unknown `kid` fetches the
    /// JWKS again at most once per `min_refresh_interval`.
    pub fn new(http: reqwest::Client, jwks_uri: String, min_refresh_interval: Duration) -> Self {
        KeySet {
            http,
            jwks_uri,
            min_refresh_interval,
            cached: RwLock::new(Cached {
                keys: JwkSet { keys: Vec::new() },
                fetched_at: None,
            }),
        }
    }

    /// The key named `kid`, fetching the JWKS when it is not cached and the last fetch is
    /// old enough.
    pub async fn find(&self, kid: &str) -> Result<Jwk, Rejection> {
        if let Some(jwk) = self.cached.read().await.keys.find(kid) {
            return Ok(jwk.clone());
        }
        let mut cached = self.cached.write().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(jwk) = cached.keys.find(kid) {
            return Ok(jwk.clone());
        }
        let recently = cached
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.min_refresh_interval);
        if recently {
            return Err(Rejection::UnknownKey);
        }
        cached.keys = self.fetch().await?;
        cached.fetched_at = Some(Instant::now());
        cached.keys.find(kid).cloned().ok_or(Rejection::UnknownKey)
    }

    async fn fetch(&self) -> Result<JwkSet, Rejection> {
        let response = self.http.get(&self.jwks_uri).send().await;
        let keys = match response {
            Ok(response) => response.error_for_status().map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let keys = match keys {
            Ok(response) => response.json::<JwkSet>().await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        keys.map_err(|error| {
            tracing::warn!(%error, jwks_uri = %self.jwks_uri, "cannot fetch the issuer's keys");
            Rejection::KeysUnavailable
        })
    }
}

/// An unknown `kid` fetches the JWKS again at most this often (by default).
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// Validates access tokens for one API.
pub struct AccessTokenValidator {
    trust: TrustSettings,
    keys: KeySet,
}

/// Algorithms this API accepts at all; Tessera signs access tokens with ES256.
const ACCEPTED: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

impl AccessTokenValidator {
    /// A validator trusting `trust`, fetching keys with `http`.
    pub fn new(http: reqwest::Client, trust: TrustSettings) -> Arc<Self> {
        Self::with_refresh_interval(http, trust, DEFAULT_MIN_REFRESH_INTERVAL)
    }

    /// As [`Self::new`], fetching the JWKS for an unknown `kid` at most once per `interval`.
    pub fn with_refresh_interval(
        http: reqwest::Client,
        trust: TrustSettings,
        interval: Duration,
    ) -> Arc<Self> {
        let keys = KeySet::new(http, trust.jwks_uri.clone(), interval);
        Arc::new(AccessTokenValidator { trust, keys })
    }

    /// The claims of `token` if it is a valid access token for this API.
    pub async fn validate(&self, token: &str) -> Result<AccessClaims, Rejection> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::Malformed)?;
        let is_access_token = header.typ.as_deref().is_some_and(|t| {
            t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
        });
        if !is_access_token {
            return Err(Rejection::NotAnAccessToken);
        }
        let kid = header.kid.as_deref().ok_or(Rejection::UnknownKey)?;
        let jwk = self.keys.find(kid).await?;
        let algorithm = key_algorithm(&jwk).ok_or(Rejection::WrongAlgorithm)?;
        if header.alg != algorithm || !ACCEPTED.contains(&algorithm) {
            return Err(Rejection::WrongAlgorithm);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| Rejection::Invalid(e.to_string()))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.trust.issuer]);
        validation.set_audience(&[&self.trust.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| Rejection::Invalid(e.to_string()))
    }
}

/// The algorithm a JWK is published for.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    use jsonwebtoken::jwk::KeyAlgorithm;
    match jwk.common.key_algorithm? {
        KeyAlgorithm::ES256 => Some(Algorithm::ES256),
        KeyAlgorithm::RS256 => Some(Algorithm::RS256),
        KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
        _ => None,
    }
}
