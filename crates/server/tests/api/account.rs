//! `/account`: signing in to it, the passkey list (rename, delete, add one in a real browser),
//! recent sign-ins, and its refusals.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails};
use tessera_authn::flow::{self, Policy};
use tessera_store::passkeys::DeviceRow;
use uuid::Uuid;

use crate::browser::Browser;
use crate::helpers::{Options, TestApp, spawn_app, spawn_app_with};
use crate::oidc::{absolute, browser, create_kim, field, location};
use crate::passkey_browser::localhost_app_with_kim;

/// An account without a password whose one passkey row is `device`, and a browser signed in
/// as it `signed_in_ago`.
async fn passkey_only_user(app: &TestApp, signed_in_ago: Duration) -> (reqwest::Client, Uuid) {
    let store = app.db.store();
    let account_id = accounts::create(
        &store,
        &Passwords::new(1).unwrap(),
        AccountDetails {
            username: "robin".into(),
            email: Some("robin@example.com".into()),
            phone: None,
            given_name: None,
            family_name: None,
        },
        None,
    )
    .await
    .unwrap();
    let device = DeviceRow {
        device_id: Uuid::new_v4(),
        account_id,
        device_type: "webauthn".into(),
        credential_id: vec![7; 16],
        credential: serde_json::json!({}),
        name: "Phone".into(),
        aaguid: Some(Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").unwrap()),
        sign_count: 3,
        backup_eligible: true,
        backup_state: true,
        created_at: Utc::now(),
        last_used_at: None,
    };
    let device_id = device.device_id;
    let mut conn = store.conn().unwrap();
    tessera_store::passkeys::insert_device(&mut conn, &device).unwrap();
    // A completed sign-in gives the session cookie a browser would hold.
    let at = Utc::now() - signed_in_ago;
    let flow_id = flow::start(
        &store,
        &Policy::default(),
        "/account?signed-in=".into(),
        serde_json::Value::Null,
        ("a-browser-secret-of-forty-characters-or-more", None),
        flow::FLOWS_PER_ADDRESS,
        // Started now (housekeeping would purge a flow that expired), completed `at`.
        Utc::now(),
    )
    .await
    .unwrap();
    let flow::Started::Flow(flow_id) = flow_id else {
        panic!("no limit applies to a flow without an address");
    };
    let (secret, _) = flow::complete(
        &store,
        flow_id,
        (account_id, None),
        (vec!["swk".into(), "user".into()], flow::acr_for("passkeys")),
        flow::NewSession::draw().unwrap(),
        at,
    )
    .await
    .unwrap()
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(
            [(
                reqwest::header::COOKIE,
                format!("tessera_sso={secret}").parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .unwrap();
    (http, device_id)
}

#[tokio::test]
async fn without_a_session_the_account_page_signs_in_first_and_lists_the_sign_in() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let http = browser();
    let res = http
        .get(format!("{}/account", app.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = http
        .get(absolute(&app, &location(&res)))
        .send()
        .await
        .unwrap();
    let login = location(&res);
    assert!(login.contains("/login?flow="), "{login}");
    let page = http
        .get(absolute(&app, &login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign in to your account"), "{page}");
    let signed_in = http
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", field(&page, "flow")),
            ("csrf", field(&page, "csrf")),
            ("username", "kim".into()),
            ("password", "Password1".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let account = http
        .get(absolute(&app, &location(&signed_in)))
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let html = account.text().await.unwrap();
    assert!(html.contains("Signed in as <strong>kim</strong>"), "{html}");
    assert!(html.contains("You have no passkeys yet"));
    assert!(
        html.contains("<td>Password</td><td>this account page</td>"),
        "{html}"
    );
}

#[tokio::test]
async fn the_last_way_to_sign_in_is_deleted_only_after_a_confirmation() {
    let app = spawn_app().await;
    let (http, device) = passkey_only_user(&app, Duration::seconds(5)).await;
    let html = http
        .get(format!("{}/account", app.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Synced passkey · iCloud Keychain"), "{html}");
    let csrf = field(&html, "csrf");
    let delete = |confirm: &'static str, device: String| {
        http.post(format!("{}/account/passkeys/delete", app.issuer))
            .form(&[
                ("csrf", csrf.clone()),
                ("device", device),
                ("confirm", confirm.into()),
            ])
            .send()
    };
    let asked = delete("", device.to_string()).await.unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(
        asked
            .text()
            .await
            .unwrap()
            .contains("Delete your last passkey?")
    );
    let count = || {
        let mut conn = app.db.store().conn().unwrap();
        let robin = tessera_store::accounts::by_username(&mut conn, "robin")
            .unwrap()
            .unwrap();
        tessera_store::passkeys::devices_of(&mut conn, robin.account_id)
            .unwrap()
            .len()
    };
    assert_eq!(count(), 1, "nothing deleted without the confirmation");
    let someone_elses = delete("yes", Uuid::new_v4().to_string()).await.unwrap();
    assert_eq!(someone_elses.status(), StatusCode::NOT_FOUND);
    let confirmed = delete("yes", device.to_string()).await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(count(), 0);
}

#[tokio::test]
async fn account_forms_need_their_csrf_token_and_a_recent_sign_in_to_change_passkeys() {
    // On a domain name, where passkeys can be added.
    let app = spawn_app_with(Options {
        localhost: true,
        ..Options::default()
    })
    .await;
    let (http, device) = passkey_only_user(&app, Duration::minutes(30)).await;
    let html = http
        .get(format!("{}/account", app.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("sign in again"), "{html}");
    assert!(!html.contains("Add a passkey"));
    let csrf = field(&html, "csrf");
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        http.post(format!("{}{path}", app.issuer))
            .form(&form)
            .send()
    };
    let forged = post(
        "/account/passkeys/rename",
        vec![
            ("csrf", "forged".into()),
            ("device", device.to_string()),
            ("name", "Evil".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // Renaming is harmless and allowed; an empty name is not.
    let renamed = post(
        "/account/passkeys/rename",
        vec![
            ("csrf", csrf.clone()),
            ("device", device.to_string()),
            ("name", "  Work phone ".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(renamed.status(), StatusCode::SEE_OTHER);
    let empty = post(
        "/account/passkeys/rename",
        vec![
            ("csrf", csrf.clone()),
            ("device", device.to_string()),
            ("name", " ".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    // Deleting and adding need a sign-in from the last few minutes.
    for path in ["/account/passkeys/delete", "/account/passkeys/new"] {
        let stale = post(
            path,
            vec![
                ("csrf", csrf.clone()),
                ("device", device.to_string()),
                ("confirm", "yes".into()),
            ],
        )
        .await
        .unwrap();
        assert_eq!(stale.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            stale.text().await.unwrap().contains("Sign in again"),
            "{path}"
        );
    }
    let html = http
        .get(format!("{}/account", app.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<strong>Work phone</strong>"), "{html}");
    // No session: the posts go to the sign-in, never act.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/account/passkeys/delete", app.issuer))
        .form(&[("csrf", csrf.as_str()), ("device", &device.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_user_adds_a_named_passkey_from_the_account_page() {
    let app = localhost_app_with_kim().await;
    let mut b = Browser::start("account_page").await;
    b.add_virtual_authenticator().await;
    b.client
        .goto(&format!("{}/account", app.issuer))
        .await
        .unwrap();
    b.wait_for("Sign in to your account").await;
    b.fill("#username", "kim").await;
    b.fill("#password", "Password1").await;
    b.click("button[type=submit]").await;
    b.wait_for("You have no passkeys yet").await;
    b.shot("account-without-passkeys").await;
    b.click("form[action$='/account/passkeys/new'] button")
        .await;
    b.wait_for("Add a passkey to your account").await;
    b.fill("#name", "Test laptop").await;
    b.shot("add-a-passkey").await;
    b.click("#passkey-register button[type=submit]").await;
    let page = b.wait_for("Test laptop").await;
    assert!(page.contains("Added"), "{page}");
    b.shot("account-with-a-passkey").await;
    let mut conn = app.db.store().conn().unwrap();
    let kim = tessera_store::accounts::by_username(&mut conn, "kim")
        .unwrap()
        .unwrap();
    let devices = tessera_store::passkeys::devices_of(&mut conn, kim.account_id).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "Test laptop");
}

#[tokio::test]
async fn two_deletions_at_once_cannot_remove_the_last_two_passkeys_without_a_confirmation() {
    let app = spawn_app().await;
    let (http, first) = passkey_only_user(&app, Duration::seconds(5)).await;
    let mut conn = app.db.store().conn().unwrap();
    let robin = tessera_store::accounts::by_username(&mut conn, "robin")
        .unwrap()
        .unwrap();
    let second = Uuid::new_v4();
    tessera_store::passkeys::insert_device(
        &mut conn,
        &DeviceRow {
            device_id: second,
            account_id: robin.account_id,
            device_type: "webauthn".into(),
            credential_id: vec![8; 16],
            credential: serde_json::json!({}),
            name: "Laptop".into(),
            aaguid: None,
            sign_count: 0,
            backup_eligible: false,
            backup_state: false,
            created_at: Utc::now(),
            last_used_at: None,
        },
    )
    .unwrap();
    let html = http
        .get(format!("{}/account", app.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&html, "csrf");
    let delete = |device: Uuid| {
        http.post(format!("{}/account/passkeys/delete", app.issuer))
            .form(&[("csrf", csrf.clone()), ("device", device.to_string())])
            .send()
    };
    let (a, b) = tokio::join!(delete(first), delete(second));
    let statuses = [a.unwrap().status(), b.unwrap().status()];
    assert!(
        statuses.contains(&StatusCode::SEE_OTHER) && statuses.contains(&StatusCode::OK),
        "one deleted, one asked for a confirmation: {statuses:?}"
    );
    let left = tessera_store::passkeys::devices_of(&mut conn, robin.account_id).unwrap();
    assert_eq!(left.len(), 1);
}

#[tokio::test]
async fn signing_out_everywhere_else_ends_other_sessions_and_every_refresh_token_but_this_session()
{
    let app = spawn_app().await;
    create_kim(&app).await;
    let (elsewhere, here) = (browser(), browser());
    let held = crate::token_claims::code_flow_in(&app, &elsewhere, "openid").await;
    crate::token_claims::code_flow_in(&app, &here, "openid").await;
    let signed_in = |b: &reqwest::Client| {
        let url = format!(
            "{}&prompt=none",
            crate::token_claims::authorize_url(&app, "openid")
        );
        let b = b.clone();
        async move { location(&b.get(&url).send().await.unwrap()).contains("code=") }
    };
    assert!(signed_in(&elsewhere).await && signed_in(&here).await);

    let page = here
        .get(format!("{}/account", app.issuer))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign out everywhere else"), "{page}");
    let done = here
        .post(format!("{}/account/sign-out-everywhere", app.issuer))
        .form(&[("csrf", field(&page, "csrf"))])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);

    assert!(
        !signed_in(&elsewhere).await,
        "the other browser is signed out"
    );
    assert!(signed_in(&here).await, "this one stays");
    let refreshed = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-web-client"),
            ("refresh_token", held["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        refreshed.status(),
        StatusCode::BAD_REQUEST,
        "the app's refresh token is revoked"
    );
}
