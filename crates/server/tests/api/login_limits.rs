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
        let browser = browser();
        let res = browser
            .get(format!("{}{AUTHORIZE}", app.issuer))
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
        let res = self
            .browser
            .post(&self.url)
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
