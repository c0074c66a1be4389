//! Token signing keys: generation, sealing at rest, rotation and the in-memory key set.
//!
//! Keys live in PostgreSQL so every instance on a database signs with the same keys and
//! publishes the same JWKS. Each instance decodes a key once and keeps it in an [`ArcSwap`]
//! snapshot; [`SigningKeys::refresh`] (polled by the server) picks up keys that another
//! instance generated or rotated. The current time is always passed in, so rotation and expiry
//! are testable without waiting.
//!
//! Lifecycle of a key of one algorithm:
//! `published (activates_at in the future) → signing → retired (a successor signs) → expired
//! (no token it signed is still valid; gone from the JWKS)`.

mod material;

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Duration, Utc};
use josekit::jws::{JwsHeader, JwsSigner};
use josekit::jwt::JwtPayload;
use tessera_store::signing_keys::{self, SigningKeyRow, SigningKeyStamp};
use tessera_store::{PgConn, Store, StoreError};
use thiserror::Error;

pub use tessera_admin::secrets::{KekError, KeyEncryptionKey};

/// The JWS algorithms Tessera signs with. RS256 is required by OpenID Connect Discovery;
/// ES256 is smaller and ~20x cheaper to sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigningAlgorithm {
    /// ECDSA with P-256 and SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys).
    Rs256,
}

impl SigningAlgorithm {
    /// Every algorithm a key set holds one current key for.
    pub const ALL: [SigningAlgorithm; 2] = [SigningAlgorithm::Es256, SigningAlgorithm::Rs256];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlgorithm::Es256 => "ES256",
            SigningAlgorithm::Rs256 => "RS256",
        }
    }

    /// Parses a JOSE name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

/// When rotated keys take over and how long retired keys stay published.
#[derive(Debug, Clone, Copy)]
pub struct KeyPolicy {
    /// A new key is published this long before it starts signing, so that relying parties
    /// caching the JWKS know it before they see a token signed with it.
    pub activation_delay: Duration,
    /// How long a retired key stays in the JWKS: at least the longest lifetime of a token it
    /// may have signed.
    pub retention: Duration,
}

/// Errors of key management.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or unsealing failed.
    #[error("signing key {kid}: {source}")]
    Seal {
        /// The key concerned.
        kid: String,
        /// Why.
        source: KekError,
    },
    /// A key could not be generated, decoded or used.
    #[error("signing key {kid}: {reason}")]
    Material {
        /// The key concerned.
        kid: String,
        /// Why.
        reason: String,
    },
    /// No key of this algorithm is signing now.
    #[error("no {0} signing key is active")]
    NoActiveKey(&'static str),
}

/// A decoded key, ready to sign.
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlgorithm,
    /// Public JWK with `kid`, `alg` and `use`.
    pub public_jwk: serde_json::Map<String, serde_json::Value>,
    /// Signs from this instant.
    pub activates_at: DateTime<Utc>,
    /// Stops signing at this instant.
    pub retires_at: Option<DateTime<Utc>>,
    /// Leaves the JWKS at this instant.
    pub expires_at: Option<DateTime<Utc>>,
    signer: Arc<dyn JwsSigner>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("activates_at", &self.activates_at)
            .field("retires_at", &self.retires_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The key's state at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        status_of(self.activates_at, self.retires_at, self.expires_at, now)
    }
}

/// Where a key is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Published, not yet signing.
    Next,
    /// Signing (the newest active key of its algorithm signs).
    Active,
    /// Published for verification only.
    Retired,
    /// No longer published.
    Expired,
}

impl KeyStatus {
    /// Lower-case name for listings.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Next => "next",
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
            KeyStatus::Expired => "expired",
        }
    }
}

