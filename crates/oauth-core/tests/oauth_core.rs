//! oauth-core integration tests on the real PostgreSQL server.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use josekit::jwt::JwtPayload;
use openidconnect::core::{CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, IdTokenVerifier, IssuerUrl, Nonce};
use tessera_oauth_core::keys::{
    self, KeyEncryptionKey, KeyError, KeyPolicy, KeyStatus, SigningAlgorithm, SigningKeys,
};
use tessera_testkit::TestDatabase;

fn kek() -> KeyEncryptionKey {
    KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64().unwrap()).unwrap()
}

fn kids(keys: &SigningKeys, now: DateTime<Utc>) -> Vec<String> {
    let mut kids: Vec<String> = keys.jwks(now)["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

const ISSUER: &str = "https://id.example.com/tenant";

fn id_token_payload(now: DateTime<Utc>) -> JwtPayload {
    let mut payload = JwtPayload::new();
    payload.set_issuer(ISSUER);
    payload.set_subject("a".repeat(64));
    payload.set_audience(vec!["client-1"]);
    payload.set_issued_at(&now.into());
    payload.set_expires_at(&(now + Duration::minutes(5)).into());
    payload
        .set_claim("nonce", Some(serde_json::json!("n-0S6_WzA2Mj")))
        .unwrap();
    payload
}

#[tokio::test]
async fn first_start_generates_one_es256_and_one_rs256_key_and_a_restart_keeps_them() {
    let db = TestDatabase::new();
    let kek = kek();
    let now = Utc::now();
    let first = SigningKeys::open(db.store(), kek.clone(), now)
        .await
        .unwrap();
    let jwks = first.jwks(now);
    let algs: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs.len(), 2);
    assert!(algs.contains(&"ES256") && algs.contains(&"RS256"));
    for key in jwks["keys"].as_array().unwrap() {
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "private part published: {key}");
    }

    let restarted = SigningKeys::open(db.store(), kek, now).await.unwrap();
    assert_eq!(kids(&first, now), kids(&restarted, now));
}

#[tokio::test]
async fn instances_starting_together_agree_on_one_key_set() {
    let db = TestDatabase::new();
    let kek = kek();
    let now = Utc::now();
    let opens = (0..4).map(|_| SigningKeys::open(db.store(), kek.clone(), now));
    let sets = futures_util::future::join_all(opens).await;
    let first = kids(sets[0].as_ref().unwrap(), now);
    assert_eq!(first.len(), 2);
    for set in &sets {
        assert_eq!(kids(set.as_ref().unwrap(), now), first);
    }
}

#[tokio::test]
async fn private_keys_are_stored_sealed_and_do_not_open_under_another_kek() {
    let db = TestDatabase::new();
    let now = Utc::now();
    SigningKeys::open(db.store(), kek(), now).await.unwrap();
    let err = SigningKeys::open(db.store(), kek(), now).await.unwrap_err();
    assert!(matches!(err, KeyError::Seal { .. }), "{err}");
}

