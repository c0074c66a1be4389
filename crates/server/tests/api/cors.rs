//! CORS headers pinned, as a browser sees them: public documents for any origin; the token,
//! UserInfo and revocation endpoints for registered origins only; introspection for none.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tessera_admin::config::UploadMode;

use crate::helpers::{TestApp, spawn_app};

/// `demo-web-client`'s origin in `config/base.xml`.
const SPA: &str = "http://localhost:3000";
const STRANGER: &str = "https://evil.example";

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, format!("{}{path}", app.issuer))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,dpop",
        )
        .send()
        .await
        .unwrap()
}

/// What a page on `origin` sends when it redeems a code for the SPA client: here an unknown one.
async fn redeem_unknown_code(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/oauth/token", app.issuer))
        .header("Origin", origin)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-web-client"),
            ("code", "no-such-code"),
        ])
        .send()
        .await
        .unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

fn vary_origin(res: &reqwest::Response) -> bool {
    res.headers()
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().to_ascii_lowercase().contains("origin"))
}

#[tokio::test]
async fn discovery_metadata_and_jwks_answer_any_origin_without_credentials() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oauth/jwks",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.issuer))
            .header("Origin", STRANGER)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            header(&res, "access-control-allow-credentials"),
            None,
            "{path}"
        );

        let res = preflight(&app, path, STRANGER, "GET").await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            header(&res, "access-control-max-age"),
            Some("7200"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_registered_origin_gets_preflights_and_answers_from_the_browser_endpoints() {
    let app = spawn_app().await;
    for (path, method) in [
        ("/oauth/token", "POST"),
        ("/oauth/userinfo", "GET"),
        ("/oauth/userinfo", "POST"),
        ("/oauth/revoke", "POST"),
    ] {
        let res = preflight(&app, path, SPA, method).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            Some(SPA),
            "{path}"
        );
        assert!(vary_origin(&res), "{path}: Vary: Origin");
        assert_eq!(
            header(&res, "access-control-allow-credentials"),
            None,
            "{path}"
        );
        assert_eq!(
            header(&res, "access-control-max-age"),
            Some("7200"),
            "{path}"
        );
        let allowed = header(&res, "access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        for name in ["authorization", "content-type", "dpop"] {
            assert!(allowed.contains(name), "{path}: {allowed}");
        }
        let methods = header(&res, "access-control-allow-methods").unwrap();
        assert!(methods.contains(method), "{path}: {methods}");
    }

    // The actual request's answer (here an error) is readable by the page.
    let res = redeem_unknown_code(&app, SPA).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(&res, "access-control-allow-origin"), Some(SPA));
    assert!(vary_origin(&res));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn an_unregistered_origin_gets_no_cors_headers_and_its_token_requests_are_refused() {
    let app = spawn_app().await;
    for origin in [
        STRANGER,
        "http://localhost:3001",
        "https://localhost:3000",
        "null",
    ] {
        let res = preflight(&app, "/oauth/token", origin, "POST").await;
        assert_ne!(res.status(), StatusCode::OK, "{origin}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            None,
            "{origin}"
        );

        let res = redeem_unknown_code(&app, origin).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{origin}");
        assert_eq!(
            header(&res, "access-control-allow-origin"),
            None,
            "{origin}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{origin}");
    }
}

#[tokio::test]
async fn one_clients_origin_cannot_use_another_clients_id_at_the_token_endpoint() {
    let app = spawn_app().await;
    // demo-api-client registers no origin; the SPA's origin is registered for demo-web-client.
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .header("Origin", SPA)
        .basic_auth(
            "demo-api-client",
            Some("Demo-API-Secret-0123456789-abcdefghijk"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("allowed-origins")
    );
    // Without Origin (a backend), the same request succeeds.
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(
            "demo-api-client",
            Some("Demo-API-Secret-0123456789-abcdefghijk"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn introspection_stays_backend_only() {
    let app = spawn_app().await;
    let res = preflight(&app, "/oauth/introspect", SPA, "POST").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    let res = app
        .client
        .post(format!("{}/oauth/introspect", app.issuer))
        .header("Origin", SPA)
        .basic_auth(
            "demo-api-client",
            Some("Demo-API-Secret-0123456789-abcdefghijk"),
        )
        .form(&[("token", "whatever")])
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn an_origin_added_by_a_configuration_commit_is_allowed_without_a_restart() {
    let app = spawn_app().await;
    let new_origin = "https://spa.example.com";
    assert_eq!(
        header(
            &preflight(&app, "/oauth/token", new_origin, "POST").await,
            "access-control-allow-origin"
        ),
        None
    );
    let xml = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>demo-web-client</id><allowed-origins>{new_origin}</allowed-origins></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    );
    app.config
        .edit_and_commit(xml.into_bytes(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let res = preflight(&app, "/oauth/token", new_origin, "POST").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some(new_origin)
    );
}
