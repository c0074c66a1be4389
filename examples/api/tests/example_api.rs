//! The example API against a real Tessera (in-process, on its own database): it accepts a
//! fresh access token and refuses everything an API must refuse.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer};
use chrono::Utc;
use josekit::jws::ES256;
use josekit::jwt::JwtPayload;
use serde_json::{Value, json};
use tessera_example_api::{AccessTokenValidator, TrustSettings, http};
use tessera_oauth_core::keys::{KeyEncryptionKey, KeyPolicy, SigningAlgorithm, SigningKeys};
use tessera_server::Application;
use tessera_server::settings::Settings;
use tessera_testkit::TestDatabase;

/// The demo configuration's API client (`config/base.xml`): client credentials, audience
/// `api.example.com`.
const API_CLIENT: (&str, &str) = ("demo-api-client", "Demo-API-Secret-0123456789-abcdefghijk");
const AUDIENCE: &str = "api.example.com";

struct Tessera {
    issuer: String,
    keys: Arc<SigningKeys>,
    kek: String,
    db: TestDatabase,
    _handle: actix_web::dev::ServerHandle,
}

async fn tessera() -> Tessera {
    let db = TestDatabase::new();
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let env: BTreeMap<&str, String> = BTreeMap::from([
        ("TESSERA_SERVER_ISSUER", issuer.clone()),
        ("TESSERA_SERVER_WORKERS", "1".into()),
        ("TESSERA_DATABASE_URL", db.url().to_owned()),
        ("TESSERA_DATABASE_POOL_SIZE", "2".into()),
        ("TESSERA_KEYS_ENCRYPTION_KEY", kek.clone()),
        // The demo configuration, with its API client.
        (
            "TESSERA_ADMIN_INITIAL_CONFIG",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/base.xml").into(),
        ),
    ]);
    let settings = Settings::load(Path::new("/nonexistent/tessera.toml"), false, &|k| {
        env.get(k).cloned()
    })
    .unwrap();
    let app = Application::build_on(settings, listener).await.unwrap();
    let (keys, handle) = (app.keys().clone(), app.handle());
    tokio::spawn(app.run());
    Tessera {
        issuer,
        keys,
        kek,
        db,
        _handle: handle,
    }
}

