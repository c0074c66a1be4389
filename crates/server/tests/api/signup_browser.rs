//! Signing up with a passkey (seed 002: the address verified before any account row exists)
//! and emailed links (redeemed only by a POST, only in the browser that asked for them), in
//! headless Chromium with a virtual authenticator and a real SMTP sink, plus the same
//! endpoints' refusals over plain HTTP.

use reqwest::StatusCode;
use tessera_testkit::{MailSink, ReceivedMail};

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::oidc::{field, open_login_page};
use crate::passkey_browser::passkeys_only::{code_in, passkeys_only_app_with};
use crate::passkey_browser::{authorize_url, code_at_callback, id_token_claims};

/// The SMTP login of `config/upgrade-authentication.xml`.
fn sink() -> MailSink {
    MailSink::start_with_login("noreply@democluster.example", "Password1")
}

/// Seed 000's configuration as shipped: codes, sign-up open.
async fn codes_app(sink: &MailSink) -> TestApp {
    passkeys_only_app_with(sink, |config| config).await
}

/// The same with links instead of codes.
async fn links_app(sink: &MailSink) -> TestApp {
    passkeys_only_app_with(sink, |config| config.replace("<send-otp-as-code/>", "")).await
}

/// The link in a mail.
fn link_in(mail: &ReceivedMail) -> String {
    mail.text
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a link in the mail")
        .to_owned()
}

fn account(app: &TestApp, username: &str) -> Option<tessera_store::accounts::AccountRow> {
    let mut conn = app.db.store().conn().unwrap();
    tessera_store::accounts::by_username(&mut conn, username).unwrap()
}

