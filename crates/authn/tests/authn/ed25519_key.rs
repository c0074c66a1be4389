//! A software security key that makes Ed25519 (COSE EdDSA) credentials, built from the
//! WebAuthn Level 3 data layouts (§6.1 authenticator data, §6.5.4 attestation objects with
//! the `none` format, §6.3.3 assertion signatures) and OpenSSL's Ed25519. webauthn-rs's
//! software authenticator only makes P-256 keys.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::pkey::{PKey, Private};
use openssl::sha::sha256;
use openssl::sign::Signer;
use serde_cbor_2::Value;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};

/// User present and user verified.
const UP_UV: u8 = 0x01 | 0x04;
/// Attested credential data included.
const AT: u8 = 0x40;

pub struct Ed25519Key {
    key: PKey<Private>,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

impl Ed25519Key {
    pub fn new() -> Self {
        let mut credential_id = vec![0u8; 16];
        openssl::rand::rand_bytes(&mut credential_id).unwrap();
        Ed25519Key {
            key: PKey::generate_ed25519().unwrap(),
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
        }
    }

    /// Answers `navigator.credentials.create()`, if the relying party accepts EdDSA (-8).
    pub fn register(
        &mut self,
        origin: &Url,
        options: &CreationChallengeResponse,
    ) -> RegisterPublicKeyCredential {
        let options = serde_json::to_value(options).unwrap();
        let public_key = &options["publicKey"];
        assert!(
            public_key["pubKeyCredParams"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["alg"] == -8),
            "the relying party does not offer EdDSA: {public_key}"
        );
        self.user_handle = URL_SAFE_NO_PAD
            .decode(public_key["user"]["id"].as_str().unwrap())
            .unwrap();
        let client_data = client_data("webauthn.create", public_key, origin);

        let cose_key = Value::Map(
            [
                (Value::Integer(1), Value::Integer(1)),  // kty: OKP
                (Value::Integer(3), Value::Integer(-8)), // alg: EdDSA
                (Value::Integer(-1), Value::Integer(6)), // crv: Ed25519
                (
                    Value::Integer(-2),
                    Value::Bytes(self.key.raw_public_key().unwrap()),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let mut auth_data = self.auth_data(public_key, UP_UV | AT);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none
        auth_data.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&serde_cbor_2::to_vec(&cose_key).unwrap());
        let attestation_object = Value::Map(
            [
                (Value::Text("fmt".into()), Value::Text("none".into())),
                (
                    Value::Text("attStmt".into()),
                    Value::Map(Default::default()),
                ),
                (Value::Text("authData".into()), Value::Bytes(auth_data)),
            ]
            .into_iter()
            .collect(),
        );
        serde_json::from_value(serde_json::json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "attestationObject": b64(&serde_cbor_2::to_vec(&attestation_object).unwrap()),
                "clientDataJSON": b64(&client_data),
            },
        }))
        .unwrap()
    }

    /// Answers `navigator.credentials.get()`, as a discoverable credential would (with the
    /// user handle).
    pub fn sign_in(
        &mut self,
        origin: &Url,
        options: &RequestChallengeResponse,
    ) -> PublicKeyCredential {
        let options = serde_json::to_value(options).unwrap();
        let public_key = &options["publicKey"];
        let client_data = client_data("webauthn.get", public_key, origin);
        self.counter += 1;
        let auth_data = self.auth_data(public_key, UP_UV);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(&client_data));
        let signature = Signer::new_without_digest(&self.key)
            .unwrap()
            .sign_oneshot_to_vec(&signed)
            .unwrap();
        serde_json::from_value(serde_json::json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "extensions": {},
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle),
            },
        }))
        .unwrap()
    }

    /// RP ID hash, flags and counter.
    fn auth_data(&self, public_key: &serde_json::Value, flags: u8) -> Vec<u8> {
        let rp_id = public_key["rp"]["id"]
            .as_str()
            .or_else(|| public_key["rpId"].as_str())
            .unwrap();
        let mut data = sha256(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }
}

fn client_data(kind: &str, public_key: &serde_json::Value, origin: &Url) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": kind,
        "challenge": public_key["challenge"],
        "origin": origin.origin().ascii_serialization(),
        "crossOrigin": false,
    }))
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}
