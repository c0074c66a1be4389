//! A passkey removed through SCIM: it shows in the user's SCIM resource while it exists, and
//! once an operator's provisioning system removes it, the browser that holds it can no longer
//! sign in with it. Headless Chromium with a virtual authenticator; screenshots go to
//! `target/e2e/scim_passkey_removed/`.

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_admin::config::UploadMode;

use crate::admin::{ADMIN_TOKEN, token_sha256};
use crate::browser::Browser;
use crate::helpers::{Options, spawn_app_with};
use crate::oidc::create_kim;
use crate::passkey_browser::{authorize_url, code_at_callback, id_token_claims};

const MIGRATE: &str = include_str!("../../../../config/migrate-to-passkeys.xml");
const TESSERA: &str = "urn:ietf:params:scim:schemas:extension:tessera:2.0:User";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_removed_through_scim_can_no_longer_sign_in() {
    let app = spawn_app_with(Options {
        localhost: true,
        env: vec![("TESSERA_ADMIN_TOKEN_SHA256", token_sha256())],
        ..Options::default()
    })
    .await;
    create_kim(&app).await;
    app.config
        .edit_and_commit(MIGRATE.as_bytes().to_vec(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let mut b = Browser::start("scim_passkey_removed").await;
    let authenticator = b.add_virtual_authenticator().await;

    // Kim signs in with her password and creates a passkey on the way.
    b.client.goto(&authorize_url(&app)).await.unwrap();
    b.wait_for("Sign in with a passkey").await;
    b.fill("#username", "kim").await;
    b.fill("#password", "Password1").await;
    b.click("button[name=enrol]").await;
    b.wait_for("Create a passkey for kim").await;
    b.fill("#name", "Work laptop").await;
    b.click("#passkey-register button[type=submit]").await;
    b.wait_for("Passkey registered").await;
    b.shot("passkey-registered").await;
    b.click("a.button").await;
    id_token_claims(&app, &code_at_callback(&b).await).await;

    // The provisioning side sees it, and removes it.
    let scim = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, format!("{}/scim/v2{path}", app.origin))
            .bearer_auth(ADMIN_TOKEN)
            .header("Content-Type", "application/scim+json")
    };
    let found: Value = scim(
        reqwest::Method::GET,
        "/Users?filter=userName%20eq%20%22kim%22",
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let user = &found["Resources"][0];
    let passkeys = user[TESSERA]["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 1, "{user}");
    assert_eq!(passkeys[0]["name"], "Work laptop");
    let passkey = passkeys[0]["id"].as_str().unwrap();
    let removal = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("{TESSERA}:passkeys[id eq \"{passkey}\"]")}],
    });
    let res = scim(
        reqwest::Method::PATCH,
        &format!("/Users/{}", user["id"].as_str().unwrap()),
    )
    .body(removal.to_string())
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let after: Value = res.json().await.unwrap();
    assert!(after.get(TESSERA).is_none(), "no passkeys left: {after}");

    // The browser still holds the passkey; signing in with it is refused.
    b.client
        .goto(&format!("{}/healthz", app.issuer))
        .await
        .unwrap();
    b.client.delete_all_cookies().await.unwrap();
    b.client.goto(&authorize_url(&app)).await.unwrap();
    // The virtual authenticator answers every autofill offer at once, as no person would, so
    // each refusal page would offer and answer again: once the first answer is refused, the
    // authenticator is taken away and the page holds still.
    // (Between navigations chromedriver may not answer at all: that is "not yet".)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !b
        .client
        .current_url()
        .await
        .is_ok_and(|url| url.as_str().ends_with("/login/passkey"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the passkey was never sent"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    b.remove_virtual_authenticator_while_navigating(&authenticator)
        .await;
    b.wait_for("That passkey could not be verified for this site.")
        .await;
    b.shot("passkey-refused").await;
    let url = b.client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains("code="),
        "never sent back with a code: {url}"
    );
}