/// The example API on a free port, trusting `tessera`; returns its base URL.
async fn example_api(tessera: &Tessera, refresh_interval: Duration) -> String {
    let client = reqwest::Client::new();
    let trust = TrustSettings::discover(&client, &tessera.issuer, AUDIENCE)
        .await
        .unwrap();
    let validator = AccessTokenValidator::with_refresh_interval(client, trust, refresh_interval);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || {
        let validator = validator.clone();
        App::new().configure(move |cfg| http::routes(cfg, validator))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    base
}

/// An access token from Tessera's token endpoint (client credentials).
async fn fresh_access_token(tessera: &Tessera) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", tessera.issuer))
        .basic_auth(API_CLIENT.0, Some(API_CLIENT.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// A token with `claims` signed by Tessera's current `alg` key with header `typ`.
fn signed_by_tessera(tessera: &Tessera, alg: SigningAlgorithm, typ: &str, claims: Value) -> String {
    let Value::Object(map) = claims else {
        unreachable!()
    };
    let payload = JwtPayload::from_map(map).unwrap();
    tessera.keys.sign(alg, typ, &payload, Utc::now()).unwrap()
}

/// Access-token claims as Tessera issues them, issued `age` seconds ago and valid for
/// `lifetime` seconds.
fn claims(tessera: &Tessera, audience: &str, age: i64, lifetime: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": tessera.issuer,
        "sub": API_CLIENT.0,
        "aud": [audience],
        "client_id": API_CLIENT.0,
        "iat": now - age,
        "exp": now - age + lifetime,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

/// `GET {api}{path}` with `token`: the status and the `WWW-Authenticate` challenge.
async fn call(api: &str, path: &str, token: Option<&str>) -> (u16, String, Value) {
    let mut request = reqwest::Client::new().get(format!("{api}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        challenge,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_access_token_from_tessera_is_accepted() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::from_secs(10)).await;
    let token = fresh_access_token(&tessera).await;
    let (status, _, body) = call(&api, "/api/me", Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sub"], API_CLIENT.0);
    assert_eq!(body["client_id"], API_CLIENT.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_gets_a_bare_bearer_challenge() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::from_secs(10)).await;
    let (status, challenge, _) = call(&api, "/api/me", None).await;
    assert_eq!((status, challenge.as_str()), (401, "Bearer"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::from_secs(10)).await;
    let expired = signed_by_tessera(
        &tessera,
        SigningAlgorithm::Es256,
        "at+jwt",
        claims(&tessera, AUDIENCE, 3600, 300),
    );
    let (status, challenge, _) = call(&api, "/api/me", Some(&expired)).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.contains("ExpiredSignature"), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_is_refused() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::from_secs(10)).await;
    let elsewhere = signed_by_tessera(
        &tessera,
        SigningAlgorithm::Es256,
        "at+jwt",
        claims(&tessera, "payroll.example.com", 0, 300),
    );
    let (status, challenge, _) = call(&api, "/api/me", Some(&elsewhere)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("InvalidAudience"), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_presented_as_an_access_token_is_refused() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::from_secs(10)).await;
    // Signed as Tessera signs ID tokens (typ JWT, RS256 by default), with every other claim
    // an access token would carry, including the API's audience.
    let id_token = signed_by_tessera(
        &tessera,
        SigningAlgorithm::Rs256,
        "JWT",
        claims(&tessera, AUDIENCE, 0, 300),
    );
    let (status, challenge, _) = call(&api, "/api/me", Some(&id_token)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("not an access token"), "{challenge}");
}

/// An access token with Tessera's claims and header `kid`, signed by a key of its own.
fn signed_by_a_stranger(tessera: &Tessera, kid: &str) -> String {
    let stranger = ES256.generate_key_pair().unwrap();
    let mut header = josekit::jws::JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(kid);
    let Value::Object(map) = claims(tessera, AUDIENCE, 0, 300) else {
        unreachable!()
    };
    josekit::jwt::encode_with_signer(
        &JwtPayload::from_map(map).unwrap(),
        &header,
        &ES256
            .signer_from_der(stranger.to_der_private_key())
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_by_a_key_tessera_does_not_publish_is_refused() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::ZERO).await;
    let forged = signed_by_a_stranger(&tessera, "a-stranger's-key");
    let (status, challenge, _) = call(&api, "/api/me", Some(&forged)).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("a key the issuer does not publish"),
        "{challenge}"
    );

    // A stranger's key claiming a published kid fails on its signature.
    let published = tessera
        .keys
        .signing_key(SigningAlgorithm::Es256, Utc::now())
        .unwrap()
        .kid
        .clone();
    let forged = signed_by_a_stranger(&tessera, &published);
    let (status, challenge, _) = call(&api, "/api/me", Some(&forged)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("InvalidSignature"), "{challenge}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotated_in_after_the_jwks_was_cached_is_found_by_fetching_it_again() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::ZERO).await;
    let before = fresh_access_token(&tessera).await;
    assert_eq!(call(&api, "/api/me", Some(&before)).await.0, 200);

    let kek = KeyEncryptionKey::from_base64(&tessera.kek).unwrap();
    let mut conn = tessera.db.store().conn().unwrap();
    let policy = KeyPolicy {
        activation_delay: chrono::Duration::zero(),
        retention: chrono::Duration::hours(1),
    };
    tessera_oauth_core::keys::rotate(&mut conn, &kek, policy, Utc::now()).unwrap();
    tessera.keys.refresh().await.unwrap();
    let after = fresh_access_token(&tessera).await;
    let kid = |token: &str| {
        josekit::jwt::decode_header(token)
            .unwrap()
            .claim("kid")
            .cloned()
    };
    assert_ne!(
        kid(&before),
        kid(&after),
        "the token must be signed by the new key"
    );

    let (status, _, body) = call(&api, "/api/me", Some(&after)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_needing_a_scope_the_token_lacks_answers_insufficient_scope() {
    let tessera = tessera().await;
    let api = example_api(&tessera, Duration::from_secs(10)).await;
    let token = fresh_access_token(&tessera).await;
    let (status, challenge, _) = call(&api, "/api/orders", Some(&token)).await;
    assert_eq!(status, 403);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="orders:read""#), "{challenge}");
}
