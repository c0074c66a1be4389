//! The token endpoint: the client credentials grant, client authentication and RFC 6749 errors.

use josekit::jwk::JwkSet;
use josekit::jws::ES256;
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse, Scope};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

const API_CLIENT: &str = "demo-api-client";
const API_SECRET: &str = "Demo-API-Secret-0123456789-abcdefghijk";

async fn verified_claims(app: &TestApp, token: &str) -> (josekit::jwt::JwtPayload, String) {
    let jwks_json = app.get("/oauth/jwks").await.text().await.unwrap();
    let jwks = JwkSet::from_bytes(jwks_json.as_bytes()).unwrap();
    let header = josekit::jwt::decode_header(token).unwrap();
    let kid = header.claim("kid").unwrap().as_str().unwrap().to_owned();
    let jwk = jwks.get(&kid)[0];
    let verifier = ES256.verifier_from_jwk(jwk).unwrap();
    let (payload, header) = josekit::jwt::decode_with_verifier(token, &verifier).unwrap();
    (payload, header.token_type().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn the_openidconnect_crate_gets_a_client_credentials_token_that_verifies_against_the_jwks() {
    let app = spawn_app().await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(API_CLIENT.into()),
        Some(ClientSecret::new(API_SECRET.into())),
    );
    let response = client
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new("introspect".into()))
        .request_async(&http)
        .await
        .expect("client credentials grant");
    assert_eq!(response.scopes().unwrap()[0].as_str(), "introspect");
    let (claims, typ) = verified_claims(&app, response.access_token().secret()).await;
    assert_eq!(typ, "at+jwt");
    assert_eq!(claims.issuer(), Some(app.issuer.as_str()));
    assert_eq!(claims.subject(), Some(API_CLIENT));
    assert_eq!(claims.audience(), Some(vec!["api.example.com"]));
    assert_eq!(claims.claim("client_id").unwrap(), API_CLIENT);
    assert_eq!(claims.claim("scope").unwrap(), "introspect");
    assert!(claims.jwt_id().is_some_and(|j| j.len() >= 22));
    let lifetime = claims
        .expires_at()
        .unwrap()
        .duration_since(claims.issued_at().unwrap());
    assert_eq!(lifetime.unwrap().as_secs(), 300);
}

#[tokio::test]
async fn client_secret_post_works_too_and_responses_are_not_cached() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", API_CLIENT),
            ("client_secret", API_SECRET),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
}