#[tokio::test]
async fn tokens_signed_by_each_key_verify_with_the_openidconnect_crate_against_the_jwks() {
    let db = TestDatabase::new();
    let now = Utc::now();
    let keys = SigningKeys::open(db.store(), kek(), now).await.unwrap();
    let jwks: CoreJsonWebKeySet = serde_json::from_value(keys.jwks(now)).unwrap();
    for alg in SigningAlgorithm::ALL {
        let jwt = keys.sign(alg, "JWT", &id_token_payload(now), now).unwrap();
        let token = CoreIdToken::from_str(&jwt).unwrap();
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new("client-1".into()),
            IssuerUrl::new(ISSUER.into()).unwrap(),
            jwks.clone(),
        )
        .set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ]);
        let claims = token
            .claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".into()))
            .unwrap_or_else(|e| panic!("{alg:?} token rejected: {e}"));
        assert_eq!(claims.subject().as_str(), "a".repeat(64));
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_signs_after_the_delay_and_the_old_one_expires_later() {
    let db = TestDatabase::new();
    let kek = kek();
    let t0 = Utc::now();
    let keys = SigningKeys::open(db.store(), kek.clone(), t0)
        .await
        .unwrap();
    let old = keys
        .signing_key(SigningAlgorithm::Es256, t0)
        .unwrap()
        .kid
        .clone();
    let policy = KeyPolicy {
        activation_delay: Duration::hours(1),
        retention: Duration::hours(25),
    };
    let mut conn = db.store().conn().unwrap();
    let fresh = keys::rotate(&mut conn, &kek, policy, t0).unwrap();
    let new = fresh.iter().find(|r| r.alg == "ES256").unwrap().kid.clone();

    assert!(
        keys.refresh().await.unwrap(),
        "refresh must notice the rotation"
    );
    assert!(!keys.refresh().await.unwrap(), "nothing changed since");

    // Published at once, not yet signing.
    assert!(kids(&keys, t0).contains(&new));
    assert_eq!(
        keys.signing_key(SigningAlgorithm::Es256, t0).unwrap().kid,
        old
    );
    // After the delay the new key signs; the old one is still published.
    let t1 = t0 + Duration::hours(1) + Duration::seconds(1);
    assert_eq!(
        keys.signing_key(SigningAlgorithm::Es256, t1).unwrap().kid,
        new
    );
    assert!(kids(&keys, t1).contains(&old));
    let old_key = keys.keys().into_iter().find(|k| k.kid == old).unwrap();
    assert_eq!(old_key.status(t1), KeyStatus::Retired);
    // Once every token it signed has expired, the old key leaves the JWKS.
    let t2 = t0 + Duration::hours(26) + Duration::seconds(1);
    assert!(!kids(&keys, t2).contains(&old));
    assert_eq!(kids(&keys, t2).len(), 2);

    // A later rotation deletes rows whose retention has passed.
    keys::rotate(&mut conn, &kek, policy, t2).unwrap();
    let listed = keys::list(&mut conn, t2).unwrap();
    assert!(
        listed.iter().all(|k| k.kid != old),
        "expired key still stored"
    );
}

#[tokio::test]
async fn a_rotation_made_through_another_instance_is_picked_up_by_refresh() {
    let db = TestDatabase::new();
    let kek = kek();
    let now = Utc::now();
    let a = SigningKeys::open(db.store(), kek.clone(), now)
        .await
        .unwrap();
    let b = SigningKeys::open(db.store(), kek.clone(), now)
        .await
        .unwrap();
    let mut conn = db.store().conn().unwrap();
    keys::rotate(
        &mut conn,
        &kek,
        KeyPolicy {
            activation_delay: Duration::zero(),
            retention: Duration::hours(1),
        },
        now,
    )
    .unwrap();
    a.refresh().await.unwrap();
    b.refresh().await.unwrap();
    assert_eq!(kids(&a, now).len(), 4);
    assert_eq!(kids(&a, now), kids(&b, now));
}

/// Form and query parameters, and authorization requests built from them: near-valid requests
/// with parameters dropped, repeated, altered or invented, and byte soup. Parsing and validation
/// answer each with parameters or a refusal, never a panic, in time linear in the input.
#[test]
fn fuzz_parameter_parsing_and_authorization_requests_never_panic() {
    use tessera_admin::config;
    use tessera_admin::secrets::ConfigSecrets;
    use tessera_oauth_core::params::Params;
    use tessera_testkit::fuzz::{self, proptest::prelude::*};

    let snapshot = tessera_admin::Snapshot::new(
        1,
        config::parse(
            include_str!("../../../config/base.xml"),
            &ConfigSecrets::ephemeral().unwrap(),
        )
        .unwrap(),
    );
    let name = prop_oneof![
        prop::sample::select(vec![
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
            "prompt",
            "max_age",
            "login_hint",
            "acr_values",
            "response_mode",
            "request",
            "request_uri",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{0,12}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "demo-web-client",
            "http://localhost:3000/callback",
            "code",
            "openid profile",
            "S256",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "none",
            "login",
            "0",
            "form_post",
            "",
            "http://127.0.0.1:1/callback",
            "openid address phone",
        ])
        .prop_map(str::to_owned),
        ".{0,64}",
    ];
    let structured = prop::collection::vec((name, value), 0..24).prop_map(|pairs| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (n, v) in pairs {
            query.append_pair(&n, &v);
        }
        query.finish().into_bytes()
    });
    let inputs = prop_oneof![
        4 => structured,
        1 => prop::collection::vec(any::<u8>(), 0..4096),
        1 => "[a-z=&%0-9A-F]{0,4096}".prop_map(String::into_bytes),
    ];
    fuzz::run("authorization requests", inputs, Vec::len, |raw| {
        if let Ok(params) = Params::parse(raw) {
            let _ = tessera_oauth_core::authorize::validate(&params, &snapshot);
        }
    });
}
