//! Discovery and JWKS, as a relying party using the `openidconnect` crate sees them.

use std::str::FromStr;

use chrono::{Duration, Utc};
use josekit::jwt::JwtPayload;
use openidconnect::core::{CoreIdToken, CoreJwsSigningAlgorithm, CoreProviderMetadata};
use openidconnect::{ClientId, IdTokenVerifier, IssuerUrl, Nonce};
use tessera_oauth_core::keys::SigningAlgorithm;

use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};

async fn discover(app: &TestApp) -> CoreProviderMetadata {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
        .await
        .expect("discovery succeeds with the openidconnect crate")
}

#[tokio::test]
async fn discovery_names_the_configured_issuer_and_offers_rs256_and_es256() {
    let app = spawn_app().await;
    let metadata = discover(&app).await;
    assert_eq!(metadata.issuer().as_str(), app.issuer);
    let algs = metadata.id_token_signing_alg_values_supported();
    assert!(algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
    assert!(algs.contains(&CoreJwsSigningAlgorithm::EcdsaP256Sha256));
    assert_eq!(
        metadata.token_endpoint().unwrap().as_str(),
        format!("{}/oauth/token", app.issuer)
    );
    assert_eq!(metadata.jwks().keys().len(), 2);

    let raw: serde_json::Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        raw["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(raw["authorization_response_iss_parameter_supported"], true);
    assert_eq!(raw["response_types_supported"], serde_json::json!(["code"]));
}

#[tokio::test]
async fn an_issuer_with_a_path_serves_discovery_under_that_path_and_rfc8414_metadata() {
    let app = spawn_app_with(Options {
        issuer_path: "/tenant-a",
        ..Options::default()
    })
    .await;
    let metadata = discover(&app).await;
    assert_eq!(
        metadata.issuer().as_str(),
        format!("{}/tenant-a", app.origin)
    );
    assert_eq!(
        metadata.jwks_uri().as_str(),
        format!("{}/tenant-a/oauth/jwks", app.origin)
    );

    // RFC 8414 §3: the well-known segment goes between host and path …
    let inserted = app
        .get_root("/.well-known/oauth-authorization-server/tenant-a")
        .await;
    assert_eq!(inserted.status(), 200);
    let doc: serde_json::Value = inserted.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);
    // … and the appended form some clients use works too.
    let appended = app.get("/.well-known/oauth-authorization-server").await;
    assert_eq!(appended.status(), 200);
    // Nothing is served outside the issuer's path.
    let outside = app.get_root("/.well-known/openid-configuration").await;
    assert_eq!(outside.status(), 404);
}

#[tokio::test]
async fn the_jwks_verifies_a_token_signed_by_each_key() {
    let app = spawn_app().await;
    let metadata = discover(&app).await;
    let now = Utc::now();
    for alg in SigningAlgorithm::ALL {
        let mut payload = JwtPayload::new();
        payload.set_issuer(&app.issuer);
        payload.set_subject("subject-1");
        payload.set_audience(vec!["client-1"]);
        payload.set_issued_at(&now.into());
        payload.set_expires_at(&(now + Duration::minutes(5)).into());
        payload
            .set_claim("nonce", Some(serde_json::json!("nonce-1")))
            .unwrap();
        let jwt = app.app_keys.sign(alg, "JWT", &payload, now).unwrap();
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new("client-1".into()),
            metadata.issuer().clone(),
            metadata.jwks().clone(),
        )
        .set_allowed_algs(vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        ]);
        let token = CoreIdToken::from_str(&jwt).unwrap();
        let claims = token
            .claims(&verifier, &Nonce::new("nonce-1".into()))
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(claims.subject().as_str(), "subject-1");
    }
}

#[tokio::test]
async fn every_response_carries_security_headers_and_a_request_id() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/oauth/jwks",
        "/no-such-page",
    ] {
        let res = app.get(path).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("content-security-policy"), "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-request-id"].len(), 36, "{path}");
    }
    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}
