//! Passkey ceremonies over plain HTTP, answered by a software passkey (as a browser would,
//! minus the browser): what the sign-in endpoints do when the configuration changes between the
//! challenge and the answer.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_admin::config::UploadMode;
use tessera_testkit::soft_key::SoftKey;

use crate::helpers::TestApp;
use crate::oidc::{field, open_login_page};
use crate::passkey_browser::{authorize_url, localhost_app_with_kim};

const MIGRATE: &str = include_str!("../../../../config/migrate-to-passkeys.xml");

/// `demo-web-client` allowed the password form only.
const PASSWORD_ONLY: &str = r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>demo-web-client</id><user-authentication><allowed-authenticators>html-form</allowed-authenticators></user-authentication></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#;

/// kim signs in with her password and creates a passkey on a new software key.
async fn register_kims_passkey(app: &TestApp) -> SoftKey {
    let (browser, html) = open_login_page(app, &authorize_url(app)).await;
    let html = browser
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", field(&html, "flow").as_str()),
            ("csrf", field(&html, "csrf").as_str()),
            ("username", "kim"),
            ("password", "Password1"),
            ("enrol", "passkey"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let options: Value = serde_json::from_str(
        html.split("id=\"passkey-creation-options\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .expect("the passkey creation page"),
    )
    .unwrap();
    let mut key = SoftKey::p256(&app.issuer).unwrap();
    let credential = key.register(&options).unwrap();
    let registered = browser
        .post(format!("{}/login/passkey/register", app.issuer))
        .form(&[
            ("flow", field(&html, "flow").as_str()),
            ("csrf", field(&html, "csrf").as_str()),
            ("ceremony", field(&html, "ceremony").as_str()),
            ("credential", credential.to_string().as_str()),
            ("name", "Software key"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(registered.contains("Passkey registered"), "{registered}");
    key
}

/// The sign count stored for kim's only passkey.
fn stored_sign_count(app: &TestApp) -> i64 {
    let mut conn = app.db.store().conn().unwrap();
    let kim = tessera_store::accounts::by_username(&mut conn, "kim")
        .unwrap()
        .unwrap();
    let devices = tessera_store::passkeys::devices_of(&mut conn, kim.account_id).unwrap();
    assert_eq!(devices.len(), 1);
    devices[0].sign_count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_between_challenge_and_answer_refuses_the_passkey_and_keeps_its_counter() {
    let app = localhost_app_with_kim().await;
    app.config
        .edit_and_commit(MIGRATE.as_bytes().to_vec(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let mut key = register_kims_passkey(&app).await;
    let counter_before = stored_sign_count(&app);

    // A new sign-in gets its challenge while the client still allows passkeys…
    let (browser, html) = open_login_page(&app, &authorize_url(&app)).await;
    let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
    let reply: Value = browser
        .post(format!("{}/login/passkey/options", app.issuer))
        .form(&[("flow", &flow), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answer = key.sign(&reply["options"]).unwrap();

    // …then an operator allows it the password form only.
    app.config
        .edit_and_commit(PASSWORD_ONLY.as_bytes().to_vec(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let res = browser
        .post(format!("{}/login/passkey", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("ceremony", reply["ceremony"].as_str().unwrap()),
            ("credential", answer.to_string().as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("does not allow signing in with a passkey"),
        "{page}"
    );
    // The authenticator moved its counter: the server keeps it, so the next answer from this
    // key is not taken for a clone's.
    assert!(stored_sign_count(&app) > counter_before);
    // And the flow is still open for the password.
    let signed_in = browser
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "kim"),
            ("password", "Password1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
}
