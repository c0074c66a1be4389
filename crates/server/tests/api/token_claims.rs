//! What strict validators and certification plans check in issued tokens: numeric dates in
//! whole seconds (Envoy, libjwt and others refuse fractions), and scopes granted as far as the
//! client is registered for them (RFC 6749 §3.3) rather than refused wholesale.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::oidc::{browser, create_kim, location, query_of, sign_in};

const REDIRECT: &str = "http://localhost:3000/callback";
const VERIFIER: &str = "token-claims-test-verifier-0123456789-abcdefghijklmnopqrstu";
const API_CLIENT: (&str, &str) = ("demo-api-client", "Demo-API-Secret-0123456789-abcdefghijk");

/// The authorization URL of `demo-web-client` (registered for openid, profile and email)
/// asking for `scope`.
pub(crate) fn authorize_url(app: &TestApp, scope: &str) -> String {
    authorize_url_for(app, ("demo-web-client", REDIRECT), scope)
}

/// The authorization URL of `client` (id, redirect URI) asking for `scope`.
fn authorize_url_for(app: &TestApp, client: (&str, &str), scope: &str) -> String {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client.0)
        .append_pair("redirect_uri", client.1)
        .append_pair("response_type", "code")
        .append_pair("scope", scope)
        .append_pair("state", "st")
        .append_pair("nonce", "nn")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    format!("{}/oauth/authorize?{query}", app.issuer)
}

/// Signs kim in asking for `scope`; returns where the browser was sent back to.
async fn authorization_response(
    app: &TestApp,
    scope: &str,
) -> std::collections::HashMap<String, String> {
    let res = sign_in(app, &browser(), &authorize_url(app, scope), None).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    query_of(&location(&res))
}

/// Signs kim in asking for `scope` and redeems the code: the token response as sent.
async fn code_flow(app: &TestApp, scope: &str) -> Value {
    code_flow_in(app, &browser(), scope).await
}

/// As [`code_flow`], in `browser` (whose SSO session may answer without a password).
pub(crate) async fn code_flow_in(app: &TestApp, browser: &reqwest::Client, scope: &str) -> Value {
    let res = sign_in(app, browser, &authorize_url(app, scope), None).await;
    let code = query_of(&location(&res))["code"].clone();
    token_request(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "demo-web-client"),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// The payload of a compact JWT as raw JSON, exactly as a validator parses it.
pub(crate) fn raw_payload(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Each of `names` present in `claims` is a JSON integer, not a float.
fn assert_whole_seconds(what: &str, claims: &Value, names: &[&str]) {
    for name in names {
        let value = &claims[*name];
        assert!(
            value.is_u64(),
            "{what}: {name} must be an integer NumericDate, got {value}"
        );
    }
}

async fn introspect(app: &TestApp, token: &str) -> Value {
    app.client
        .post(format!("{}/oauth/introspect", app.issuer))
        .basic_auth(API_CLIENT.0, Some(API_CLIENT.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_numeric_date_in_every_token_and_introspection_is_a_whole_number_of_seconds() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let tokens = code_flow(&app, "openid profile").await;
    let access = tokens["access_token"].as_str().unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_whole_seconds(
        "access token (code)",
        &raw_payload(access),
        &["iat", "exp", "auth_time"],
    );
    assert_whole_seconds(
        "ID token",
        &raw_payload(id_token),
        &["iat", "exp", "auth_time"],
    );

    let refreshed = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-web-client"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_whole_seconds(
        "access token (refresh)",
        &raw_payload(refreshed["access_token"].as_str().unwrap()),
        &["iat", "exp", "auth_time"],
    );

    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(API_CLIENT.0, Some(API_CLIENT.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let service: Value = res.json().await.unwrap();
    assert_whole_seconds(
        "access token (client credentials)",
        &raw_payload(service["access_token"].as_str().unwrap()),
        &["iat", "exp"],
    );

    let of_access = introspect(&app, refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(of_access["active"], true);
    assert_whole_seconds(
        "introspection (access)",
        &of_access,
        &["iat", "exp", "auth_time"],
    );
    // A refresh token is introspected by the client that holds it: the confidential BFF.
    let bff = ("bff-oauth-client", "http://localhost:3001/oauth/callback");
    let res = sign_in(
        &app,
        &browser(),
        &authorize_url_for(&app, bff, "openid"),
        None,
    )
    .await;
    let code = query_of(&location(&res))["code"].clone();
    let held: Value = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(bff.0, Some("Demo-BFF-Secret-0123456789-abcdefghij"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", bff.1),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let of_refresh: Value = app
        .client
        .post(format!("{}/oauth/introspect", app.issuer))
        .basic_auth(bff.0, Some("Demo-BFF-Secret-0123456789-abcdefghij"))
        .form(&[("token", held["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(of_refresh["active"], true, "{of_refresh}");
    assert_whole_seconds("introspection (refresh)", &of_refresh, &["iat", "exp"]);
}

#[tokio::test]
async fn standard_scopes_the_client_lacks_are_dropped_and_the_token_response_says_what_was_granted()
{
    let app = spawn_app().await;
    create_kim(&app).await;
    let tokens = code_flow(&app, "openid profile email address phone").await;
    assert_eq!(tokens["scope"], "openid profile email");
    assert!(tokens["id_token"].is_string());
    assert_eq!(
        raw_payload(tokens["access_token"].as_str().unwrap())["scope"],
        "openid profile email"
    );
    let userinfo: Value = app
        .client
        .get(format!("{}/oauth/userinfo", app.issuer))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["email"], "kim@example.com");
    assert_eq!(userinfo["preferred_username"], "kim");

    // A refresh may narrow the grant, and drops what was never granted.
    let narrowed = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-web-client"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "openid email phone"),
        ],
    )
    .await;
    assert_eq!(narrowed["scope"], "openid email");
}

#[tokio::test]
async fn a_request_for_only_unknown_scopes_gets_invalid_scope() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let answer = authorization_response(&app, "address admin").await;
    assert_eq!(answer["error"], "invalid_scope");
    assert_eq!(answer["state"], "st");
    assert!(!answer.contains_key("code"));

    let (status, body) = client_credentials(&app, "admin").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");
}

/// The API client's client credentials request for `scope`: status and body.
async fn client_credentials(app: &TestApp, scope: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(API_CLIENT.0, Some(API_CLIENT.1))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test]
async fn client_credentials_grant_the_registered_part_of_the_requested_scopes() {
    let app = spawn_app().await;
    let (status, body) = client_credentials(&app, "admin introspect").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], "introspect");
}

#[tokio::test]
async fn discovery_lists_only_the_scopes_tessera_can_grant() {
    let app = spawn_app().await;
    let metadata: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["scopes_supported"],
        serde_json::json!(["openid", "profile", "email", "phone", "groups"])
    );
}
