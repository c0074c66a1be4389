//! The load generator's passkey: one P-256 key answering WebAuthn ceremonies as a
//! user-verifying platform authenticator would, from the Level 3 data layouts (§6.1
//! authenticator data, §6.5.4 attestation objects in the `none` format, §6.3.3 assertion
//! signatures).
//!
//! webauthn-rs's software authenticator does the same but parses its private key from DER and
//! builds the curve again for every signature; on the cores the server is measured on, that
//! was a quarter of the generator's CPU. This one keeps the key parsed.

use anyhow::{Context, Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::Private;
use openssl::sha::sha256;
use serde_json::{Value, json};

/// User present, user verified.
const UP_UV: u8 = 0x01 | 0x04;
/// Attested credential data follows.
const AT: u8 = 0x40;
/// COSE: kty EC2, alg ES256, crv P-256.
const COSE_EC2: i64 = 2;
const COSE_ES256: i64 = -7;
const COSE_P256: i64 = 1;

/// A software passkey holding one ES256 credential.
pub struct SoftKey {
    key: EcKey<Private>,
    credential_id: Vec<u8>,
    /// The account's WebAuthn user handle, learnt at registration.
    user_handle: Vec<u8>,
    counter: u32,
    /// The origin the browser would report (`https://host[:port]`).
    origin: String,
}

impl SoftKey {
    /// A new key for a relying party at `origin`.
    pub fn new(origin: &url::Url) -> Result<SoftKey> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let mut credential_id = vec![0u8; 16];
        openssl::rand::rand_bytes(&mut credential_id)?;
        Ok(SoftKey {
            key: EcKey::generate(&group)?,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.origin().ascii_serialization(),
        })
    }

    /// The credential id, base64url.
    pub fn credential_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// The answer to `navigator.credentials.create(options)`, as the page posts it.
    pub fn register(&mut self, options: &Value) -> Result<Value> {
        let public_key = &options["publicKey"];
        self.user_handle = URL_SAFE_NO_PAD
            .decode(text(&public_key["user"]["id"])?)
            .context("user handle")?;
        let client_data = self.client_data("webauthn.create", public_key)?;

        let (x, y) = self.coordinates()?;
        let cose_key = cbor::map(vec![
            (cbor::int(1), cbor::int(COSE_EC2)),
            (cbor::int(3), cbor::int(COSE_ES256)),
            (cbor::int(-1), cbor::int(COSE_P256)),
            (cbor::int(-2), cbor::bytes(&x)),
            (cbor::int(-3), cbor::bytes(&y)),
        ]);
        let cose_key = cbor::encode(&cose_key)?;
        let mut auth_data = self.auth_data(public_key, UP_UV | AT)?;
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(&u16::try_from(self.credential_id.len())?.to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose_key);
        let attestation_object = cbor::map(vec![
            (cbor::text("fmt"), cbor::text("none")),
            (cbor::text("attStmt"), cbor::map(Vec::new())),
            (cbor::text("authData"), cbor::bytes(&auth_data)),
        ]);
        let attestation_object = cbor::encode(&attestation_object)?;
        Ok(json!({
            "id": self.credential_id(),
            "rawId": self.credential_id(),
            "type": "public-key",
            "extensions": {},
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            },
        }))
    }

    /// The answer to `navigator.credentials.get(options)` of a discoverable credential (with
    /// the user handle).
    pub fn sign(&mut self, options: &Value) -> Result<Value> {
        let public_key = &options["publicKey"];
        let client_data = self.client_data("webauthn.get", public_key)?;
        self.counter += 1;
        let auth_data = self.auth_data(public_key, UP_UV)?;
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let signature = EcdsaSig::sign(&sha256(&signed), &self.key)?.to_der()?;
        Ok(json!({
            "id": self.credential_id(),
            "rawId": self.credential_id(),
            "type": "public-key",
            "extensions": {},
            "response": {
                "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
                "signature": URL_SAFE_NO_PAD.encode(signature),
                "userHandle": URL_SAFE_NO_PAD.encode(&self.user_handle),
            },
        }))
    }

    fn client_data(&self, kind: &str, public_key: &Value) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(&json!({
            "type": kind,
            "challenge": text(&public_key["challenge"])?,
            "origin": self.origin,
            "crossOrigin": false,
        }))?)
    }

    /// RP ID hash, flags, counter.
    fn auth_data(&self, public_key: &Value, flags: u8) -> Result<Vec<u8>> {
        let rp_id = text(&public_key["rp"]["id"]).or_else(|_| text(&public_key["rpId"]))?;
        let mut data = sha256(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        Ok(data)
    }

    fn coordinates(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
        let mut ctx = BigNumContext::new()?;
        self.key
            .public_key()
            .affine_coordinates(self.key.group(), &mut x, &mut y, &mut ctx)?;
        Ok((x.to_vec_padded(32)?, y.to_vec_padded(32)?))
    }
}

fn text(value: &Value) -> Result<&str> {
    value
        .as_str()
        .ok_or_else(|| anyhow!("expected a string in the options, got {value}"))
}

/// CBOR items, with integer or text keys.
mod cbor {
    use serde_cbor_2::Value;

    pub fn int(n: i64) -> Value {
        Value::Integer(n.into())
    }

    pub fn bytes(b: &[u8]) -> Value {
        Value::Bytes(b.to_vec())
    }

    pub fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    pub fn map(pairs: Vec<(Value, Value)>) -> Value {
        Value::Map(pairs.into_iter().collect())
    }

    pub fn encode(value: &Value) -> anyhow::Result<Vec<u8>> {
        Ok(serde_cbor_2::to_vec(value)?)
    }
}
