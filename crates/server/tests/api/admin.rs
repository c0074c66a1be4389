//! The admin API: staged uploads, diff, commit, rollback, RESTCONF, and what bad files get.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tessera_admin::config::model::AuthenticatorKind;

use crate::helpers::{Options, TestApp, serve_process, spawn_app_with, tessera};

pub const ADMIN_TOKEN: &str = "test-admin-token-5f0c8e1d9a7b4c3e";
const UPGRADE: &str = include_str!("../../../../config/upgrade-authentication.xml");

pub fn token_sha256() -> String {
    let digest = openssl::hash::hash(
        openssl::hash::MessageDigest::sha256(),
        ADMIN_TOKEN.as_bytes(),
    )
    .unwrap();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn spawn_admin_app() -> TestApp {
    spawn_app_with(Options {
        env: vec![("TESSERA_ADMIN_TOKEN_SHA256", token_sha256())],
        ..Options::default()
    })
    .await
}

impl TestApp {
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/admin/api{path}", self.origin))
            .bearer_auth(ADMIN_TOKEN)
    }

    pub async fn upload(&self, mode: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.admin(reqwest::Method::POST, &format!("/candidate?mode={mode}"))
            .header("Content-Type", "application/xml")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn commit(&self, comment: &str) -> reqwest::Response {
        self.admin(reqwest::Method::POST, "/commit")
            .json(&serde_json::json!({ "comment": comment }))
            .send()
            .await
            .unwrap()
    }

    pub async fn export(&self) -> String {
        self.admin(reqwest::Method::GET, "/export")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    fn version(&self) -> i32 {
        self.config.active().version()
    }
}

fn clients(body: &str) -> String {
    format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed>{body}</config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    )
}

#[tokio::test]
async fn the_admin_api_refuses_requests_without_valid_credentials() {
    let app = spawn_admin_app().await;
    let anonymous = app
        .client
        .get(format!("{}/admin/api/versions", app.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    // No Basic challenge: a browser would prompt, then send the password cross-site for ever.
    assert_eq!(
        anonymous.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"tessera-admin\""
    );
    let wrong = app
        .client
        .get(format!("{}/admin/api/versions", app.origin))
        .bearer_auth("not-the-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
}

#[tokio::test]
async fn basic_credentials_check_the_argon2_hash_from_the_settings() {
    let hash = tessera_admin::http::hash_password("correct horse battery").unwrap();
    let app = spawn_app_with(Options {
        env: vec![("TESSERA_ADMIN_PASSWORD_HASH", hash)],
        ..Options::default()
    })
    .await;
    let url = format!("{}/admin/api/versions", app.origin);
    let ok = app
        .client
        .get(&url)
        .basic_auth("admin", Some("correct horse battery"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let versions: Value = ok.json().await.unwrap();
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["author"], "system");
    for (user, password) in [("admin", "wrong"), ("root", "correct horse battery")] {
        let res = app
            .client
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{user}");
    }
}

#[tokio::test]
async fn upload_merge_then_commit_switches_every_frontend_client_to_passkeys() {
    let app = spawn_admin_app().await;
    assert_eq!(app.version(), 1);
    let staged = app.upload("merge", UPGRADE).await;
    assert_eq!(staged.status(), StatusCode::OK);
    let view: Value = staged.json().await.unwrap();
    assert_eq!(view["base_version"], 1);
    assert_eq!(view["problems"], serde_json::json!([]));
    let changes = view["changes"].as_array().unwrap();
    assert!(changes.iter().any(|c| {
        c["path"]
            .as_str()
            .unwrap()
            .ends_with("client[demo-web-client]/user-authentication/allowed-authenticators")
            && c["new"] == "passkeys"
    }));
    // Staging changes nothing live.
    assert_eq!(app.version(), 1);

    let diff: Value = app
        .admin(reqwest::Method::GET, "/candidate")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(diff["changes"], view["changes"]);

    let committed = app.commit("seed 000: passwordless").await;
    assert_eq!(committed.status(), StatusCode::OK);
    let outcome: Value = committed.json().await.unwrap();
    assert_eq!(outcome["version"], 2);
    let active = app.config.active().load();
    assert_eq!(active.version, 2);
    assert_eq!(
        active
            .client("demo-mobile-client")
            .unwrap()
            .allowed_authenticators,
        ["passkeys"]
    );
    assert!(matches!(
        active.config.authenticator("passkeys").unwrap().kind,
        AuthenticatorKind::Passkeys(_)
    ));
    // The candidate is gone once committed.
    let none = app
        .admin(reqwest::Method::GET, "/candidate")
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);

    let versions: Value = app
        .admin(reqwest::Method::GET, "/versions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions[0]["comment"], "seed 000: passwordless");
    assert_eq!(versions[0]["author"], "admin (token)");
    assert!(!versions[0]["diff"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn each_class_of_bad_file_gets_a_precise_4xx_and_changes_nothing() {
    let app = spawn_admin_app().await;
    // A good candidate is staged first: bad uploads must not replace it.
    assert_eq!(app.upload("merge", UPGRADE).await.status(), StatusCode::OK);
    let candidate_before: Value = app
        .admin(reqwest::Method::GET, "/candidate")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let export_before = app.export().await;

    let mut big = String::from("<config xmlns=\"http://tail-f.com/ns/config/1.0\"><!--");
    big.push_str(&"x".repeat(1024 * 1024));
    big.push_str("--></config>");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("malformed", b"<config xmlns=\"http://tail-f.com/ns/config/1.0\"><profiles>".to_vec(), StatusCode::BAD_REQUEST, "invalid_configuration"),
        ("unknown element", clients("<client><id>x</id><colour>blue</colour></client>").into_bytes(), StatusCode::BAD_REQUEST, "invalid_configuration"),
        ("duplicate id", clients("<client><id>a</id></client><client><id>a</id></client>").into_bytes(), StatusCode::BAD_REQUEST, "invalid_configuration"),
        ("dtd", b"<!DOCTYPE config [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><config xmlns=\"http://tail-f.com/ns/config/1.0\">&x;</config>".to_vec(), StatusCode::BAD_REQUEST, "invalid_configuration"),
        ("too large", big.into_bytes(), StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        ("not utf-8", b"<config xmlns=\"http://tail-f.com/ns/config/1.0\">\xfe\xff</config>".to_vec(), StatusCode::BAD_REQUEST, "invalid_request"),
        ("short secret", clients("<client><id>demo-api-client</id><secret>too-short</secret></client>").into_bytes(), StatusCode::BAD_REQUEST, "invalid_configuration"),
    ];
    for (name, body, status, error) in cases {
        let res = app.upload("merge", body).await;
        assert_eq!(res.status(), status, "{name}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{name}: {body}");
        if error == "invalid_configuration" {
            let problem = &body["problems"][0];
            assert!(
                problem["path"].is_string() && problem["message"].is_string(),
                "{name}: {body}"
            );
        }
    }
    let unknown = app
        .upload(
            "merge",
            clients("<client><id>x</id><colour>blue</colour></client>"),
        )
        .await;
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["problems"][0]["line"], 1);
    assert!(
        body["problems"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("/client/colour"),
        "{body}"
    );

    let wrong_type = app
        .admin(reqwest::Method::POST, "/candidate?mode=merge")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let candidate_after: Value = app
        .admin(reqwest::Method::GET, "/candidate")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(candidate_after["changes"], candidate_before["changes"]);
    assert_eq!(app.export().await, export_before);
    assert_eq!(app.version(), 1);
}

#[tokio::test]
async fn a_candidate_with_dangling_references_or_bad_redirect_uris_cannot_be_committed() {
    let app = spawn_admin_app().await;
    for (body, expected) in [
        (
            clients(
                "<client><id>demo-web-client</id><user-authentication><allowed-authenticators>ghost</allowed-authenticators></user-authentication></client>",
            ),
            "\"ghost\", which is not defined",
        ),
        (
            clients(
                "<client><id>demo-web-client</id><redirect-uris>http://evil.example/cb</redirect-uris></client>",
            ),
            "http is only allowed for loopback",
        ),
    ] {
        let staged: Value = app.upload("merge", body).await.json().await.unwrap();
        assert!(
            staged["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{staged}"
        );
        let res = app.commit("should fail").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let body: Value = res.json().await.unwrap();
        assert!(
            body["problems"][0]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{body}"
        );
        assert_eq!(
            app.version(),
            1,
            "an invalid candidate touched the active configuration"
        );
        // A further merge would go onto this candidate: start the next case afresh.
        let discarded = app
            .admin(reqwest::Method::DELETE, "/candidate")
            .send()
            .await
            .unwrap();
        assert!(discarded.status().is_success());
    }
}

#[tokio::test]
async fn committing_a_candidate_based_on_an_older_version_is_a_conflict() {
    let app = spawn_admin_app().await;
    assert_eq!(app.upload("merge", UPGRADE).await.status(), StatusCode::OK);
    // Meanwhile someone commits through RESTCONF.
    let patch = app
        .admin(reqwest::Method::PATCH, "/restconf/data")
        .header("Content-Type", "application/yang-data+xml")
        .body(r#"<data xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>demo-web-client</id><client-name>Renamed</client-name></client></config-backed></client-store></authorization-server></settings></profile></profiles></data>"#)
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.version(), 2);
    let res = app.commit("stale").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "conflict");
    assert_eq!(app.version(), 2);
}

#[tokio::test]
async fn rollback_commits_an_old_version_as_a_new_one() {
    let app = spawn_admin_app().await;
    let v1 = app.export().await;
    app.upload("merge", UPGRADE).await;
    assert_eq!(app.commit("upgrade").await.status(), StatusCode::OK);
    let res = app
        .admin(reqwest::Method::POST, "/rollback/1")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let outcome: Value = res.json().await.unwrap();
    assert_eq!(outcome["version"], 3);
    assert_eq!(app.export().await, v1);
    let versions: Value = app
        .admin(reqwest::Method::GET, "/versions")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions[0]["comment"], "rollback to version 1");
    let missing = app
        .admin(reqwest::Method::POST, "/rollback/99")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn restconf_put_of_an_exported_configuration_round_trips() {
    let app = spawn_admin_app().await;
    app.upload("merge", UPGRADE).await;
    app.commit("upgrade").await;
    let data = app
        .admin(reqwest::Method::GET, "/restconf/data")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(data.starts_with("<data xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">"));
    assert!(!data.contains("Password1") && !data.contains("Demo-BFF-Secret"));
    let before = app.config.active().load().config.clone();
    let put = app
        .admin(reqwest::Method::PUT, "/restconf/data")
        .header("Content-Type", "application/yang-data+xml")
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.version(), 3);
    assert_eq!(app.config.active().load().config, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_through_one_instance_is_served_by_another_within_a_second() {
    let db = tessera_testkit::TestDatabase::new();
    let kek = tessera_oauth_core::keys::KeyEncryptionKey::generate_base64().unwrap();
    let start = |db: &str, kek: &str| {
        let mut cmd = tessera(db, kek);
        cmd.env("TESSERA_ADMIN_TOKEN_SHA256", token_sha256());
        cmd
    };
    let (a, _) = serve_process(start(db.url(), &kek)).await;
    let (b, _) = serve_process(start(db.url(), &kek)).await;
    let client = reqwest::Client::new();
    let version_of = |port: u16| {
        let client = client.clone();
        async move {
            client
                .get(format!("http://127.0.0.1:{port}/admin/api/export"))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .headers()["x-config-version"]
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(version_of(b.port).await, "1");
    let patch = client
        .patch(format!(
            "http://127.0.0.1:{}/admin/api/restconf/data",
            a.port
        ))
        .bearer_auth(ADMIN_TOKEN)
        .header("Content-Type", "application/yang-data+xml")
        .body(
            UPGRADE
                .replace(
                    "<config xmlns=\"http://tail-f.com/ns/config/1.0\">",
                    "<data xmlns=\"urn:ietf:params:xml:ns:yang:ietf-restconf\">",
                )
                .replace("</config>", "</data>"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), StatusCode::NO_CONTENT);
    let committed = Instant::now();
    while version_of(b.port).await != "2" {
        assert!(
            committed.elapsed() < Duration::from_secs(1),
            "the other instance did not switch within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("second instance switched after {:?}", committed.elapsed());
}

#[tokio::test]
async fn cross_site_and_simple_requests_cannot_change_the_configuration() {
    let hash = tessera_admin::http::hash_password("correct horse battery").unwrap();
    let app = spawn_app_with(Options {
        env: vec![("TESSERA_ADMIN_PASSWORD_HASH", hash)],
        ..Options::default()
    })
    .await;
    let v1 = app.config.active().version();
    let post = |path: &str| {
        app.client
            .post(format!("{}/admin/api{path}", app.origin))
            .basic_auth("admin", Some("correct horse battery"))
    };
    // What a page on another site makes a browser send, cached Basic credentials included.
    for (name, request) in [
        (
            "Sec-Fetch-Site",
            post("/rollback/1")
                .header("Sec-Fetch-Site", "cross-site")
                .json(&serde_json::json!({})),
        ),
        (
            "Sec-Fetch-Site same-site",
            post("/commit")
                .header("Sec-Fetch-Site", "same-site")
                .json(&serde_json::json!({})),
        ),
        (
            "Origin",
            post("/rollback/1")
                .header("Origin", "https://evil.example")
                .json(&serde_json::json!({})),
        ),
    ] {
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{name}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "cross_site_request", "{name}");
    }
    // A simple request (an HTML form's or no-cors fetch's content type) is refused too.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let res = post("/rollback/1")
            .header("Content-Type", content_type)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type}"
        );
    }
    let res = post("/rollback/1").send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "no content type"
    );
    assert_eq!(app.config.active().version(), v1, "nothing was committed");

    // Wrong Basic credentials get the Basic challenge (the client chose Basic).
    let wrong = app
        .client
        .get(format!("{}/admin/api/versions", app.origin))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    // The same-origin and CLI shapes still work.
    let res = post("/rollback/1")
        .header("Sec-Fetch-Site", "same-origin")
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn admin_password_guesses_from_one_address_are_refused_after_ten() {
    let app = spawn_app_with(Options {
        env: vec![("TESSERA_SERVER_DEVELOPMENT", "true".into())],
        ..Options::default()
    })
    .await;
    let versions = |password: &'static str| {
        app.client
            .get(format!("{}/admin/api/versions", app.origin))
            .basic_auth("admin", Some(password))
            .send()
    };
    for guess in 1..=10 {
        let res = versions("wrong").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "guess {guess}");
    }
    let refused = versions("wrong").await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    // Not even the right password is checked from this address until the window ends.
    assert_eq!(
        versions("admin").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // The admin page counts in the same buckets.
    let page = admin_page_sign_in(&app).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Too many sign-in attempts")
    );
}

/// Posts the development credentials to the admin sign-in page from a fresh client.
async fn admin_page_sign_in(app: &TestApp) -> reqwest::Response {
    let browser = crate::oidc::browser();
    let form = browser
        .get(format!("{}/admin/login", app.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .post(format!("{}/admin/login", app.origin))
        .form(&[
            ("username", "admin"),
            ("password", "admin"),
            ("csrf", crate::oidc::field(&form, "csrf").as_str()),
        ])
        .send()
        .await
        .unwrap()
}

/// Signs in on the admin page (development credentials) with a fresh client; returns the
/// session cookie as a `Cookie` header value.
async fn admin_page_session(app: &TestApp) -> String {
    let signed_in = admin_page_sign_in(app).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|v| v.starts_with("tessera_admin=") && !v.starts_with("tessera_admin=;"))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned()
}

/// The admin page with `cookie`: its status and, when signed in, the forms' CSRF token.
async fn admin_page(app: &TestApp, cookie: &str) -> (StatusCode, Option<String>) {
    let res = app
        .client
        .get(format!("{}/admin", app.origin))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let page = res.text().await.unwrap();
    (
        status,
        page.contains("name=\"csrf\"")
            .then(|| crate::oidc::field(&page, "csrf")),
    )
}

async fn sign_out(app: &TestApp, cookie: &str, csrf: &str, everywhere: bool) -> StatusCode {
    let mut form = vec![("csrf", csrf)];
    if everywhere {
        form.push(("everywhere", "yes"));
    }
    app.client
        .post(format!("{}/admin/logout", app.origin))
        .header("Cookie", cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn signing_out_ends_the_admin_session_on_the_server_and_everywhere_ends_them_all() {
    let app = spawn_app_with(Options {
        env: vec![("TESSERA_SERVER_DEVELOPMENT", "true".into())],
        ..Options::default()
    })
    .await;
    // A copy of the cookie (stolen, or kept by another tab) dies with the sign-out.
    let cookie = admin_page_session(&app).await;
    let (status, csrf) = admin_page(&app, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sign_out(&app, &cookie, &csrf.unwrap(), false).await,
        StatusCode::SEE_OTHER
    );
    let (status, _) = admin_page(&app, &cookie).await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the copied cookie must no longer work"
    );

    // Two browsers; "Sign out everywhere" from one ends the other too.
    let laptop = admin_page_session(&app).await;
    let phone = admin_page_session(&app).await;
    let (_, csrf) = admin_page(&app, &laptop).await;
    assert_eq!(admin_page(&app, &phone).await.0, StatusCode::OK);
    assert_eq!(
        sign_out(&app, &laptop, &csrf.unwrap(), true).await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(admin_page(&app, &phone).await.0, StatusCode::SEE_OTHER);
    assert_eq!(admin_page(&app, &laptop).await.0, StatusCode::SEE_OTHER);
}
