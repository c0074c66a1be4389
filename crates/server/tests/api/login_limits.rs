//! Password attempt limits on the sign-in page: counted per username and per client address in
//! PostgreSQL, the same refusal for unknown and known usernames, and reset by a success.

use reqwest::StatusCode;

use crate::helpers::{Options, TestApp, spawn_app_with};
use crate::oidc::{absolute, browser, create_kim, field, location};

const AUTHORIZE: &str = "/oauth/authorize?client_id=demo-web-client&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

async fn limited_app(per_username: u32, per_address: u32) -> TestApp {
    let app = spawn_app_with(Options {
        env: vec![
            (
                "TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_USERNAME",
                per_username.to_string(),
            ),
            (
                "TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_ADDRESS",
                per_address.to_string(),
            ),
        ],
        ..Options::default()
    })
    .await;
    create_kim(&app).await;
    app
}

/// A browser on the sign-in page of a fresh flow: posts (username, password) to it.
struct LoginPage {
    browser: reqwest::Client,
    flow: String,
    csrf: String,
    url: String,
}

impl LoginPage {
    async fn open(app: &TestApp) -> Self {
        Self::open_in(app, browser()).await
    }

    /// A fresh sign-in page in `browser` (which keeps its cookies; `prompt=login`, so that its
    /// SSO session does not answer instead).
    async fn open_in(app: &TestApp, browser: reqwest::Client) -> Self {
        let res = browser
            .get(format!("{}{AUTHORIZE}&prompt=login", app.issuer))
            .send()
            .await
            .unwrap();
        let page = browser
            .get(absolute(app, &location(&res)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        LoginPage {
            browser,
            flow: field(&page, "flow"),
            csrf: field(&page, "csrf"),
            url: format!("{}/login", app.issuer),
        }
    }

    async fn post(&self, username: &str, password: &str) -> (StatusCode, Option<String>, String) {
        self.post_from(username, password, None).await
    }

    /// As [`Self::post`], through a trusted proxy that says the client is `client`.
    async fn post_from(
        &self,
        username: &str,
        password: &str,
        client: Option<&str>,
    ) -> (StatusCode, Option<String>, String) {
        let mut request = self.browser.post(&self.url);
        if let Some(client) = client {
            request = request.header("X-Forwarded-For", client);
        }
        let res = request
            .form(&[
                ("flow", self.flow.as_str()),
                ("csrf", self.csrf.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let retry_after = res
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (res.status(), retry_after, res.text().await.unwrap())
    }
}

#[tokio::test]
async fn a_username_is_locked_after_its_limit_for_known_and_unknown_accounts_alike() {
    let app = limited_app(3, 100).await;
    let page = LoginPage::open(&app).await;
    for username in ["kim", "nobody"] {
        for attempt in 1..=3 {
            let (status, _, _) = page.post(username, "wrong-password").await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{username} attempt {attempt}"
            );
        }
        let (status, retry_after, html) = page.post(username, "wrong-password").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{username}");
        let seconds: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=900).contains(&seconds), "{seconds}");
        assert!(html.contains("Too many sign-in attempts"), "{html}");
        assert!(html.contains("<label for=\"password\">Password</label>"));
    }
    // Locked means locked: the right password is not even checked now.
    let (status, _, _) = page.post("Kim", "Password1").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another username from the same address is unaffected.
    let (status, _, _) = page.post("dana", "wrong-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_failures_of_its_username() {
    let app = limited_app(3, 100).await;
    let page = LoginPage::open(&app).await;
    for _ in 0..2 {
        assert_eq!(page.post("kim", "nope").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(page.post("kim", "Password1").await.0, StatusCode::SEE_OTHER);
    let again = LoginPage::open(&app).await;
    for attempt in 1..=3 {
        assert_eq!(
            again.post("kim", "nope").await.0,
            StatusCode::UNAUTHORIZED,
            "attempt {attempt} after the success"
        );
    }
}

#[tokio::test]
async fn one_address_spraying_many_usernames_is_stopped() {
    let app = limited_app(10, 4).await;
    let page = LoginPage::open(&app).await;
    for user in ["a", "b", "c", "d"] {
        assert_eq!(page.post(user, "guess").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        page.post("e", "guess").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn repeated_attempts_at_a_username_slow_down_before_the_limit_for_unknown_ones_too() {
    let app = limited_app(10, 100).await;
    let page = LoginPage::open(&app).await;
    for username in ["kim", "nobody"] {
        for _ in 0..4 {
            assert_eq!(
                page.post(username, "wrong").await.0,
                StatusCode::UNAUTHORIZED
            );
        }
        // The fifth attempt in the window waits at least half a second before its answer.
        let started = std::time::Instant::now();
        assert_eq!(
            page.post(username, "wrong").await.0,
            StatusCode::UNAUTHORIZED
        );
        let waited = started.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(450),
            "{username}: {waited:?}"
        );
    }
}

/// An app behind a trusted proxy (the tests' loopback address), with kim.
async fn proxied_app(per_username: u32) -> TestApp {
    let app = spawn_app_with(Options {
        env: vec![
            (
                "TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_USERNAME",
                per_username.to_string(),
            ),
            ("TESSERA_SERVER_TRUSTED_PROXIES", "127.0.0.1".into()),
        ],
        ..Options::default()
    })
    .await;
    create_kim(&app).await;
    app
}

#[tokio::test]
async fn an_attacker_elsewhere_cannot_lock_the_owner_out() {
    let app = proxied_app(3).await;
    let attacker = LoginPage::open(&app).await;
    for _ in 0..3 {
        let (status, _, _) = attacker
            .post_from("kim", "guess", Some("203.0.113.66"))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = attacker
        .post_from("kim", "guess", Some("203.0.113.66"))
        .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the attacker's address is stopped"
    );
    // Kim, at home, is neither refused nor slowed by it.
    let kim = LoginPage::open(&app).await;
    let (status, _, _) = kim
        .post_from("kim", "Password1", Some("198.51.100.7"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn guesses_from_many_addresses_are_bounded_per_account_except_on_the_owners_browser() {
    let app = proxied_app(10).await;
    // Kim signs in once with her browser: it becomes a known device.
    let kims_browser = LoginPage::open(&app).await;
    let (status, _, _) = kims_browser
        .post_from("kim", "Password1", Some("198.51.100.7"))
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // A botnet: one guess from each of many addresses, up to the account's bound.
    let botnet = LoginPage::open(&app).await;
    let bound = tessera_authn::limits::PASSWORD_ATTEMPTS_PER_ACCOUNT;
    for i in 0..bound {
        let address = format!("203.0.{}.{}", i / 250, i % 250 + 1);
        let (status, _, _) = botnet.post_from("kim", "guess", Some(&address)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let (status, _, _) = botnet.post_from("kim", "guess", Some("203.0.99.1")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the account's bound");
    // A browser kim never used is refused too (it could be the botnet's)…
    let stranger = LoginPage::open(&app).await;
    let (status, _, _) = stranger
        .post_from("kim", "Password1", Some("198.51.100.8"))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // …but her own browser still signs her in.
    let again = LoginPage::open_in(&app, kims_browser.browser.clone()).await;
    let (status, _, _) = again
        .post_from("kim", "Password1", Some("198.51.100.7"))
        .await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the known device is not locked out"
    );
}