#[tokio::test]
async fn bad_token_requests_get_the_rfc_6749_error_and_status() {
    let app = spawn_app().await;
    let url = format!("{}/oauth/token", app.issuer);
    let basic = |id: &str, secret: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    struct Case {
        name: &'static str,
        auth: Option<String>,
        body: String,
        status: StatusCode,
        error: &'static str,
    }
    let cc = "grant_type=client_credentials".to_owned();
    let cases = vec![
        Case {
            name: "wrong secret (basic)",
            auth: Some(basic(API_CLIENT, "wrong-secret-wrong-secret-wrong-secret")),
            body: cc.clone(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            name: "unknown client (basic)",
            auth: Some(basic("nobody", API_SECRET)),
            body: cc.clone(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            name: "wrong secret (post)",
            auth: None,
            body: format!("{cc}&client_id={API_CLIENT}&client_secret=nope"),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            name: "no client at all",
            auth: None,
            body: cc.clone(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            name: "garbled basic header",
            auth: Some("Basic !!!".into()),
            body: cc.clone(),
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
        },
        Case {
            name: "two authentication methods",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: format!("{cc}&client_secret={API_SECRET}"),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
        Case {
            name: "public client",
            auth: None,
            body: format!("{cc}&client_id=demo-web-client"),
            status: StatusCode::BAD_REQUEST,
            error: "unauthorized_client",
        },
        Case {
            name: "client without the capability",
            auth: Some(basic(
                "bff-oauth-client",
                "Demo-BFF-Secret-0123456789-abcdefghij",
            )),
            body: cc.clone(),
            status: StatusCode::BAD_REQUEST,
            error: "unauthorized_client",
        },
        Case {
            name: "scope not allowed",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: format!("{cc}&scope=admin"),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_scope",
        },
        Case {
            name: "missing grant_type",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: "scope=introspect".into(),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
        Case {
            name: "unknown grant_type",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: "grant_type=password".into(),
            status: StatusCode::BAD_REQUEST,
            error: "unsupported_grant_type",
        },
        Case {
            name: "repeated parameter",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: format!("{cc}&{cc}"),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
        Case {
            name: "oversized parameter",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: format!("{cc}&scope={}", "a".repeat(10_000)),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
        Case {
            name: "malformed body",
            auth: Some(basic(API_CLIENT, API_SECRET)),
            body: "%%%&&&===".into(),
            status: StatusCode::BAD_REQUEST,
            error: "invalid_request",
        },
    ];
    for case in cases {
        let mut request = app
            .client
            .post(&url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(case.body.clone());
        if let Some(auth) = &case.auth {
            request = request.header("Authorization", auth);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), case.status, "{}", case.name);
        assert_eq!(res.headers()["cache-control"], "no-store", "{}", case.name);
        if case.status == StatusCode::UNAUTHORIZED && case.auth.is_some() {
            assert!(
                res.headers().contains_key("www-authenticate"),
                "{}",
                case.name
            );
        }
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], case.error, "{}: {body}", case.name);
        assert!(body["error_description"].is_string(), "{}", case.name);
    }
    let json = app
        .client
        .post(&url)
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    let get = app.client.get(&url).send().await.unwrap();
    assert!(
        get.status().is_client_error(),
        "GET /oauth/token gave {}",
        get.status()
    );
}

mod private_key_jwt {
    use std::time::{Duration, SystemTime};

    use josekit::jws::{ES256, JwsHeader};
    use josekit::jwt::JwtPayload;
    use reqwest::StatusCode;
    use serde_json::Value;

    use crate::helpers::{TestApp, spawn_app};

    const CLIENT: &str = "pkjwt-client";

    async fn register(app: &TestApp, public_jwk: &josekit::jwk::Jwk) {
        let jwks = serde_json::json!({ "keys": [public_jwk.as_ref()] }).to_string();
        let xml = format!(
            r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>{CLIENT}</id><jwks>{jwks}</jwks><scope>introspect</scope><capabilities><client-credentials/></capabilities></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
        );
        app.config
            .edit_and_commit(
                xml.into_bytes(),
                tessera_admin::config::UploadMode::Merge,
                "test",
            )
            .await
            .unwrap();
    }

    fn assertion(
        key: &josekit::jws::alg::ecdsa::EcdsaJwsSigner,
        aud: &str,
        jti: &str,
        lifetime: Duration,
    ) -> String {
        let mut payload = JwtPayload::new();
        payload.set_issuer(CLIENT);
        payload.set_subject(CLIENT);
        payload.set_audience(vec![aud]);
        payload.set_jwt_id(jti);
        payload.set_issued_at(&SystemTime::now());
        payload.set_expires_at(&(SystemTime::now() + lifetime));
        let mut header = JwsHeader::new();
        header.set_key_id("client-key-1");
        josekit::jwt::encode_with_signer(&payload, &header, key).unwrap()
    }

    async fn token(app: &TestApp, assertion: &str) -> (StatusCode, Value) {
        let res = app
            .client
            .post(format!("{}/oauth/token", app.issuer))
            .form(&[
                ("grant_type", "client_credentials"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ])
            .send()
            .await
            .unwrap();
        (res.status(), res.json().await.unwrap())
    }

    #[tokio::test]
    async fn a_client_authenticates_with_a_signed_assertion_once() {
        let app = spawn_app().await;
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("client-key-1");
        register(&app, &public).await;
        let signer = ES256.signer_from_der(pair.to_der_private_key()).unwrap();
        // RFC 7523bis: the issuer identifier, not the token endpoint's URL.
        let audience = app.issuer.clone();
        let token_endpoint = format!("{}/oauth/token", app.issuer);

        let first = assertion(&signer, &audience, "jti-1", Duration::from_secs(60));
        let (status, body) = token(&app, &first).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["access_token"].is_string());

        let (status, body) = token(&app, &first).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "replay accepted"
        );

        for (name, bad) in [
            (
                "wrong audience",
                assertion(
                    &signer,
                    "https://elsewhere.example/token",
                    "jti-2",
                    Duration::from_secs(60),
                ),
            ),
            (
                "the token endpoint as audience",
                assertion(&signer, &token_endpoint, "jti-5", Duration::from_secs(60)),
            ),
            (
                "too long-lived",
                assertion(&signer, &audience, "jti-3", Duration::from_secs(3600)),
            ),
            (
                "another key",
                assertion(
                    &ES256
                        .signer_from_der(ES256.generate_key_pair().unwrap().to_der_private_key())
                        .unwrap(),
                    &audience,
                    "jti-4",
                    Duration::from_secs(60),
                ),
            ),
            ("garbage", "not.a.jwt".to_owned()),
        ] {
            let (status, body) = token(&app, &bad).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_client")),
                "{name}"
            );
        }
    }
}
