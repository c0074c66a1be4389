//! A software passkey: one key, P-256 (ES256) or Ed25519 (EdDSA), answering WebAuthn
//! ceremonies as a user-verifying authenticator would, from the Level 3 data layouts (§6.1
//! authenticator data, §6.5.4 attestation objects in the `none` format, §6.3.3 assertion
//! signatures). It works on the options and answers as JSON, the way a page hands them over.
//!
//! webauthn-rs's software authenticator makes P-256 keys only, and parses its private key from
//! DER and builds the curve again for every signature: for the load generator, on the cores the
//! server is measured on, that was a third of its CPU. This one keeps the key parsed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sha::sha256;
use openssl::sign::Signer;
use serde_json::{Value, json};

/// What went wrong building an answer (options without a field it needs, a crypto failure).
pub type Error = Box<dyn std::error::Error + Send + Sync>;
type Result<T> = std::result::Result<T, Error>;

/// User present, user verified.
const UP_UV: u8 = 0x01 | 0x04;
/// Attested credential data follows.
const AT: u8 = 0x40;

/// The credential's key pair.
enum Key {
    /// ES256.
    P256(EcKey<Private>),
    /// EdDSA.
    Ed25519(PKey<Private>),
}

/// A software passkey holding one credential.
pub struct SoftKey {
    key: Key,
    credential_id: Vec<u8>,
    /// The account's WebAuthn user handle, learnt at registration.
    user_handle: Vec<u8>,
    counter: u32,
    /// The origin the browser would report (`https://host[:port]`).
    origin: String,
}

impl SoftKey {
    /// A new P-256 key for the relying party whose pages are at `origin` (`https://host[:port]`).
    pub fn p256(origin: &str) -> Result<SoftKey> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        SoftKey::with(Key::P256(EcKey::generate(&group)?), origin)
    }

    /// A new Ed25519 key, as security keys make when the relying party allows EdDSA.
    pub fn ed25519(origin: &str) -> Result<SoftKey> {
        SoftKey::with(Key::Ed25519(PKey::generate_ed25519()?), origin)
    }

    fn with(key: Key, origin: &str) -> Result<SoftKey> {
        let mut credential_id = vec![0u8; 16];
        openssl::rand::rand_bytes(&mut credential_id)?;
        Ok(SoftKey {
            key,
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
            origin: origin.trim_end_matches('/').to_owned(),
        })
    }

    /// Sets the signature counter the next answer counts on from (a copy of the key would
    /// report its own).
    pub fn set_counter(&mut self, counter: u32) {
        self.counter = counter;
    }

    /// The credential id, base64url.
    pub fn credential_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.credential_id)
    }

    /// The answer to `navigator.credentials.create(options)`, as the page posts it. The
    /// options must offer the key's algorithm.
    pub fn register(&mut self, options: &Value) -> Result<Value> {
        let public_key = &options["publicKey"];
        let alg = self.cose_algorithm();
        let offered = public_key["pubKeyCredParams"]
            .as_array()
            .is_some_and(|params| params.iter().any(|p| p["alg"] == alg));
        if !offered {
            return Err(format!("the relying party does not offer COSE algorithm {alg}").into());
        }
        self.user_handle = URL_SAFE_NO_PAD.decode(text(&public_key["user"]["id"])?)?;
        let client_data = self.client_data("webauthn.create", public_key)?;

        let cose_key = cbor::encode(&self.cose_key()?)?;
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
        Ok(self.credential(json!({
            "attestationObject": URL_SAFE_NO_PAD.encode(attestation_object),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
        })))
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
        let signature = match &self.key {
            // ES256 signs SHA-256 of the data, DER-encoded.
            Key::P256(key) => EcdsaSig::sign(&sha256(&signed), key)?.to_der()?,
            Key::Ed25519(key) => Signer::new_without_digest(key)?.sign_oneshot_to_vec(&signed)?,
        };
        Ok(self.credential(json!({
            "authenticatorData": URL_SAFE_NO_PAD.encode(auth_data),
            "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data),
            "signature": URL_SAFE_NO_PAD.encode(signature),
            "userHandle": URL_SAFE_NO_PAD.encode(&self.user_handle),
        })))
    }

    /// A `PublicKeyCredential` of this key with `response`.
    fn credential(&self, response: Value) -> Value {
        json!({
            "id": self.credential_id(),
            "rawId": self.credential_id(),
            "type": "public-key",
            "extensions": {},
            "response": response,
        })
    }

    fn cose_algorithm(&self) -> i64 {
        match self.key {
            Key::P256(_) => -7,
            Key::Ed25519(_) => -8,
        }
    }

    /// The public key as a COSE_Key (RFC 9053 §7: EC2 or OKP).
    fn cose_key(&self) -> Result<serde_cbor_2::Value> {
        let alg = (cbor::int(3), cbor::int(self.cose_algorithm()));
        Ok(match &self.key {
            Key::P256(key) => {
                let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
                let mut ctx = BigNumContext::new()?;
                key.public_key()
                    .affine_coordinates(key.group(), &mut x, &mut y, &mut ctx)?;
                cbor::map(vec![
                    (cbor::int(1), cbor::int(2)), // kty: EC2
                    alg,
                    (cbor::int(-1), cbor::int(1)), // crv: P-256
                    (cbor::int(-2), cbor::bytes(&x.to_vec_padded(32)?)),
                    (cbor::int(-3), cbor::bytes(&y.to_vec_padded(32)?)),
                ])
            }
            Key::Ed25519(key) => cbor::map(vec![
                (cbor::int(1), cbor::int(1)), // kty: OKP
                alg,
                (cbor::int(-1), cbor::int(6)), // crv: Ed25519
                (cbor::int(-2), cbor::bytes(&key.raw_public_key()?)),
            ]),
        })
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
}

fn text(value: &Value) -> Result<&str> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string in the options, got {value}").into())
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

    pub fn encode(value: &Value) -> super::Result<Vec<u8>> {
        Ok(serde_cbor_2::to_vec(value)?)
    }
}
