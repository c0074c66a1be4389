//! Identifier-first sign-in (seed 003, `config/identifier-first.xml`): the username alone,
//! remembered in a cookie; an account with a passkey goes straight to the passkey prompt,
//! anyone else chooses how to sign in, and choosing a passkey asks for the password first.

use reqwest::StatusCode;
use tessera_admin::config::UploadMode;
use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails};

use crate::browser::Browser;
use crate::helpers::{Options, TestApp, email_config, spawn_app_with};
use crate::oidc::{absolute, create_kim, field, location, open_login_page};
use crate::passkey_browser::{authorize_url, code_at_callback, id_token_claims};

const IDENTIFIER_FIRST: &str = include_str!("../../../../config/identifier-first.xml");

async fn identifier_first_app() -> TestApp {
    let app = spawn_app_with(Options {
        localhost: true,
        ..Options::default()
    })
    .await;
    create_kim(&app).await;
    app.config
        .edit_and_commit(
            IDENTIFIER_FIRST.as_bytes().to_vec(),
            UploadMode::Merge,
            "test",
        )
        .await
        .unwrap();
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_user_chooses_a_passkey_then_goes_straight_to_the_passkey_prompt_with_the_same_subject()
 {
    let app = identifier_first_app().await;
    let mut b = Browser::start("identifier_first").await;
    b.add_virtual_authenticator().await;

    // First sign-in: the username, the selector, the password, then the passkey.
    b.client.goto(&authorize_url(&app)).await.unwrap();
    let page = b.wait_for("Sign in").await;
    assert!(
        !page.contains("Password"),
        "the username alone first: {page}"
    );
    b.shot("username").await;
    b.fill("#username", "kim").await;
    b.click("button[type=submit]").await;
    b.wait_for("How do you want to sign in?").await;
    b.shot("selector").await;
    b.click("button[value=passkey]").await;
    b.wait_for("Enter your password to create a passkey").await;
    b.shot("password-before-the-passkey").await;
    b.fill("#password", "Password1").await;
    b.click("button[name=enrol]").await;
    b.wait_for("Create a passkey for kim").await;
    b.shot("create-the-passkey").await;
    b.click("#passkey-register button[type=submit]").await;
    b.wait_for("Passkey registered").await;
    b.shot("passkey-registered").await;
    b.click("a.button").await;
    let first = id_token_claims(&app, &code_at_callback(&b).await).await;
    assert_eq!(first["amr"], serde_json::json!(["pwd"]));

    // Next time, without the SSO session: the username is remembered, and kim goes straight
    // to the passkey prompt — no selector, no password.
    b.client
        .goto(&format!("{}/healthz", app.issuer))
        .await
        .unwrap();
    b.client.delete_cookie("tessera_sso").await.unwrap();
    b.client.goto(&authorize_url(&app)).await.unwrap();
    b.wait_for("Sign in").await;
    let remembered = b
        .client
        .find(fantoccini::Locator::Css("#username"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        remembered.as_deref(),
        Some("kim"),
        "the username is remembered"
    );
    b.shot("username-remembered").await;
    b.click("button[type=submit]").await;
    let prompt = b.wait_for("Sign in with your passkey").await;
    assert!(!prompt.contains("How do you want"), "{prompt}");
    b.shot("passkey-prompt").await;
    b.click("#passkey-prompt button[type=submit]").await;
    let second = id_token_claims(&app, &code_at_callback(&b).await).await;
    b.shot("signed-in-with-the-passkey").await;
    assert_eq!(second["sub"], first["sub"], "the subject must not change");
    let amr = second["amr"].as_array().unwrap();
    assert!(amr.contains(&"user".into()), "{amr:?}");
    assert_eq!(second["acr"], "urn:tessera:authenticator:passkeys");
}

/// The username page over plain HTTP: returns the browser, the page, the flow and CSRF token.
async fn username_step(app: &TestApp, url: &str) -> (reqwest::Client, String, String, String) {
    let (http, html) = open_login_page(app, url).await;
    assert!(html.contains("/login/identify"), "{html}");
    let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
    (http, html, flow, csrf)
}

#[tokio::test]
async fn an_unknown_username_and_an_account_without_a_passkey_get_the_same_selector() {
    let app = identifier_first_app().await;
    accounts::create(
        &app.db.store(),
        &Passwords::new(1).unwrap(),
        AccountDetails {
            username: "dana".into(),
            email: Some("dana@example.com".into()),
            phone: None,
            given_name: None,
            family_name: None,
        },
        Some("Password2".into()),
    )
    .await
    .unwrap();
    let (http, _, flow, csrf) = username_step(&app, &authorize_url(&app)).await;
    let identify = |username: &'static str| {
        http.post(format!("{}/login/identify", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", username),
            ])
            .send()
    };
    let dana = identify("dana").await.unwrap();
    assert_eq!(dana.status(), StatusCode::OK);
    let remembered = dana
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tessera_username="))
        .expect("the username is remembered")
        .to_owned();
    assert!(remembered.contains("HttpOnly") && remembered.contains("SameSite=Lax"));
    let nobody = identify("nobody").await.unwrap();
    assert_eq!(nobody.status(), StatusCode::OK);
    let (dana, nobody) = (dana.text().await.unwrap(), nobody.text().await.unwrap());
    assert!(dana.contains("How do you want to sign in?"), "{dana}");
    assert_eq!(
        dana.replace("dana", "X"),
        nobody.replace("nobody", "X"),
        "the selector must not tell whether the account exists"
    );
    assert!(dana.contains("value=\"passkey\"") && dana.contains("value=\"password\""));

    // Empty or forged posts get a page, never a 5xx.
    let empty = identify("  ").await.unwrap();
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let forged = http
        .post(format!("{}/login/identify", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", "forged"),
            ("username", "kim"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    // A method the selector does not offer is refused; the password one signs dana in.
    let select = |method: &'static str, username: &'static str| {
        http.post(format!("{}/login/select", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", username),
                ("method", method),
            ])
            .send()
    };
    assert_eq!(
        select("telepathy", "dana").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let password_page = select("password", "dana").await.unwrap();
    assert_eq!(password_page.status(), StatusCode::OK);
    let html = password_page.text().await.unwrap();
    assert!(html.contains("readonly"), "the username is fixed: {html}");
    let signed_in = http
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "dana"),
            ("password", "Password2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let resumed = http
        .get(absolute(&app, &location(&signed_in)))
        .send()
        .await
        .unwrap();
    assert!(location(&resumed).starts_with("http://localhost:3000/callback?code="));
}

#[tokio::test]
async fn login_hint_and_the_remembered_username_prefill_the_username_page() {
    let app = identifier_first_app().await;
    let hinted = format!("{}&login_hint=kim%40example.com", authorize_url(&app));
    let (http, html, flow, csrf) = username_step(&app, &hinted).await;
    assert!(html.contains("value=\"kim@example.com\""), "{html}");
    http.post(format!("{}/login/identify", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "dana"),
        ])
        .send()
        .await
        .unwrap();
    // The same browser, a new sign-in without a hint: the username it typed last.
    let res = http.get(authorize_url(&app)).send().await.unwrap();
    let page = http
        .get(absolute(&app, &location(&res)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"username\" value=\"dana\""), "{page}");
}

#[tokio::test]
async fn the_selector_offers_an_email_code_that_signs_in_and_reads_the_same_for_nobody() {
    let sink = tessera_testkit::MailSink::start();
    let app = identifier_first_app().await;
    app.config
        .edit_and_commit(email_config(sink.smtp_port, ""), UploadMode::Merge, "test")
        .await
        .unwrap();
    let (http, _, flow, csrf) = username_step(&app, &authorize_url(&app)).await;
    let choose_email = |username: &'static str| {
        http.post(format!("{}/login/select", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", username),
                ("method", "email"),
            ])
            .send()
    };
    let selector = http
        .post(format!("{}/login/identify", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "kim"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(selector.contains("Email code"), "{selector}");

    let nobody = choose_email("nobody").await.unwrap();
    let kim = choose_email("kim").await.unwrap();
    assert_eq!(nobody.status(), StatusCode::OK);
    assert_eq!(kim.status(), StatusCode::OK);
    assert_eq!(
        nobody.text().await.unwrap().replace("nobody", "X"),
        kim.text().await.unwrap().replace("kim", "X"),
        "the page must not tell whether the account exists"
    );
    let mail = sink.wait_for("kim@example.com", 1).await;
    assert_eq!(sink.messages().await.len(), 1, "nothing mailed for nobody");
    let code = crate::passkey_browser::passkeys_only::code_in(&mail);
    let typed = |code: String| {
        http.post(format!("{}/login/email/code", app.issuer))
            .form(&[
                ("flow", flow.clone()),
                ("csrf", csrf.clone()),
                ("username", "kim".into()),
                ("code", code),
            ])
            .send()
    };
    let wrong = typed(if code == "000000" { "111111" } else { "000000" }.into())
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("2 tries left"));
    let right = typed(code).await.unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let resumed = http
        .get(absolute(&app, &location(&right)))
        .send()
        .await
        .unwrap();
    let back = location(&resumed);
    assert!(
        back.starts_with("http://localhost:3000/callback?code="),
        "{back}"
    );
    let code = crate::oidc::query_of(&back)["code"].clone();
    let claims = id_token_claims(&app, &code).await;
    assert_eq!(claims["amr"], serde_json::json!(["otp"]));
    assert_eq!(claims["acr"], "urn:tessera:authenticator:email");
}

#[tokio::test]
async fn probing_usernames_on_the_identifier_page_is_limited_per_address() {
    let app = identifier_first_app().await;
    let (http, _, flow, csrf) = username_step(&app, &authorize_url(&app)).await;
    let identify = |username: String| {
        http.post(format!("{}/login/identify", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", username.as_str()),
            ])
            .send()
    };
    let allowed = tessera_authn::limits::IDENTIFY_LIMITS.per_address;
    for i in 0..allowed {
        let res = identify(format!("probe-{i}")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "look-up {i}");
    }
    let refused = identify("kim".into()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let page = refused.text().await.unwrap();
    assert!(page.contains("Too many sign-in attempts"), "{page}");
    assert!(
        !page.contains("passkey-prompt"),
        "nothing about kim is revealed"
    );
}

/// A browser at the selector that chose an email code for `username`; returns it with its
/// flow and CSRF token.
async fn email_chosen(app: &TestApp, username: &str) -> (reqwest::Client, String, String) {
    let (http, _, flow, csrf) = username_step(app, &authorize_url(app)).await;
    let chosen = http
        .post(format!("{}/login/select", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", username),
            ("method", "email"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::OK);
    (http, flow, csrf)
}

async fn type_code(
    app: &TestApp,
    (http, flow, csrf): &(reqwest::Client, String, String),
    code: &str,
) -> reqwest::Response {
    http.post(format!("{}/login/email/code", app.issuer))
        .form(&[
            ("flow", flow.as_str()),
            ("csrf", csrf.as_str()),
            ("username", "kim"),
            ("code", code),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn wrong_codes_count_across_flows_and_past_the_bound_the_owner_gets_a_link_and_a_warning() {
    let sink = tessera_testkit::MailSink::start();
    let app = identifier_first_app().await;
    app.config
        .edit_and_commit(email_config(sink.smtp_port, ""), UploadMode::Merge, "test")
        .await
        .unwrap();
    let kim = {
        let mut conn = app.db.store().conn().unwrap();
        tessera_store::accounts::by_username(&mut conn, "kim")
            .unwrap()
            .unwrap()
    };
    let bucket = tessera_authn::guesses::bucket(kim.account_id);
    let failures = || {
        let mut conn = app.db.store().conn().unwrap();
        tessera_store::rate_limits::current(
            &mut conn,
            &bucket,
            chrono::Utc::now(),
            tessera_authn::guesses::WINDOW,
        )
        .unwrap()
    };

    // Two flows, two codes, wrong guesses at both: one count for the account.
    let first = email_chosen(&app, "kim").await;
    sink.wait_for("kim@example.com", 1).await;
    for _ in 0..3 {
        type_code(&app, &first, "000001").await;
    }
    let second = email_chosen(&app, "kim").await;
    let mail = sink.wait_for("kim@example.com", 2).await;
    let right = crate::passkey_browser::passkeys_only::code_in(&mail);
    type_code(
        &app,
        &second,
        if right == "000002" {
            "000003"
        } else {
            "000002"
        },
    )
    .await;
    assert_eq!(
        failures(),
        4,
        "wrong codes counted across flows and resends"
    );

    // At the bound, even the right code is no longer checked.
    {
        use diesel::prelude::*;
        use tessera_store::schema::rate_limits::dsl;
        diesel::update(dsl::rate_limits.filter(dsl::bucket.eq(&bucket)))
            .set(dsl::hits.eq(tessera_authn::guesses::BOUND))
            .execute(&mut app.db.connect())
            .unwrap();
    }
    let refused = type_code(&app, &second, &right).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("Ask for a new one"));

    // Asking again mails the owner a link (unguessable), which signs her in, and a warning.
    let third = email_chosen(&app, "kim").await;
    let link_mail = sink.wait_for("kim@example.com", 3).await;
    let warning = sink.wait_for("kim@example.com", 4).await;
    let (link_mail, warning) = if link_mail.subject.contains("trying") {
        (warning, link_mail)
    } else {
        (link_mail, warning)
    };
    assert!(
        warning.subject.contains("Someone is trying to sign in"),
        "{}",
        warning.subject
    );
    let link = link_mail
        .text
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a link, not a code")
        .to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let signed_in = third
        .0
        .post(format!("{}/login/email/link", app.issuer))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_in.status(),
        StatusCode::SEE_OTHER,
        "the owner is not locked out"
    );
    assert!(location(&signed_in).contains("/oauth/authorize/resume"));
}
