//! Curity's `<asymmetric-key>` on a client names a signature verification key of the
//! facilities, a certificate or public key in PEM; Tessera keeps a `private_key_jwt` client's
//! keys with the client, as a JWKS in `<jwks>`. The import turns the one into the other.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNumContext;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};

use super::{Outcome, Report};
use crate::config::tree::Node;

/// The verification keys the file defines: id → its keystore text.
pub fn verification_keys(root: &Node) -> HashMap<String, String> {
    root.at(&["facilities", "crypto", "signature-verification-keys"])
        .map(|keys| {
            keys.children_named("signature-verification-key")
                .filter_map(|k| {
                    Some((
                        k.child_text("id")?.to_owned(),
                        k.child_text("keystore")?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces a client's `<asymmetric-key>` with the key as `<jwks>`, when the file holds it
/// in clear. A key encrypted with Curity's configuration key stays as it is (the client is
/// then refused for having no authentication Tessera can use), with the reason reported.
pub fn carry_asymmetric_key(
    client: &mut Node,
    path: &str,
    keys: &HashMap<String, String>,
    report: &mut Report,
) {
    let Some(index) = client
        .children
        .iter()
        .position(|n| n.name == "asymmetric-key" && n.foreign.is_some())
    else {
        return;
    };
    let reference = &client.children[index];
    let id = reference.text.clone().unwrap_or_default();
    let line = reference.line;
    let outcome = match keys.get(&id) {
        None => Err(format!(
            "names signature verification key {id:?}, which this file does not hold"
        )),
        Some(stored) if !stored.contains("-----BEGIN") => Err(format!(
            "signature verification key {id:?} is encrypted with the Curity configuration's key; give it as a PEM certificate, or publish the client's keys at a <jwks-uri>"
        )),
        Some(pem) => jwks_from_pem(pem, &id),
    };
    match outcome {
        Ok(jwks) => {
            client.children[index] = Node {
                line,
                ..Node::leaf("jwks", jwks)
            };
            report.add(
                format!("{path}/asymmetric-key"),
                line,
                Outcome::Changed,
                format!("the public key of signature verification key {id:?} is kept with the client, as its <jwks>"),
            );
        }
        Err(why) => report.add(
            format!("{path}/asymmetric-key"),
            line,
            Outcome::NotCarriedOver,
            why,
        ),
    }
}

/// A one-key JWKS (`kid` = the key's id) from a PEM certificate or public key: RSA, or EC on
/// P-256.
pub fn jwks_from_pem(pem: &str, kid: &str) -> Result<String, String> {
    let key = public_key(pem.trim())?;
    let b64 = |bytes: Vec<u8>| URL_SAFE_NO_PAD.encode(bytes);
    let jwk = match key.id() {
        Id::RSA => {
            let rsa = key.rsa().map_err(|e| e.to_string())?;
            serde_json::json!({
                "kty": "RSA", "kid": kid, "use": "sig",
                "n": b64(rsa.n().to_vec()), "e": b64(rsa.e().to_vec()),
            })
        }
        Id::EC => {
            let ec = key.ec_key().map_err(|e| e.to_string())?;
            if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                return Err("only EC keys on P-256 are supported".into());
            }
            let (mut x, mut y) = (
                openssl::bn::BigNum::new().map_err(|e| e.to_string())?,
                openssl::bn::BigNum::new().map_err(|e| e.to_string())?,
            );
            let mut ctx = BigNumContext::new().map_err(|e| e.to_string())?;
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .map_err(|e| e.to_string())?;
            let pad = |n: &openssl::bn::BigNum| n.to_vec_padded(32).map_err(|e| e.to_string());
            serde_json::json!({
                "kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                "x": b64(pad(&x)?), "y": b64(pad(&y)?),
            })
        }
        _ => return Err("only RSA and EC (P-256) keys are supported".into()),
    };
    Ok(serde_json::json!({ "keys": [jwk] }).to_string())
}

fn public_key(pem: &str) -> Result<PKey<Public>, String> {
    if pem.contains("BEGIN CERTIFICATE") {
        let cert = openssl::x509::X509::from_pem(pem.as_bytes())
            .map_err(|_| "is not a readable PEM certificate".to_owned())?;
        cert.public_key().map_err(|e| e.to_string())
    } else {
        PKey::public_key_from_pem(pem.as_bytes())
            .map_err(|_| "is not a readable PEM public key".to_owned())
    }
}
