//! Client keys published at a URI (Curity's `<jwks-uri>`, RFC 7591's `jwks_uri`): fetched when
//! an assertion first needs them, kept for a while, fetched again early when an assertion does
//! not verify against an older copy (the client rotated its key), at most once a minute.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a fetched key set is used.
const KEEP: Duration = Duration::from_secs(300);
/// A copy younger than this is not fetched again for a failed assertion.
const RECENT: Duration = Duration::from_secs(60);
/// Largest key set accepted.
const MAX_BYTES: usize = 256 * 1024;

struct Fetched {
    at: Instant,
    jwks: Arc<String>,
}

/// The key sets of clients that publish theirs, by URI.
pub struct RemoteJwks {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Fetched>>,
}

impl std::fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RemoteJwks")
    }
}

/// Whether a cached copy will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Any copy younger than five minutes.
    Cached,
    /// Fetch again unless the copy is younger than a minute.
    Renewed,
}

impl RemoteJwks {
    /// A cache with its own HTTP client: five-second timeout, no redirects.
    pub fn new() -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(RemoteJwks {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The key set at `uri`, normalised; `None` when it cannot be had (logged, never shown to
    /// the client). Returns whether the copy was fetched just now.
    pub async fn keys(&self, uri: &str, freshness: Freshness) -> Option<(Arc<String>, bool)> {
        let now = Instant::now();
        if let Some(copy) = self.cached(uri, now, freshness) {
            return Some((copy, false));
        }
        match self.fetch(uri).await {
            Ok(jwks) => {
                let jwks = Arc::new(jwks);
                if let Ok(mut cache) = self.cache.lock() {
                    cache.insert(
                        uri.to_owned(),
                        Fetched {
                            at: now,
                            jwks: Arc::clone(&jwks),
                        },
                    );
                }
                Some((jwks, true))
            }
            Err(why) => {
                tracing::warn!(jwks_uri = %uri, error = %why, "a client's published keys could not be fetched");
                None
            }
        }
    }

    fn cached(&self, uri: &str, now: Instant, freshness: Freshness) -> Option<Arc<String>> {
        let cache = self.cache.lock().ok()?;
        let copy = cache.get(uri)?;
        let age = now.saturating_duration_since(copy.at);
        let fresh_enough = match freshness {
            Freshness::Cached => age < KEEP,
            Freshness::Renewed => age < RECENT,
        };
        fresh_enough.then(|| Arc::clone(&copy.jwks))
    }

    async fn fetch(&self, uri: &str) -> Result<String, String> {
        let mut response = self
            .http
            .get(uri)
            .header(
                reqwest::header::ACCEPT,
                "application/jwk-set+json, application/json",
            )
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(format!("the key set is larger than {MAX_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body).map_err(|_| "the key set is not UTF-8".to_owned())?;
        tessera_admin::config::read_jwks(&text)
    }
}
