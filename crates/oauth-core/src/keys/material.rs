//! Key material: generating key pairs, sealing them into rows and decoding rows into signers.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use josekit::jws::{ES256, JwsSigner, RS256};
use tessera_store::signing_keys::SigningKeyRow;

use super::{KeyEncryptionKey, KeyError, SigningAlgorithm, SigningKey};

const RSA_BITS: u32 = 2048;

fn material_error(kid: &str, reason: impl std::fmt::Display) -> KeyError {
    KeyError::Material {
        kid: kid.to_owned(),
        reason: reason.to_string(),
    }
}

/// A random key id: 128 bits, base64url.
fn new_kid() -> Result<String, KeyError> {
    let bytes =
        tessera_admin::crypto::random_bytes::<16>().map_err(|e| material_error("(new)", e))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Generates a key pair and seals its private half into a row.
pub(super) fn generate(
    alg: SigningAlgorithm,
    kek: &KeyEncryptionKey,
    now: DateTime<Utc>,
    activates_at: DateTime<Utc>,
) -> Result<SigningKeyRow, KeyError> {
    let kid = new_kid()?;
    let (private_der, mut jwk) = match alg {
        SigningAlgorithm::Es256 => {
            let pair = ES256
                .generate_key_pair()
                .map_err(|e| material_error(&kid, e))?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
        SigningAlgorithm::Rs256 => {
            let pair = RS256
                .generate_key_pair(RSA_BITS)
                .map_err(|e| material_error(&kid, e))?;
            (pair.to_der_private_key(), pair.to_jwk_public_key())
        }
    };
    jwk.set_key_id(&kid);
    jwk.set_algorithm(alg.as_str());
    jwk.set_key_use("sig");
    let sealed = kek
        .seal(kid.as_bytes(), &private_der)
        .map_err(|source| KeyError::Seal {
            kid: kid.clone(),
            source,
        })?;
    Ok(SigningKeyRow {
        kid,
        alg: alg.as_str().to_owned(),
        public_jwk: serde_json::Value::Object(jwk.as_ref().clone()),
        private_key_ciphertext: sealed,
        created_at: now,
        activates_at,
        retires_at: None,
        expires_at: None,
    })
}

/// Unseals and decodes a stored key.
pub(super) fn decode(row: &SigningKeyRow, kek: &KeyEncryptionKey) -> Result<SigningKey, KeyError> {
    let kid = &row.kid;
    let alg = SigningAlgorithm::parse(&row.alg)
        .ok_or_else(|| material_error(kid, format!("unknown algorithm {}", row.alg)))?;
    let der = kek
        .open(kid.as_bytes(), &row.private_key_ciphertext)
        .map_err(|source| KeyError::Seal {
            kid: kid.clone(),
            source,
        })?;
    let signer: Arc<dyn JwsSigner> = match alg {
        SigningAlgorithm::Es256 => Arc::new(
            ES256
                .signer_from_der(&der)
                .map_err(|e| material_error(kid, e))?,
        ),
        SigningAlgorithm::Rs256 => Arc::new(
            RS256
                .signer_from_der(&der)
                .map_err(|e| material_error(kid, e))?,
        ),
    };
    let public_jwk = match &row.public_jwk {
        serde_json::Value::Object(map) => map.clone(),
        _ => return Err(material_error(kid, "public JWK is not a JSON object")),
    };
    Ok(SigningKey {
        kid: kid.clone(),
        alg,
        public_jwk,
        activates_at: row.activates_at,
        retires_at: row.retires_at,
        expires_at: row.expires_at,
        signer,
    })
}
