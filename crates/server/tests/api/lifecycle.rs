//! Account lifecycle as an operator runs it: a disabled account cannot sign in, and what it
//! had signed in (SSO sessions, refresh tokens) stops working at once; enabled again, it signs
//! in as before. Driven with the `tessera account` commands a real operator types.

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app, tessera};
use crate::oidc::{browser, create_kim, location, refresh, sign_in, tokens_for_kim};

/// `tessera account ARGS` on the test server's database, as an operator would run it.
fn account_command(app: &TestApp, args: &[&str]) -> std::process::Output {
    let kek = tessera_oauth_core::keys::KeyEncryptionKey::generate_base64().unwrap();
    tessera(app.db.url(), &kek)
        .arg("account")
        .args(args)
        .output()
        .unwrap()
}

/// [`account_command`], which must succeed; its output.
fn tessera_account(app: &TestApp, args: &[&str]) -> String {
    let out = account_command(app, args);
    assert!(
        out.status.success(),
        "tessera account {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_loses_its_sessions_and_refresh_tokens_until_enabled()
{
    let app = spawn_app().await;
    create_kim(&app).await;
    let (_, refresh_token, _) = tokens_for_kim(&app).await;
    let signed_in = browser();
    let authorize = crate::token_claims::authorize_url(&app, "openid");
    let first = sign_in(&app, &signed_in, &authorize, None).await;
    assert!(location(&first).contains("code="), "kim signs in");

    let out = tessera_account(&app, &["disable", "kim"]);
    assert!(out.contains("disabled kim"), "{out}");
    assert!(tessera_account(&app, &["list"]).contains("disabled since"));

    let (status, body) = refresh(&app, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The browser's SSO session ended: the next request needs a sign-in again …
    let again = signed_in.get(&authorize).send().await.unwrap();
    assert!(
        location(&again).contains("/login?flow="),
        "{}",
        location(&again)
    );
    // … which the right password no longer gets, with the wrong password's answer.
    let refused = sign_in(&app, &browser(), &authorize, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password.")
    );

    assert!(tessera_account(&app, &["enable", "kim"]).contains("enabled kim"));
    let back = sign_in(&app, &browser(), &authorize, None).await;
    assert!(location(&back).contains("code="), "kim signs in again");
}

#[tokio::test]
async fn a_deleted_account_is_gone_from_the_list_and_cannot_sign_in() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let refused = account_command(&app, &["delete", "kim"]);
    assert!(!refused.status.success(), "deleting needs --yes");
    assert!(tessera_account(&app, &["show", "kim"]).contains("status:    enabled"));

    tessera_account(&app, &["delete", "kim", "--yes"]);
    assert!(tessera_account(&app, &["list"]).contains("(0 of 0)"));
    let authorize = crate::token_claims::authorize_url(&app, "openid");
    let refused = sign_in(&app, &browser(), &authorize, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}
