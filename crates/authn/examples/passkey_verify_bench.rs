//! What verifying a passkey sign-in costs the server's CPU here, without the database: the
//! whole webauthn-rs check of one assertion, the stored state and credential read back from
//! JSON as the finish does, and the P-256 signature alone through OpenSSL: what webauthn-rs
//! adds around the signature (CBOR, clientDataJSON, checks).
//! `cargo run --release -p tessera-authn --example passkey_verify_bench`
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::time::{Duration, Instant};

use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::sign::Verifier;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{COSEKeyType, Passkey, PasskeyAuthentication, Url, WebauthnBuilder};

fn per_call(n: u32, mut call: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..n {
        call();
    }
    started.elapsed() / n
}

fn main() {
    let origin = Url::parse("https://login.example.com").unwrap();
    let webauthn = WebauthnBuilder::new("login.example.com", &origin)
        .unwrap()
        .build()
        .unwrap();
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));

    let user = uuid::Uuid::new_v4();
    let (creation, registration) = webauthn
        .start_passkey_registration(user, "bench", "Bench", None)
        .unwrap();
    let created = authenticator
        .do_registration(origin.clone(), creation)
        .unwrap();
    let passkey = webauthn
        .finish_passkey_registration(&created, &registration)
        .unwrap();

    let (request, state) = webauthn
        .start_passkey_authentication(std::slice::from_ref(&passkey))
        .unwrap();
    let response = authenticator.do_authentication(origin, request).unwrap();
    // The finish reads both back from PostgreSQL's JSON.
    let stored_state = serde_json::to_value(&state).unwrap();
    let stored_passkey = serde_json::to_value(&passkey).unwrap();

    let n = 2_000;
    let whole = per_call(n, || {
        webauthn
            .finish_passkey_authentication(&response, &state)
            .unwrap();
    });
    let from_json = per_call(n, || {
        let _: PasskeyAuthentication = serde_json::from_value(stored_state.clone()).unwrap();
        let _: Passkey = serde_json::from_value(stored_passkey.clone()).unwrap();
    });

    // The same signature checked by OpenSSL: over authenticatorData ‖ SHA-256(clientDataJSON).
    let COSEKeyType::EC_EC2(key) = &passkey.get_public_key().key else {
        panic!("the software authenticator makes P-256 keys");
    };
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec = EcKey::from_public_key_affine_coordinates(
        &group,
        &BigNum::from_slice(&key.x).unwrap(),
        &BigNum::from_slice(&key.y).unwrap(),
    )
    .unwrap();
    let public = PKey::from_ec_key(ec).unwrap();
    let assertion = &response.response;
    let mut signed = assertion.authenticator_data.to_vec();
    signed.extend_from_slice(&openssl::sha::sha256(&assertion.client_data_json));
    let openssl_verify = per_call(n, || {
        let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        verifier.update(&signed).unwrap();
        assert!(verifier.verify(&assertion.signature).unwrap());
    });

    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "webauthn-rs finish_passkey_authentication:       {:.0} µs",
        us(whole)
    );
    println!(
        "ceremony state + passkey from JSON:                            {:.0} µs",
        us(from_json)
    );
    println!(
        "OpenSSL P-256 verification of the same signature:              {:.0} µs",
        us(openssl_verify)
    );
}