fn devices(app: &TestApp, username: &str) -> usize {
    let mut conn = app.db.store().conn().unwrap();
    let id = account(app, username).unwrap().account_id;
    tessera_store::passkeys::devices_of(&mut conn, id)
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_signs_up_with_a_passkey_after_verifying_the_address_then_signs_in_with_it() {
    let sink = sink();
    let app = codes_app(&sink).await;
    let mut b = Browser::start("signup_passkey").await;
    b.add_virtual_authenticator().await;

    b.client.goto(&authorize_url(&app)).await.unwrap();
    b.wait_for("Sign in with a passkey").await;
    b.click("a[href*='/login/signup']").await;
    b.wait_for("Create an account").await;
    b.fill("#username", "robin").await;
    b.fill("#given_name", "Robin").await;
    b.fill("#family_name", "Reyes").await;
    b.fill("#email", "robin@example.com").await;
    b.fill("#phone", "+46 70 123 45 67").await;
    b.shot("sign-up-form").await;
    b.click("button[type=submit]").await;
    b.wait_for("Check your email").await;
    b.shot("check-your-email").await;
    let code = code_in(&sink.wait_for("robin@example.com", 1).await);
    assert!(
        account(&app, "robin").is_none(),
        "no account before the address is verified"
    );

    b.fill("#code", &code).await;
    b.click("button[type=submit]").await;
    b.wait_for("Create a passkey for robin").await;
    assert!(
        account(&app, "robin").is_none(),
        "no account before its first passkey"
    );
    b.shot("create-the-first-passkey").await;
    b.click("#passkey-register button[type=submit]").await;
    b.wait_for("Passkey registered").await;
    b.shot("passkey-registered").await;
    b.click("a.button").await;
    let first = id_token_claims(&app, &code_at_callback(&b).await).await;
    assert_eq!(first["amr"], serde_json::json!(["otp"]));

    let robin = account(&app, "robin").expect("the account exists now");
    assert_eq!(robin.email.as_deref(), Some("robin@example.com"));
    assert_eq!(robin.phone.as_deref(), Some("+46 70 123 45 67"));
    assert_eq!(robin.attributes["given_name"], "Robin");
    assert_eq!(robin.attributes["family_name"], "Reyes");
    assert_eq!(devices(&app, "robin"), 1);

    // Next time: the passkey alone.
    b.client
        .goto(&format!("{}/healthz", app.issuer))
        .await
        .unwrap();
    b.client.delete_all_cookies().await.unwrap();
    b.client.goto(&authorize_url(&app)).await.unwrap();
    b.wait_for("Sign in with a passkey").await;
    b.click("#passkey-signin button[type=submit]").await;
    let second = id_token_claims(&app, &code_at_callback(&b).await).await;
    b.shot("signed-in-with-the-new-passkey").await;
    assert_eq!(second["sub"], first["sub"]);
    assert!(second["amr"].as_array().unwrap().contains(&"user".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emailed_link_opened_in_another_browser_signs_nothing_in_there_and_shows_the_code_for_the_first()
 {
    let sink = sink();
    let app = links_app(&sink).await;
    let mut first = Browser::start("email_link_first_browser").await;
    first.add_virtual_authenticator().await;
    first.client.goto(&authorize_url(&app)).await.unwrap();
    first.wait_for("Sign in with a passkey").await;
    first.click("a[href*='/login/passkey/create']").await;
    first.wait_for("Email me a code").await;
    first.fill("#username", "kim").await;
    first.click("button[type=submit]").await;
    first
        .wait_for("Open the link in the email in this browser")
        .await;
    first.shot("check-your-email-for-a-link").await;
    let mail = sink.wait_for("kim@example.com", 1).await;
    let link = link_in(&mail);
    assert!(mail.html.contains("Continue signing in"), "{}", mail.html);

    // Another browser (another device, a mail app's own browser) opens the link.
    let mut other = Browser::start("email_link_other_browser").await;
    other.client.goto(&link).await.unwrap();
    other.wait_for("You opened a sign-in link").await;
    other.shot("link-page").await;
    other.click("button[type=submit]").await;
    let page = other.wait_for("Type this code where you started").await;
    other.shot("code-to-type-in-the-first-browser").await;
    let shown = page
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .expect("a code on the page")
        .to_owned();
    let cookies = other.client.get_all_cookies().await.unwrap();
    assert!(
        cookies.iter().all(|c| c.name() != "tessera_sso"),
        "the other browser has no session: {cookies:?}"
    );
    assert!(
        !other
            .client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("callback")
    );

    // The first browser types that code and goes on to create its passkey.
    first.fill("#code", &shown).await;
    first.click("button[type=submit]").await;
    first.wait_for("Create a passkey for kim").await;
    first.click("#passkey-register button[type=submit]").await;
    first.wait_for("Passkey registered").await;
    first.shot("passkey-registered").await;
    first.click("a.button").await;
    let claims = id_token_claims(&app, &code_at_callback(&first).await).await;
    assert_eq!(claims["amr"], serde_json::json!(["otp"]));
    assert_eq!(devices(&app, "kim"), 1);
}

/// The sign-up and link endpoints over plain HTTP.
mod refusals {
    use super::*;

    /// A browser on a fresh sign-in page; returns it with the flow and CSRF token.
    async fn flow(app: &TestApp) -> (reqwest::Client, String, String) {
        let (http, html) = open_login_page(app, &authorize_url(app)).await;
        assert!(html.contains("Create an account"), "{html}");
        (http, field(&html, "flow"), field(&html, "csrf"))
    }

    pub(super) fn details<'a>(
        flow: &'a str,
        csrf: &'a str,
        username: &'a str,
        email: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("flow", flow),
            ("csrf", csrf),
            ("username", username),
            ("given_name", "Robin"),
            ("family_name", "Reyes"),
            ("email", email),
            ("phone", ""),
        ]
    }

    #[tokio::test]
    async fn signing_up_with_a_taken_address_reads_the_same_and_mails_its_owner_instead() {
        let sink = sink();
        let app = codes_app(&sink).await;
        let (http, flow, csrf) = flow(&app).await;
        let post = |form: Vec<(&str, &str)>| {
            http.post(format!("{}/login/signup", app.issuer))
                .form(&form)
                .send()
        };
        let fresh = post(details(&flow, &csrf, "robin", "robin@example.com"))
            .await
            .unwrap();
        let taken = post(details(&flow, &csrf, "robin", "kim@example.com"))
            .await
            .unwrap();
        assert_eq!(fresh.status(), StatusCode::OK);
        assert_eq!(taken.status(), StatusCode::OK);
        assert_eq!(
            fresh
                .text()
                .await
                .unwrap()
                .replace("robin@example.com", "X"),
            taken.text().await.unwrap().replace("kim@example.com", "X"),
            "the page must not tell whether the address has an account"
        );
        let to_kim = sink.wait_for("kim@example.com", 1).await;
        assert!(
            to_kim.subject.contains("already have"),
            "{}",
            to_kim.subject
        );
        assert!(to_kim.text.contains("kim"));
        // The latest challenge (for kim's address) proves nothing, whatever is typed.
        let mut typed = details(&flow, &csrf, "robin", "kim@example.com");
        typed.push(("code", "123456"));
        let res = http
            .post(format!("{}/login/signup/code", app.issuer))
            .form(&typed)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(account(&app, "robin").is_none());

        // A taken username is said plainly: the person has to choose another.
        let res = post(details(&flow, &csrf, "KIM", "new@example.com"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CONFLICT);
        assert!(res.text().await.unwrap().contains("That username is taken"));
    }

    #[tokio::test]
    async fn bad_sign_up_details_get_the_form_back_with_the_reason_and_nothing_is_mailed() {
        let sink = sink();
        let app = codes_app(&sink).await;
        let (http, flow, csrf) = flow(&app).await;
        let long = "x".repeat(65);
        let cases: Vec<(&str, &str, &str, &str)> = vec![
            ("username", "", "Choose a username", "empty username"),
            (
                "username",
                &long,
                "Choose a username",
                "65-character username",
            ),
            ("given_name", " ", "given name", "blank given name"),
            ("family_name", "", "family name", "empty family name"),
            ("email", "robin", "valid email", "address without @"),
            (
                "email",
                "robin@exa mple.com",
                "valid email",
                "space in address",
            ),
            ("phone", "call me", "phone number", "phone without digits"),
            (
                "username",
                "ro\u{0007}bin",
                "Choose a username",
                "control character",
            ),
        ];
        for (name, value, says, why) in cases {
            let mut form = details(&flow, &csrf, "robin", "robin@example.com");
            for entry in form.iter_mut() {
                if entry.0 == name {
                    entry.1 = value;
                }
            }
            let res = http
                .post(format!("{}/login/signup", app.issuer))
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{why}");
            let html = res.text().await.unwrap();
            assert!(html.contains(says), "{why}: {html}");
            assert!(html.contains("role=\"alert\""), "{why}");
        }
        // A missing field is refused the same way, and a forged form is no sign-up at all.
        let res = http
            .post(format!("{}/login/signup", app.issuer))
            .form(&[("flow", flow.as_str()), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let res = http
            .post(format!("{}/login/signup", app.issuer))
            .form(&details(&flow, "forged", "robin", "robin@example.com"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(sink.messages().await.is_empty(), "nothing was mailed");
    }

    #[tokio::test]
    async fn without_enable_registration_nobody_can_sign_up() {
        let sink = sink();
        let app = passkeys_only_app_with(&sink, |config| {
            let start = config.find("<processing").unwrap();
            let end = config.find("</processing>").unwrap() + "</processing>".len();
            format!("{}{}", &config[..start], &config[end..])
        })
        .await;
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        assert!(html.contains("Sign in with a passkey"));
        assert!(!html.contains("Create an account"));
        let flow = field(&html, "flow");
        let page = http
            .get(format!("{}/login/signup?flow={flow}", app.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::FORBIDDEN);
        let csrf = field(&html, "csrf");
        let posted = http
            .post(format!("{}/login/signup", app.issuer))
            .form(&details(&flow, &csrf, "robin", "robin@example.com"))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), StatusCode::FORBIDDEN);
        assert!(sink.messages().await.is_empty());
    }

    #[tokio::test]
    async fn a_link_is_redeemed_only_by_a_post_in_its_own_browser_and_only_once() {
        let sink = sink();
        let app = links_app(&sink).await;
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
        let sent = http
            .post(format!("{}/login/passkey/create", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "kim"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
        let link = link_in(&sink.wait_for("kim@example.com", 1).await);
        let token = link.split("token=").nth(1).unwrap().to_owned();

        // Prefetching the link (a mail scanner) redeems nothing, however often.
        for _ in 0..2 {
            let page = http.get(&link).send().await.unwrap();
            assert_eq!(page.status(), StatusCode::OK);
            assert!(page.text().await.unwrap().contains("Continue signing in"));
        }
        let redeem = || {
            http.post(format!("{}/login/email/link", app.issuer))
                .form(&[("token", token.as_str())])
                .send()
        };
        let first = redeem().await.unwrap();
        assert_eq!(first.status(), StatusCode::OK);
        let page = first.text().await.unwrap();
        assert!(
            page.contains("Create a passkey for <strong>kim</strong>"),
            "{page}"
        );
        let again = redeem().await.unwrap();
        assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        assert!(
            again
                .text()
                .await
                .unwrap()
                .contains("This link has expired")
        );

        // A well-formed token nobody issued, and malformed ones.
        for bad in ["", "short", &"A".repeat(43), "../../etc/passwd"] {
            let res = http
                .post(format!("{}/login/email/link", app.issuer))
                .form(&[("token", bad)])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        }
        for malformed in ["", "short", "..%2F..%2Fetc%2Fpasswd"] {
            let res = http
                .get(format!("{}/login/email/link?token={malformed}", app.issuer))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{malformed:?}");
        }
    }
}

/// The SMTP server down: a clear page, nothing created, and the same step works once it is back.
mod smtp_down {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_smtp_server_gets_a_clear_page_and_a_retry_works_once_it_is_back() {
        let sink = sink();
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let app = passkeys_only_app_with(&sink, |config| {
            config.replace(
                &format!("<smtp-port>{}</smtp-port>", sink.smtp_port),
                &format!("<smtp-port>{closed}</smtp-port>"),
            )
        })
        .await;
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
        let sign_up = || {
            http.post(format!("{}/login/signup", app.issuer))
                .form(&[
                    ("flow", flow.as_str()),
                    ("csrf", csrf.as_str()),
                    ("username", "robin"),
                    ("given_name", "Robin"),
                    ("family_name", "Reyes"),
                    ("email", "robin@example.com"),
                    ("phone", ""),
                ])
                .send()
        };
        let down = sign_up().await.unwrap();
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        let page = down.text().await.unwrap();
        assert!(page.contains("could not be sent"), "{page}");
        assert!(
            page.contains("value=\"robin@example.com\""),
            "the form keeps what was typed: {page}"
        );
        assert!(account(&app, "robin").is_none(), "nothing half-created");
        let recovery = http
            .post(format!("{}/login/passkey/create", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "kim"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(recovery.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(recovery.text().await.unwrap().contains("could not be sent"));
        // An unknown username gets the same answer: nothing to mail, but the same connection.
        let nobody = http
            .post(format!("{}/login/passkey/create", app.issuer))
            .form(&[
                ("flow", flow.as_str()),
                ("csrf", csrf.as_str()),
                ("username", "nobody"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(nobody.status(), StatusCode::SERVICE_UNAVAILABLE);

        // The provider fixed (an operator commit): the same flow goes on.
        let fixed = format!(
            r#"<config xmlns="http://tail-f.com/ns/config/1.0"><facilities xmlns="https://curity.se/ns/conf/base"><email-providers><email-provider><id>smtp</id><smtp><smtp-port>{}</smtp-port></smtp></email-provider></email-providers></facilities></config>"#,
            sink.smtp_port
        );
        app.config
            .edit_and_commit(
                fixed.into_bytes(),
                tessera_admin::config::UploadMode::Merge,
                "test",
            )
            .await
            .unwrap();
        let up = sign_up().await.unwrap();
        assert_eq!(up.status(), StatusCode::OK);
        sink.wait_for("robin@example.com", 1).await;
    }

    /// An SMTP server that greets, takes any login and answers every command except `DATA`,
    /// which it never answers: a mail to it never finishes.
    async fn stalling_smtp_server() -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut lines = BufReader::new(read).lines();
                    write.write_all(b"220 stalling ESMTP\r\n").await.unwrap();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "DATA" => std::future::pending().await,
                            "EHLO" => b"250-stalling\r\n250 AUTH PLAIN\r\n",
                            "AUTH" => b"235 ok\r\n",
                            "QUIT" => b"221 bye\r\n",
                            _ => b"250 ok\r\n",
                        };
                        if write.write_all(answer).await.is_err() || verb == "QUIT" {
                            break;
                        }
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn a_known_account_is_answered_without_waiting_for_its_mail_to_be_delivered() {
        let sink = sink();
        let stalling = stalling_smtp_server().await;
        let app = passkeys_only_app_with(&sink, |config| {
            config.replace(
                &format!("<smtp-port>{}</smtp-port>", sink.smtp_port),
                &format!("<smtp-port>{stalling}</smtp-port>"),
            )
        })
        .await;
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
        let ask = |username: &'static str| {
            http.post(format!("{}/login/passkey/create", app.issuer))
                .form(&[
                    ("flow", flow.as_str()),
                    ("csrf", csrf.as_str()),
                    ("username", username),
                ])
                // Far below the mail client's own timeout: the answer must not wait for it.
                .timeout(std::time::Duration::from_secs(20))
                .send()
        };
        let known = ask("kim").await.expect("answered before the mail went out");
        let unknown = ask("nobody").await.expect("answered");
        assert_eq!(known.status(), StatusCode::OK);
        assert_eq!(unknown.status(), StatusCode::OK);
        assert_eq!(
            known.text().await.unwrap().replace("kim", "X"),
            unknown.text().await.unwrap().replace("nobody", "X"),
        );
    }
}

/// Password sign-up: the standard form, the same verification before the account exists.
mod password {
    use super::refusals::details;
    use super::*;
    use crate::helpers::{Options, email_config, spawn_app_with};
    use crate::oidc::{absolute, create_kim, location};

    /// The base configuration (passwords) with sign-up enabled and an email authenticator.
    async fn password_app(sink: &MailSink) -> TestApp {
        let app = spawn_app_with(Options {
            localhost: true,
            ..Options::default()
        })
        .await;
        create_kim(&app).await;
        // Sign-up enabled on the password form's account manager.
        let config = email_config(
            sink.smtp_port,
            r#"<processing xmlns="https://curity.se/ns/conf/base"><account-managers><account-manager>
    <id>default-account-manager</id><enable-registration/>
  </account-manager></account-managers></processing>"#,
        );
        app.config
            .edit_and_commit(config, tessera_admin::config::UploadMode::Merge, "test")
            .await
            .unwrap();
        app
    }

    #[tokio::test]
    async fn a_password_sign_up_creates_the_account_only_after_the_address_is_verified() {
        let sink = MailSink::start();
        let app = password_app(&sink).await;
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        assert!(html.contains("Create an account"), "{html}");
        let (flow, csrf) = (field(&html, "flow"), field(&html, "csrf"));
        let form = http
            .get(format!("{}/login/signup?flow={flow}", app.issuer))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(form.contains("Repeat the password"), "{form}");
        let post = |password: &'static str, again: &'static str| {
            let mut form = details(&flow, &csrf, "robin", "robin@example.com");
            form.push(("password", password));
            form.push(("password_again", again));
            http.post(format!("{}/login/signup", app.issuer))
                .form(&form)
                .send()
        };
        for (password, again, says) in [
            ("", "", "Choose a password"),
            ("Robin-Password-1", "Robin-Password-2", "differ"),
            ("short", "short", "at least 8"),
        ] {
            let res = post(password, again).await.unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{says}");
            let page = res.text().await.unwrap();
            assert!(page.contains(says), "{says}: {page}");
            assert!(
                !page.contains("Robin-Password"),
                "a password is never echoed"
            );
        }
        let sent = post("Robin-Password-1", "Robin-Password-1").await.unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
        let page = sent.text().await.unwrap();
        assert!(
            !page.contains("Robin-Password-1"),
            "not even in hidden fields"
        );
        // "Send a new code" carries no password: it asks for it rather than turning into
        // another kind of sign-up.
        let mut resend = details(&flow, &csrf, "robin", "robin@example.com");
        resend.push(("kind", "password"));
        let res = http
            .post(format!("{}/login/signup", app.issuer))
            .form(&resend)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Enter your password again")
        );
        let code = crate::passkey_browser::passkeys_only::code_in(
            &sink.wait_for("robin@example.com", 1).await,
        );
        assert!(
            account(&app, "robin").is_none(),
            "no account before the address"
        );
        let mut typed = details(&flow, &csrf, "robin", "robin@example.com");
        typed.push(("code", &code));
        let verified = http
            .post(format!("{}/login/signup/code", app.issuer))
            .form(&typed)
            .send()
            .await
            .unwrap();
        assert_eq!(verified.status(), StatusCode::SEE_OTHER);
        let robin = account(&app, "robin").expect("the account exists now");
        assert_eq!(robin.attributes["given_name"], "Robin");
        let back = http
            .get(absolute(&app, &location(&verified)))
            .send()
            .await
            .unwrap();
        let code = crate::oidc::query_of(&location(&back))["code"].clone();
        let claims = id_token_claims(&app, &code).await;
        assert_eq!(claims["amr"], serde_json::json!(["otp"]));

        // And the password works from now on.
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let signed_in = http
            .post(format!("{}/login", app.issuer))
            .form(&[
                ("flow", field(&html, "flow")),
                ("csrf", field(&html, "csrf")),
                ("username", "robin".into()),
                ("password", "Robin-Password-1".into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    }
}

/// Development: no email provider configured, mail goes to the drop folder.
mod mail_drop {
    use super::*;
    use crate::helpers::{Options, spawn_app_with};
    use crate::oidc::create_kim;

    #[tokio::test]
    async fn a_development_server_with_a_drop_folder_writes_mail_there_instead_of_sending_it() {
        let folder = tempfile_dir();
        let app = spawn_app_with(Options {
            localhost: true,
            env: vec![
                ("TESSERA_SERVER_DEVELOPMENT", "true".into()),
                ("TESSERA_MAIL_DROP_FOLDER", folder.display().to_string()),
            ],
            ..Options::default()
        })
        .await;
        create_kim(&app).await;
        // upgrade-authentication.xml as shipped: its SMTP server (port 1025) is not running.
        let upgrade = include_str!("../../../../config/upgrade-authentication.xml");
        app.config
            .edit_and_commit(
                upgrade.as_bytes().to_vec(),
                tessera_admin::config::UploadMode::Merge,
                "test",
            )
            .await
            .unwrap();
        let (http, html) = open_login_page(&app, &authorize_url(&app)).await;
        let sent = http
            .post(format!("{}/login/passkey/create", app.issuer))
            .form(&[
                ("flow", field(&html, "flow")),
                ("csrf", field(&html, "csrf")),
                ("username", "kim".into()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
        let dropped: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(dropped.len(), 1, "{dropped:?}");
        let eml = std::fs::read_to_string(&dropped[0]).unwrap();
        assert!(eml.contains("To: kim@example.com"), "{eml}");
        assert!(eml.contains("sign-in code"), "{eml}");
        let _ = std::fs::remove_dir_all(&folder);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("tessera-mail-drop-{}", uuid::Uuid::new_v4()))
    }
}
