//! `private_key_jwt` with keys the client publishes at a URI (Curity's `<jwks-uri>`): the
//! server fetches them, keeps them, and refuses assertions their keys do not verify.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use josekit::jws::{ES256, JwsHeader};
use josekit::jwt::JwtPayload;
use reqwest::StatusCode;
use serde_json::Value;
use tessera_admin::config::UploadMode;

use crate::helpers::{TestApp, spawn_app};

const CLIENT: &str = "published-keys-backend";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Serves whatever key set `published` holds at `http://127.0.0.1:PORT/jwks`.
fn publish(published: Arc<Mutex<String>>) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Its own thread and actix system: the test's runtime is not actix's.
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            actix_web::HttpServer::new(move || {
                let published = Arc::clone(&published);
                actix_web::App::new().route(
                    "/jwks",
                    actix_web::web::get().to(move || {
                        let body = published.lock().unwrap().clone();
                        async move {
                            actix_web::HttpResponse::Ok()
                                .content_type("application/jwk-set+json")
                                .body(body)
                        }
                    }),
                )
            })
            .workers(1)
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    port
}

fn key_set(kid: &str) -> (String, josekit::jws::alg::ecdsa::EcdsaJwsSigner) {
    let pair = ES256.generate_key_pair().unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    let signer = ES256.signer_from_der(pair.to_der_private_key()).unwrap();
    (
        serde_json::json!({ "keys": [public.as_ref()] }).to_string(),
        signer,
    )
}

fn assertion(app: &TestApp, kid: &str, key: &josekit::jws::alg::ecdsa::EcdsaJwsSigner) -> String {
    let mut payload = JwtPayload::new();
    payload.set_issuer(CLIENT);
    payload.set_subject(CLIENT);
    payload
        .set_claim("aud", Some(Value::String(app.issuer.clone())))
        .unwrap();
    payload.set_jwt_id(uuid::Uuid::new_v4().to_string());
    payload.set_issued_at(&SystemTime::now());
    payload.set_expires_at(&(SystemTime::now() + Duration::from_secs(60)));
    let mut header = JwsHeader::new();
    header.set_key_id(kid);
    josekit::jwt::encode_with_signer(&payload, &header, key).unwrap()
}

async fn token(app: &TestApp, assertion: String) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion.as_str()),
        ])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_client_publishing_its_keys_at_a_jwks_uri_authenticates_with_signed_assertions() {
    let app = spawn_app().await;
    let (published_set, signer) = key_set("k1");
    let published = Arc::new(Mutex::new(published_set));
    let port = publish(Arc::clone(&published));
    let xml = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>{CLIENT}</id><jwks-uri><uri>http://127.0.0.1:{port}/jwks</uri></jwks-uri><scope>introspect</scope><capabilities><client-credentials/></capabilities></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    );
    app.config
        .edit_and_commit(xml.into_bytes(), UploadMode::Merge, "test")
        .await
        .unwrap();

    let (status, body) = token(&app, assertion(&app, "k1", &signer)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());

    // A key the published set does not hold is refused, whatever it signs.
    let (_, stranger) = key_set("k1");
    let (status, body) = token(&app, assertion(&app, "k1", &stranger)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // The export keeps the published form.
    let exported = tessera_admin::config::export(
        &app.config.active().load().config,
        tessera_admin::config::Root::Config,
    );
    assert!(exported.contains(&format!("<uri>http://127.0.0.1:{port}/jwks</uri>")));
}