fn status_of(
    activates_at: DateTime<Utc>,
    retires_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> KeyStatus {
    if expires_at.is_some_and(|t| t <= now) {
        KeyStatus::Expired
    } else if retires_at.is_some_and(|t| t <= now) {
        KeyStatus::Retired
    } else if activates_at > now {
        KeyStatus::Next
    } else {
        KeyStatus::Active
    }
}

/// One consistent view of the key table.
struct KeySet {
    keys: Vec<Arc<SigningKey>>,
    stamps: Vec<SigningKeyStamp>,
}

/// The live key set of this instance.
pub struct SigningKeys {
    store: Store,
    kek: KeyEncryptionKey,
    snapshot: ArcSwap<KeySet>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys")
            .field("keys", &self.snapshot.load().keys)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// Loads the key set, generating the first key of each algorithm if the table has none.
    pub async fn open(
        store: Store,
        kek: KeyEncryptionKey,
        now: DateTime<Utc>,
    ) -> Result<Self, KeyError> {
        let gen_kek = kek.clone();
        store
            .run(move |conn| Ok(ensure_keys(conn, &gen_kek, now)))
            .await??;
        let keys = SigningKeys {
            store,
            kek,
            snapshot: ArcSwap::from_pointee(KeySet {
                keys: Vec::new(),
                stamps: Vec::new(),
            }),
        };
        keys.reload().await?;
        Ok(keys)
    }

    /// Re-reads the key table if it changed since the last look; true when it did.
    /// Only keys not seen before are decrypted and decoded.
    pub async fn refresh(&self) -> Result<bool, KeyError> {
        let stamps = self.store.run(|conn| signing_keys::stamps(conn)).await?;
        if stamps == self.snapshot.load().stamps {
            return Ok(false);
        }
        self.reload().await?;
        Ok(true)
    }

    async fn reload(&self) -> Result<(), KeyError> {
        let rows = self.store.run(|conn| signing_keys::list(conn)).await?;
        let known: HashMap<String, Arc<SigningKey>> = self
            .snapshot
            .load()
            .keys
            .iter()
            .map(|k| (k.kid.clone(), Arc::clone(k)))
            .collect();
        let mut keys = Vec::with_capacity(rows.len());
        let mut stamps = Vec::with_capacity(rows.len());
        for row in rows {
            stamps.push(SigningKeyStamp {
                kid: row.kid.clone(),
                activates_at: row.activates_at,
                retires_at: row.retires_at,
                expires_at: row.expires_at,
            });
            let key = match known.get(&row.kid) {
                // Same key material; only its schedule may have changed.
                Some(old) => Arc::new(SigningKey {
                    kid: old.kid.clone(),
                    alg: old.alg,
                    public_jwk: old.public_jwk.clone(),
                    activates_at: row.activates_at,
                    retires_at: row.retires_at,
                    expires_at: row.expires_at,
                    signer: Arc::clone(&old.signer),
                }),
                None => Arc::new(material::decode(&row, &self.kek)?),
            };
            keys.push(key);
        }
        self.snapshot.store(Arc::new(KeySet { keys, stamps }));
        Ok(())
    }

    /// The JWKS document at `now`: every key not yet expired.
    pub fn jwks(&self, now: DateTime<Utc>) -> serde_json::Value {
        let set = self.snapshot.load();
        let keys: Vec<serde_json::Value> = set
            .keys
            .iter()
            .filter(|k| k.status(now) != KeyStatus::Expired)
            .map(|k| serde_json::Value::Object(k.public_jwk.clone()))
            .collect();
        serde_json::json!({ "keys": keys })
    }

    /// Every key currently known, with its state.
    pub fn keys(&self) -> Vec<Arc<SigningKey>> {
        self.snapshot.load().keys.clone()
    }

    /// The key that signs with `alg` at `now`: the most recently activated active key.
    pub fn signing_key(
        &self,
        alg: SigningAlgorithm,
        now: DateTime<Utc>,
    ) -> Result<Arc<SigningKey>, KeyError> {
        self.snapshot
            .load()
            .keys
            .iter()
            .filter(|k| k.alg == alg && k.status(now) == KeyStatus::Active)
            .max_by_key(|k| k.activates_at)
            .cloned()
            .ok_or(KeyError::NoActiveKey(alg.as_str()))
    }

    /// Signs `payload` as a compact JWT with the current `alg` key and header `typ`.
    pub fn sign(
        &self,
        alg: SigningAlgorithm,
        typ: &str,
        payload: &JwtPayload,
        now: DateTime<Utc>,
    ) -> Result<String, KeyError> {
        let key = self.signing_key(alg, now)?;
        let mut header = JwsHeader::new();
        header.set_token_type(typ);
        header.set_key_id(&key.kid);
        josekit::jwt::encode_with_signer(payload, &header, key.signer.as_ref()).map_err(|e| {
            KeyError::Material {
                kid: key.kid.clone(),
                reason: e.to_string(),
            }
        })
    }
}

impl SigningKeys {
    /// Verifies a compact JWT signed by one of our published keys and returns its header
    /// `typ` and payload. Expiry and audience are the caller's to check.
    pub fn verify(
        &self,
        jwt: &str,
        now: DateTime<Utc>,
    ) -> Result<(Option<String>, JwtPayload), KeyError> {
        let invalid = |reason: &str| KeyError::Material {
            kid: "(presented token)".into(),
            reason: reason.to_owned(),
        };
        let header = josekit::jwt::decode_header(jwt).map_err(|_| invalid("not a JWT"))?;
        let kid = header
            .claim("kid")
            .and_then(|k| k.as_str())
            .ok_or_else(|| invalid("no kid"))?
            .to_owned();
        let key = self
            .snapshot
            .load()
            .keys
            .iter()
            .find(|k| k.kid == kid && k.status(now) != KeyStatus::Expired)
            .cloned()
            .ok_or_else(|| invalid("unknown key"))?;
        let jwk =
            josekit::jwk::Jwk::from_map(key.public_jwk.clone()).map_err(|_| invalid("bad key"))?;
        let verified = match key.alg {
            SigningAlgorithm::Es256 => josekit::jws::ES256
                .verifier_from_jwk(&jwk)
                .and_then(|v| josekit::jwt::decode_with_verifier(jwt, &v)),
            SigningAlgorithm::Rs256 => josekit::jws::RS256
                .verifier_from_jwk(&jwk)
                .and_then(|v| josekit::jwt::decode_with_verifier(jwt, &v)),
        };
        let (payload, header) = verified.map_err(|_| invalid("bad signature"))?;
        Ok((header.token_type().map(str::to_owned), payload))
    }
}

/// Generates the first key of every algorithm that has none (under the key-management lock,
/// so instances starting together agree on one key set).
pub fn ensure_keys(
    conn: &mut PgConn,
    kek: &KeyEncryptionKey,
    now: DateTime<Utc>,
) -> Result<(), KeyError> {
    signing_keys::with_keys_lock(conn, |conn| -> Result<(), KeyError> {
        let existing = signing_keys::list(conn)?;
        for alg in SigningAlgorithm::ALL {
            if !existing.iter().any(|row| row.alg == alg.as_str()) {
                signing_keys::insert(conn, &material::generate(alg, kek, now, now)?)?;
            }
        }
        Ok(())
    })
}

/// Rotation: adds a new key per algorithm that is published now and signs from
/// `now + activation_delay`; the keys it replaces stop signing then and leave the JWKS
/// `retention` later. Keys whose retention has passed are deleted.
pub fn rotate(
    conn: &mut PgConn,
    kek: &KeyEncryptionKey,
    policy: KeyPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<SigningKeyRow>, KeyError> {
    let activates_at = now + policy.activation_delay;
    let mut fresh = Vec::new();
    for alg in SigningAlgorithm::ALL {
        fresh.push(material::generate(alg, kek, now, activates_at)?);
    }
    signing_keys::with_keys_lock(conn, |conn| -> Result<(), KeyError> {
        signing_keys::delete_expired(conn, now)?;
        for row in &fresh {
            signing_keys::retire(
                conn,
                &row.alg,
                activates_at,
                activates_at,
                activates_at + policy.retention,
            )?;
            signing_keys::insert(conn, row)?;
        }
        Ok(())
    })?;
    Ok(fresh)
}

/// A listing of the stored keys (for `tessera keys list`), without decoding private parts.
pub fn list(conn: &mut PgConn, now: DateTime<Utc>) -> Result<Vec<KeyListing>, KeyError> {
    Ok(signing_keys::list(conn)?
        .into_iter()
        .map(|row| KeyListing {
            status: status_of(row.activates_at, row.retires_at, row.expires_at, now),
            kid: row.kid,
            alg: row.alg,
            activates_at: row.activates_at,
            retires_at: row.retires_at,
            expires_at: row.expires_at,
        })
        .collect())
}

/// One line of `tessera keys list`.
#[derive(Debug, Clone)]
pub struct KeyListing {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// State at the time of listing.
    pub status: KeyStatus,
    /// Signs from.
    pub activates_at: DateTime<Utc>,
    /// Stops signing at.
    pub retires_at: Option<DateTime<Utc>>,
    /// Leaves the JWKS at.
    pub expires_at: Option<DateTime<Utc>>,
}
