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

pub(crate) fn authorize_url(app: &TestApp) -> String {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    format!(
        "{}/oauth/authorize?client_id=demo-web-client&redirect_uri={}&response_type=code&scope=openid&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256",
        app.issuer,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    )
}

/// An app serving its issuer on `localhost` (WebAuthn needs a domain) with kim's account.
pub(crate) async fn localhost_app_with_kim() -> TestApp {
    let app = spawn_app_with(Options {
        localhost: true,
        ..Options::default()
    })
    .await;
    create_kim(&app).await;
    app
}

/// Waits until the browser has been sent back to the client; returns the code.
pub(crate) async fn code_at_callback(b: &Browser) -> String {
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
pub(crate) async fn id_token_claims(app: &TestApp, code: &str) -> Value {
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
async fn a_password_user_opts_into_a_passkey_then_autofill_signs_in_with_it_keeping_the_same_subject()
 {
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
    // The username field offers the passkey among its autofill suggestions (conditional UI);
    // the virtual authenticator picks it at once, as a user choosing it would, so the browser
    // comes back signed in without a click or a username.
    b.client.goto(&authorize_url(&app)).await.unwrap();
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

/// The passkey endpoints over plain HTTP: what a client that does not allow passkeys, a forged
/// form or a garbled answer gets — a readable refusal, never a 5xx.
mod refusals {
    use reqwest::StatusCode;

    use super::*;
    use crate::oidc::{field, open_login_page};

    /// A browser on the sign-in page of a fresh flow; returns it with the flow and CSRF token.
    async fn login_page(app: &TestApp) -> (reqwest::Client, String, String, String) {
        let (browser, html) = open_login_page(app, &authorize_url(app)).await;
        let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
        (browser, flow, csrf, html)
    }

    #[tokio::test]
    async fn without_a_passkeys_authenticator_the_page_offers_none_and_the_endpoints_refuse() {
        let app = localhost_app_with_kim().await;
        let (browser, flow, csrf, html) = login_page(&app).await;
        assert!(!html.contains("Sign in with a passkey"));
        assert!(!html.contains("create a passkey"));
        let options = browser
            .post(format!("{}/login/passkey/options", app.issuer))
            .form(&[("flow", &flow), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), StatusCode::FORBIDDEN);
        let body: Value = options.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("passkey"));
        let answer = browser
            .post(format!("{}/login/passkey", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("ceremony", &uuid::Uuid::new_v4().to_string()),
                ("credential", "{}"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        // Asking to enrol is ignored: the password sign-in completes as usual.
        let posted = browser
            .post(format!("{}/login", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "kim"),
                ("password", "Password1"),
                ("enrol", "passkey"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    }

    #[tokio::test]
    async fn forged_or_garbled_passkey_posts_get_a_page_and_never_a_5xx() {
        let app = localhost_app_with_kim().await;
        app.config
            .edit_and_commit(MIGRATE.as_bytes().to_vec(), UploadMode::Merge, "test")
            .await
            .unwrap();
        let (browser, flow, csrf, html) = login_page(&app).await;
        assert!(html.contains("Sign in with a passkey"));
        let options = browser
            .post(format!("{}/login/passkey/options", app.issuer))
            .form(&[("flow", &flow), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), StatusCode::OK);
        let body: Value = options.json().await.unwrap();
        let ceremony = body["ceremony"].as_str().unwrap().to_owned();
        assert!(body["options"]["publicKey"]["challenge"].is_string());
        assert!(
            body["options"]["publicKey"]["allowCredentials"]
                .as_array()
                .is_none_or(|a| a.is_empty())
        );

        let fake_assertion = serde_json::json!({
            "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"authenticatorData": "AAAA", "clientDataJSON": "AAAA", "signature": "AAAA", "userHandle": null},
            "extensions": {}
        })
        .to_string();
        let random = uuid::Uuid::new_v4().to_string();
        /// (path, what is wrong, the form, the status it gets)
        type Case<'a> = (&'a str, &'a str, [(&'a str, &'a str); 4], StatusCode);
        let cases: Vec<Case> = vec![
            (
                "/login/passkey",
                "bad CSRF token",
                [
                    ("flow", &flow),
                    ("csrf", "forged"),
                    ("ceremony", &ceremony),
                    ("credential", &fake_assertion),
                ],
                StatusCode::BAD_REQUEST,
            ),
            (
                "/login/passkey",
                "not JSON",
                [
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("ceremony", &ceremony),
                    ("credential", "<xml/>"),
                ],
                StatusCode::BAD_REQUEST,
            ),
            (
                "/login/passkey",
                "unknown ceremony",
                [
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("ceremony", &random),
                    ("credential", &fake_assertion),
                ],
                StatusCode::BAD_REQUEST,
            ),
            (
                "/login/passkey",
                "an answer no authenticator made",
                [
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("ceremony", &ceremony),
                    ("credential", &fake_assertion),
                ],
                StatusCode::UNAUTHORIZED,
            ),
            (
                "/login/passkey/register",
                "a registration no password step began",
                [
                    ("flow", &flow),
                    ("csrf", &csrf),
                    ("ceremony", &random),
                    ("credential", &fake_assertion),
                ],
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (path, name, form, status) in cases {
            let res = browser
                .post(format!("{}{path}", app.issuer))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), status, "{name}");
            let html = res.text().await.unwrap();
            assert!(html.contains("role=\"alert\""), "{name}: {html}");
        }
    }
}

/// Seed 000: after `config/upgrade-authentication.xml`, the clients allow passkeys only; kim
/// creates one with a code mailed to her (read from a real SMTP sink), then signs in with it.
pub(crate) mod passkeys_only {
    use super::*;
    use crate::oidc::{field, open_login_page};
    use tessera_testkit::MailSink;

    const UPGRADE: &str = include_str!("../../../../config/upgrade-authentication.xml");

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kim_creates_a_passkey_with_a_mailed_code_signs_in_recovers_on_a_new_device_never_with_a_password()
     {
        // The SMTP login of config/upgrade-authentication.xml.
        let sink = MailSink::start_with_login("noreply@democluster.example", "Password1");
        let app = passkeys_only_app(&sink).await;
        let mut b = Browser::start("passkeys_only_email_code").await;
        let laptop = b.add_virtual_authenticator().await;

        b.client.goto(&authorize_url(&app)).await.unwrap();
        let page = b.wait_for("Sign in with a passkey").await;
        assert!(!page.contains("Password"), "no password form: {page}");
        b.shot("passkeys-only-sign-in").await;
        create_passkey_by_email(&mut b, &sink, 1).await;
        let first = id_token_claims(&app, &code_at_callback(&b).await).await;
        assert_eq!(first["amr"], serde_json::json!(["otp"]));
        assert_eq!(first["acr"], "urn:tessera:authenticator:passkeys");

        b.client
            .goto(&format!("{}/healthz", app.issuer))
            .await
            .unwrap();
        b.client.delete_all_cookies().await.unwrap();
        b.client.goto(&authorize_url(&app)).await.unwrap();
        b.wait_for("Sign in with a passkey").await;
        b.click("#passkey-signin button[type=submit]").await;
        let second = id_token_claims(&app, &code_at_callback(&b).await).await;
        b.shot("signed-in-with-the-passkey").await;
        assert_eq!(second["sub"], first["sub"]);
        assert!(
            second["amr"].as_array().unwrap().contains(&"user".into()),
            "{second}"
        );

        // Recovery: the laptop is lost; a new device gets a passkey the same way, on the same
        // account, and signs in with the same subject.
        b.remove_virtual_authenticator(&laptop).await;
        b.add_virtual_authenticator().await;
        b.client
            .goto(&format!("{}/healthz", app.issuer))
            .await
            .unwrap();
        b.client.delete_all_cookies().await.unwrap();
        b.client.goto(&authorize_url(&app)).await.unwrap();
        b.wait_for("Sign in with a passkey").await;
        create_passkey_by_email(&mut b, &sink, 2).await;
        let recovered = id_token_claims(&app, &code_at_callback(&b).await).await;
        assert_eq!(recovered["sub"], first["sub"]);
        let devices = {
            let mut conn = app.db.store().conn().unwrap();
            let kim = tessera_store::accounts::by_username(&mut conn, "kim")
                .unwrap()
                .unwrap();
            tessera_store::passkeys::devices_of(&mut conn, kim.account_id).unwrap()
        };
        assert_eq!(devices.len(), 2, "two passkeys on one account");
        // The recovery ended what was signed in before (whoever holds the laptop): only the
        // recovered session and the refresh token redeemed after it are live.
        {
            use diesel::prelude::*;
            use tessera_store::schema::{refresh_tokens, sso_sessions};
            let mut conn = app.db.connect();
            let kim = tessera_store::accounts::by_username(&mut conn, "kim")
                .unwrap()
                .unwrap();
            let sessions: i64 = sso_sessions::table
                .filter(sso_sessions::account_id.eq(kim.account_id))
                .filter(sso_sessions::ended_at.is_null())
                .count()
                .get_result(&mut conn)
                .unwrap();
            let tokens: i64 = refresh_tokens::table
                .filter(refresh_tokens::account_id.eq(kim.account_id))
                .filter(refresh_tokens::revoked_at.is_null())
                .count()
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(
                (sessions, tokens),
                (1, 1),
                "live sessions and refresh tokens"
            );
        }

        // Whatever a browser posts, this client takes no password.
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let posted = http
            .post(format!("{}/login", app.issuer))
            .form(&[
                ("flow", field(&html, "flow")),
                ("csrf", field(&html, "csrf")),
                ("username", "kim".into()),
                ("password", "Password1".into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    }

    async fn passkeys_only_app(sink: &MailSink) -> TestApp {
        passkeys_only_app_with(sink, |config| config).await
    }

    /// kim on a server where `config/upgrade-authentication.xml`, changed by `edit`, was
    /// merged, mailing to `sink`.
    pub(crate) async fn passkeys_only_app_with(
        sink: &MailSink,
        edit: impl Fn(String) -> String,
    ) -> TestApp {
        let app = spawn_app_with(Options {
            localhost: true,
            ..Options::default()
        })
        .await;
        create_kim(&app).await;
        let upgrade = UPGRADE.replace(
            "<smtp-port>1025</smtp-port>",
            &format!("<smtp-port>{}</smtp-port>", sink.smtp_port),
        );
        app.config
            .edit_and_commit(edit(upgrade).into_bytes(), UploadMode::Merge, "test")
            .await
            .unwrap();
        app
    }

    /// The six-digit code in a mail.
    pub(crate) fn code_in(mail: &tessera_testkit::ReceivedMail) -> String {
        mail.text
            .split_whitespace()
            .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
            .expect("a code in the mail")
            .to_owned()
    }

    /// From the sign-in page: "Create a passkey", the username, the `n`-th mailed code, the
    /// ceremony, "Passkey registered", Continue.
    async fn create_passkey_by_email(b: &mut Browser, sink: &MailSink, n: usize) {
        b.click("a[href*='/login/passkey/create']").await;
        b.wait_for("Email me a code").await;
        b.shot("create-a-passkey-username").await;
        b.fill("#username", "kim").await;
        b.click("button[type=submit]").await;
        b.wait_for("Check your email").await;
        b.shot("enter-the-code").await;
        let code = code_in(&sink.wait_for("kim@example.com", n).await);
        b.fill("#code", &code).await;
        b.click("button[type=submit]").await;
        b.wait_for("Create a passkey for kim").await;
        b.shot("create-the-passkey").await;
        b.click("#passkey-register button[type=submit]").await;
        b.wait_for("Passkey registered").await;
        b.shot("passkey-registered").await;
        b.click("a.button").await;
    }

    #[tokio::test]
    async fn an_unknown_username_gets_the_same_code_page_and_no_mail() {
        // The SMTP login of config/upgrade-authentication.xml.
        let sink = MailSink::start_with_login("noreply@democluster.example", "Password1");
        let app = passkeys_only_app(&sink).await;
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
        let ask = |username: &'static str| {
            http.post(format!("{}/login/passkey/create", app.issuer))
                .form(&[
                    ("flow", flow.clone()),
                    ("csrf", csrf.clone()),
                    ("username", username.into()),
                ])
                .send()
        };
        let known = ask("kim").await.unwrap();
        let unknown = ask("nobody").await.unwrap();
        assert_eq!(known.status(), StatusCode::OK);
        assert_eq!(unknown.status(), StatusCode::OK);
        let (known, unknown) = (known.text().await.unwrap(), unknown.text().await.unwrap());
        assert_eq!(
            known.replace("kim", "X"),
            unknown.replace("nobody", "X"),
            "the page must not tell whether the account exists"
        );
        sink.wait_for("kim@example.com", 1).await;
        let mails = sink.messages().await;
        assert_eq!(mails.len(), 1, "nothing is mailed for an unknown username");
        // The code page takes no code for nobody.
        let typed = http
            .post(format!("{}/login/passkey/code", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "nobody"),
                ("code", "123456"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(typed.status(), StatusCode::UNAUTHORIZED);
    }
}
