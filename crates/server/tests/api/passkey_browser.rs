//! Passkeys in headless Chromium with a virtual authenticator: a password user opts into a
//! passkey while signing in (seed 003), then signs in with it without typing a username, and
//! keeps the same `sub`. Screenshots go to `target/e2e/<test>/`.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::StatusCode;
use serde_json::Value;
use tessera_admin::config::UploadMode;

use crate::browser::Browser;
use crate::helpers::{Options, TestApp, spawn_app_with};
use crate::oidc::create_kim;

const MIGRATE: &str = include_str!("../../../../config/migrate-to-passkeys.xml");
const REDIRECT: &str = "http://localhost:3000/callback";
const VERIFIER: &str = "passkey-browser-test-verifier-0123456789-abcdefghijklmnop";

fn authorize_url(app: &TestApp) -> String {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    format!(
        "{}/oauth/authorize?client_id=demo-web-client&redirect_uri={}&response_type=code&scope=openid&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        app.issuer,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

/// Waits until the browser has been sent back to the client; returns the code.
async fn code_at_callback(b: &Browser) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = b.client.current_url().await.unwrap();
        if url.as_str().starts_with(REDIRECT) {
            return url
                .query_pairs()
                .find(|(k, _)| k == "code")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no code in {url}"));
        }
        assert!(Instant::now() < deadline, "never sent back; at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Redeems a code and returns the ID token's claims.
async fn id_token_claims(app: &TestApp, code: &str) -> Value {
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", "demo-web-client"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_user_opts_into_a_passkey_then_signs_in_with_it_keeping_the_same_subject() {
    let app = spawn_app_with(Options {
        localhost: true,
        ..Options::default()
    })
    .await;
    create_kim(&app).await;
    app.config
        .edit_and_commit(MIGRATE.as_bytes().to_vec(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let mut b = Browser::start("passkey_migration").await;
    b.add_virtual_authenticator().await;

    // First sign-in: the password, opting into a passkey.
    b.client.goto(&authorize_url(&app)).await.unwrap();
    b.wait_for("Sign in with a passkey").await;
    b.shot("sign-in-page").await;
    b.fill("#username", "kim").await;
    b.fill("#password", "Password1").await;
    b.click("button[name=enrol]").await;
    b.wait_for("Create a passkey for kim").await;
    b.shot("create-a-passkey").await;
    b.fill("#name", "Test laptop").await;
    b.click("#passkey-register button[type=submit]").await;
    b.wait_for("Passkey registered").await;
    b.shot("passkey-registered").await;
    b.click("a.button").await;
    let first = id_token_claims(&app, &code_at_callback(&b).await).await;
    assert_eq!(first["amr"], serde_json::json!(["pwd"]));

    let devices = {
        let mut conn = app.db.store().conn().unwrap();
        let kim = tessera_store::accounts::by_username(&mut conn, "kim")
            .unwrap()
            .unwrap();
        tessera_store::passkeys::devices_of(&mut conn, kim.account_id).unwrap()
    };
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "Test laptop");

    // Second sign-in, without the SSO session: the passkey alone, no username typed.
    // (Cookies are deleted for the page's site, so first leave the client's error page.)
    b.client
        .goto(&format!("{}/healthz", app.issuer))
        .await
        .unwrap();
    b.client.delete_all_cookies().await.unwrap();
    b.client.goto(&authorize_url(&app)).await.unwrap();
    b.wait_for("Sign in with a passkey").await;
    b.shot("sign-in-page-again").await;
    b.click("#passkey-signin button[type=submit]").await;
    let second = id_token_claims(&app, &code_at_callback(&b).await).await;
    b.shot("back-at-the-client").await;

    assert_eq!(second["sub"], first["sub"], "the subject must not change");
    let amr = second["amr"].as_array().unwrap();
    assert!(amr.contains(&"user".into()), "{amr:?}");
    assert!(
        amr.contains(&"hwk".into()) || amr.contains(&"swk".into()),
        "{amr:?}"
    );
    assert_eq!(second["acr"], "urn:tessera:authenticator:passkeys");
}
