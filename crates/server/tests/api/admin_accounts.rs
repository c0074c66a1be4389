//! The admin pages for accounts, in headless Chromium: find an account, open it, remove a lost
//! passkey, end its sessions, disable it and enable it again; each change shows in the
//! account's audit log. Screenshots go to `target/e2e/admin_accounts/`.

use reqwest::StatusCode;
use tessera_admin::config::UploadMode;
use tessera_testkit::MailSink;

use crate::browser::{Browser, dev_app};
use crate::lifecycle::give_passkey;
use crate::oidc::{browser, create_kim, location, sign_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_finds_an_account_removes_its_lost_passkey_and_disables_it() {
    let app = dev_app().await;
    let sink = MailSink::start();
    app.config
        .edit_and_commit(
            crate::helpers::email_config(sink.smtp_port, ""),
            UploadMode::Merge,
            "test",
        )
        .await
        .unwrap();
    create_kim(&app).await;
    for n in 0..60 {
        let line = serde_json::json!({"username": format!("user{n:02}")});
        tessera_authn::accounts::import(
            &app.db.store(),
            tessera_authn::accounts::AccountDetails {
                username: line["username"].as_str().unwrap().into(),
                email: None,
                phone: None,
                given_name: None,
                family_name: None,
            },
            tessera_authn::accounts::Imported::default(),
        )
        .await
        .unwrap();
    }
    give_passkey(&app, "kim", "Lost phone");
    let authorize = crate::token_claims::authorize_url(&app, "openid");
    let signed_in = browser();
    let first = sign_in(&app, &signed_in, &authorize, None).await;
    assert!(location(&first).contains("code="));

    let mut b = Browser::start("admin_accounts").await;
    b.client
        .goto(&format!("{}/admin/login", app.origin))
        .await
        .unwrap();
    b.fill("#username", "admin").await;
    b.fill("#password", "admin").await;
    b.click("button[type=submit]").await;
    b.wait_for("Active version").await;

    b.client
        .goto(&format!("{}/admin/accounts", app.origin))
        .await
        .unwrap();
    let list = b.wait_for("61 accounts").await;
    assert!(list.contains("Page 1 of 2"), "{list}");
    b.shot("accounts").await;
    b.fill("#q", "KIM").await;
    b.click("form[role=search] button").await;
    b.wait_for("1 account matching “KIM”").await;
    b.shot("search").await;
    b.click("table a").await;
    let page = b.wait_for("Lost phone").await;
    assert!(page.contains("enabled") && page.contains("pwd"), "{page}");
    b.shot("account").await;

    b.click("button[aria-label='Remove passkey Lost phone']")
        .await;
    let page = b.wait_for("The passkey was removed").await;
    assert!(page.contains("No passkeys."), "{page}");
    b.click("form[action$='/sign-out'] button").await;
    b.wait_for("Every session of the account ended").await;
    // The browser kim signed in with is asked to sign in again.
    let again = signed_in.get(&authorize).send().await.unwrap();
    assert!(location(&again).contains("/login?flow="));

    // Kim is mailed the way back in: a link to the account page, no secret in it.
    b.click("form[action$='/recovery'] button").await;
    b.wait_for("A recovery email was sent to the account's address.")
        .await;
    let mail = sink.wait_for("kim@example.com", 1).await;
    assert!(
        mail.subject.contains("Get back into your"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains(&format!("{}/account", app.issuer)),
        "{}",
        mail.text
    );

    b.click("form[action$='/disable'] button").await;
    let page = b.wait_for("Disabled: the account cannot sign in").await;
    assert!(page.contains("disabled since"), "{page}");
    b.shot("disabled").await;
    let refused = sign_in(&app, &browser(), &authorize, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    b.click("form[action$='/enable'] button").await;
    let page = b.wait_for("Enabled: the account can sign in again.").await;
    for action in [
        "passkey.removed",
        "sessions.ended",
        "recovery.sent",
        "user.disabled",
        "user.enabled",
    ] {
        assert!(
            page.contains(action),
            "the audit log shows {action}: {page}"
        );
    }
    assert!(page.contains("admin:admin"));
    b.shot("audit-log").await;

    // A form posted without the page's CSRF token changes nothing.
    let cookie_less = app
        .client
        .post(format!(
            "{}/admin/accounts/{}/disable",
            app.origin,
            tessera_store::accounts::by_username(&mut app.db.connect(), "kim")
                .unwrap()
                .unwrap()
                .account_id
        ))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        cookie_less.status(),
        StatusCode::SEE_OTHER,
        "no session: to sign-in"
    );
    assert!(
        tessera_store::accounts::by_username(&mut app.db.connect(), "kim")
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );
}
