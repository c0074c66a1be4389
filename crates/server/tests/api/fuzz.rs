//! The whole server under random and near-valid requests: token requests (client assertions
//! included), authorization requests, sign-in and passkey posts with real and forged flows,
//! CSRF tokens and cookies, logouts with forged hints. Every answer must be a 2xx, 3xx or 4xx:
//! never a 5xx (`cargo xtask fuzz` runs it longer).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_admin::config::UploadMode;
use tessera_testkit::fuzz::{self, proptest::prelude::*};

use crate::helpers::TestApp;
use crate::oidc::{field, open_login_page};
use crate::passkey_browser::{authorize_url, localhost_app_with_kim};

const MIGRATE: &str = include_str!("../../../../config/migrate-to-passkeys.xml");

/// One request the fuzzer sends.
#[derive(Debug, Clone)]
enum Probe {
    Token(Vec<(String, String)>),
    Authorize(Vec<(String, String)>),
    /// A password post: the real flow or not, the real CSRF token or not.
    Login {
        real_flow: bool,
        real_csrf: bool,
        fields: Vec<(String, String)>,
    },
    /// A passkey answer on the real flow with a garbled credential.
    Passkey(String),
    Logout(Vec<(String, String)>),
    /// A page fetched with an invented cookie header.
    Cookies {
        path: &'static str,
        cookie: String,
    },
}

fn size(probe: &Probe) -> usize {
    let pairs = |p: &Vec<(String, String)>| p.iter().map(|(a, b)| a.len() + b.len()).sum();
    match probe {
        Probe::Token(p) | Probe::Authorize(p) | Probe::Logout(p) => pairs(p),
        Probe::Login { fields, .. } => pairs(fields),
        Probe::Passkey(s) => s.len(),
        Probe::Cookies { cookie, .. } => cookie.len(),
    }
}

/// A compact JWS whose header and payload are JSON objects of random claims.
fn jwt_like() -> impl Strategy<Value = String> {
    let claims = prop::collection::btree_map(
        prop::sample::select(vec![
            "alg", "kid", "typ", "iss", "sub", "aud", "exp", "jti", "sid",
        ]),
        prop_oneof![
            Just(serde_json::json!("ES256")),
            Just(serde_json::json!("none")),
            Just(serde_json::json!(["a", 1])),
            any::<i64>().prop_map(serde_json::Value::from),
            ".{0,24}".prop_map(serde_json::Value::from),
        ],
        0..6,
    );
    (
        claims.clone(),
        claims,
        prop::collection::vec(any::<u8>(), 0..80),
    )
        .prop_map(|(header, payload, signature)| {
            let part = |m: std::collections::BTreeMap<&str, serde_json::Value>| {
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&m).unwrap())
            };
            format!(
                "{}.{}.{}",
                part(header),
                part(payload),
                URL_SAFE_NO_PAD.encode(signature)
            )
        })
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "demo-web-client",
            "demo-api-client",
            "Demo-API-Secret-0123456789-abcdefghijk",
            "kim",
            "Password1",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "openid profile",
            "code",
            "http://localhost:3000/callback",
            "S256",
            "none",
            "passkey",
            "",
        ])
        .prop_map(str::to_owned),
        jwt_like(),
        ".{0,48}",
    ]
}

fn pairs(names: Vec<&'static str>) -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => prop::sample::select(names).prop_map(str::to_owned),
        1 => "[a-z_]{0,10}",
    ];
    prop::collection::vec((name, value()), 0..12)
}

fn probes() -> impl Strategy<Value = Probe> {
    prop_oneof![
        pairs(vec![
            "grant_type", "client_id", "client_secret", "code", "redirect_uri", "code_verifier",
            "refresh_token", "scope", "client_assertion_type", "client_assertion",
        ])
        .prop_map(Probe::Token),
        pairs(vec![
            "client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge",
            "code_challenge_method", "prompt", "max_age", "response_mode",
        ])
        .prop_map(Probe::Authorize),
        (any::<bool>(), any::<bool>(), pairs(vec!["username", "password", "enrol"])).prop_map(
            |(real_flow, real_csrf, fields)| Probe::Login {
                real_flow,
                real_csrf,
                fields,
            }
        ),
        prop_oneof![
            ".{0,200}",
            Just(r#"{"id":"x","rawId":"x","type":"public-key","response":{}}"#.to_owned()),
            "\\{\"id\":\"[A-Za-z0-9_-]{0,40}\",\"response\":\\{\"clientDataJSON\":\"[A-Za-z0-9_-]{0,80}\",\"authenticatorData\":\"[A-Za-z0-9_-]{0,80}\",\"signature\":\"[A-Za-z0-9_-]{0,80}\"\\},\"type\":\"public-key\"\\}",
        ]
        .prop_map(Probe::Passkey),
        pairs(vec!["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "confirm", "csrf"])
            .prop_map(Probe::Logout),
        (
            prop::sample::select(vec!["/account", "/login", "/oauth/authorize?client_id=demo-web-client"]),
            "(tessera_[a-z_]{0,10}=[ -~]{0,64}; ?){0,4}",
        )
            .prop_map(|(path, cookie)| Probe::Cookies { path, cookie }),
    ]
}

/// A browser on a real sign-in page, with its flow and CSRF token.
struct SignInPage {
    browser: reqwest::Client,
    flow: String,
    csrf: String,
}

async fn send(app: &TestApp, page: &SignInPage, probe: &Probe) -> reqwest::StatusCode {
    let url = |path: &str| format!("{}{path}", app.issuer);
    let request = match probe {
        Probe::Token(form) => app.client.post(url("/oauth/token")).form(form),
        Probe::Authorize(query) => app.client.get(url("/oauth/authorize")).query(query),
        Probe::Login {
            real_flow,
            real_csrf,
            fields,
        } => {
            let mut form = fields.clone();
            if *real_flow {
                form.push(("flow".into(), page.flow.clone()));
            }
            if *real_csrf {
                form.push(("csrf".into(), page.csrf.clone()));
            }
            page.browser.post(url("/login")).form(&form)
        }
        Probe::Passkey(credential) => page.browser.post(url("/login/passkey")).form(&[
            ("flow", page.flow.as_str()),
            ("csrf", page.csrf.as_str()),
            ("ceremony", &uuid::Uuid::new_v4().to_string()),
            ("credential", credential),
        ]),
        Probe::Logout(form) => page.browser.post(url("/oauth/logout")).form(form),
        Probe::Cookies { path, cookie } => app.client.get(url(path)).header("Cookie", cookie),
    };
    request.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_no_request_gets_a_server_error() {
    let app = localhost_app_with_kim().await;
    app.config
        .edit_and_commit(MIGRATE.as_bytes().to_vec(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let (browser, html) = open_login_page(&app, &authorize_url(&app)).await;
    let page = SignInPage {
        browser,
        flow: field(&html, "flow"),
        csrf: field(&html, "csrf"),
    };
    let runtime = tokio::runtime::Handle::current();
    fuzz::run("HTTP requests", probes(), size, |probe| {
        let status = tokio::task::block_in_place(|| runtime.block_on(send(&app, &page, probe)));
        assert!(!status.is_server_error(), "{status} for {probe:?}");
    });
}
