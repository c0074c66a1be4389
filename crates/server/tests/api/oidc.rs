//! The authorization code flow end to end: the `openidconnect` crate as the relying party, a
//! cookie-keeping HTTP client as the browser, the password sign-in page in between.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use serde_json::Value;
use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails};

use crate::helpers::{TestApp, spawn_app};

const REDIRECT: &str = "http://localhost:3000/callback";

pub async fn create_kim(app: &TestApp) {
    accounts::create(
        &app.db.store(),
        &Passwords::new(1).unwrap(),
        AccountDetails {
            username: "kim".into(),
            email: Some("kim@example.com".into()),
            phone: None,
            given_name: Some("Kim".into()),
            family_name: Some("Anderson".into()),
        },
        Some("Password1".into()),
    )
    .await
    .unwrap();
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

pub fn absolute(app: &TestApp, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{}{location}", app.origin)
    }
}

pub fn field(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no field {name} in {html}"))
        .to_owned()
}

struct Rp {
    client: CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    http: openidconnect::reqwest::Client,
}

impl Rp {
    /// A code + PKCE authorization URL for the default scopes, and its verifier.
    fn authorize_url(&self) -> (String, openidconnect::PkceCodeVerifier) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, _) = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        (url.to_string(), verifier)
    }
}

async fn rp(app: &TestApp) -> Rp {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.issuer.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new("demo-web-client".into()), None)
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    Rp { client, http }
}

/// Runs the browser through authorize → (login) → resume; returns the final redirect.
pub async fn sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    authorize_url: &str,
    password: Option<&str>,
) -> reqwest::Response {
    let res = browser.get(authorize_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let mut next = location(&res);
    if !next.starts_with('/') && !next.starts_with(&app.origin) {
        return res; // answered from the SSO session, straight back to the client
    }
    assert!(next.contains("/login?flow="), "{next}");
    let page = browser.get(absolute(app, &next)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("<label for=\"username\">Username</label>"));
    assert!(html.contains("<label for=\"password\">Password</label>"));
    let posted = browser
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", field(&html, "flow")),
            ("csrf", field(&html, "csrf")),
            ("username", "kim".into()),
            ("password", password.unwrap_or("Password1").into()),
        ])
        .send()
        .await
        .unwrap();
    if posted.status() != StatusCode::SEE_OTHER {
        return posted;
    }
    next = location(&posted);
    assert!(next.contains("/oauth/authorize/resume?flow="), "{next}");
    browser.get(absolute(app, &next)).send().await.unwrap()
}

/// A new browser that followed `authorize_url` to the sign-in page; returns it and the page.
pub async fn open_login_page(app: &TestApp, authorize_url: &str) -> (reqwest::Client, String) {
    let browser = browser();
    let res = browser.get(authorize_url).send().await.unwrap();
    let page = browser
        .get(absolute(app, &location(&res)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (browser, page)
}

pub fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn a_public_client_signs_in_with_code_and_pkce_and_gets_verifiable_tokens_with_a_stable_subject()
 {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let mut subjects = Vec::new();
    for round in 0..2 {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = rp
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        // A fresh browser each round: two separate sign-ins of the same account.
        let done = sign_in(&app, &browser(), url.as_str(), None).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER, "round {round}");
        let back = location(&done);
        assert!(back.starts_with(REDIRECT), "{back}");
        let query = query_of(&back);
        assert_eq!(query["state"], *state.secret());
        assert_eq!(query["iss"], app.issuer);
        let tokens = rp
            .client
            .exchange_code(AuthorizationCode::new(query["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&rp.http)
            .await
            .expect("code exchange");
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&rp.client.id_token_verifier(), &nonce)
            .expect("valid ID token");
        assert_eq!(claims.subject().as_str().len(), 64);
        assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
        // The access token is an RFC 9068 JWT about the same subject.
        let access = tokens.access_token().secret();
        let payload: Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                access.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(payload["sub"], claims.subject().as_str());
        assert_eq!(payload["client_id"], "demo-web-client");
        // UserInfo, as the relying party library calls it.
        let info: openidconnect::core::CoreUserInfoClaims = rp
            .client
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&rp.http)
            .await
            .expect("userinfo");
        assert_eq!(info.subject(), claims.subject());
        assert_eq!(info.preferred_username().unwrap().as_str(), "kim");
        assert_eq!(
            info.given_name().unwrap().get(None).unwrap().as_str(),
            "Kim"
        );
        subjects.push(claims.subject().as_str().to_owned());
    }
    assert_eq!(
        subjects[0], subjects[1],
        "the subject must not change between sign-ins"
    );
}

#[tokio::test]
async fn the_sso_session_answers_a_second_request_and_prompt_none_without_one_gets_login_required()
{
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let browser = browser();
    let url = |prompt: Option<&str>| {
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let mut req = rp
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        if let Some(p) = prompt {
            req = req.add_extra_param("prompt", p);
        }
        req.url().0.to_string()
    };
    // Without a session, prompt=none comes straight back with login_required.
    let res = browser.get(url(Some("none"))).send().await.unwrap();
    let query = query_of(&location(&res));
    assert_eq!(query["error"], "login_required");
    assert_eq!(query["iss"], app.issuer);

    let first = sign_in(&app, &browser, &url(None), None).await;
    assert!(location(&first).starts_with(REDIRECT));
    // Now the session answers without any page, with or without prompt=none.
    for prompt in [None, Some("none")] {
        let res = browser.get(url(prompt)).send().await.unwrap();
        let back = location(&res);
        assert!(
            back.starts_with(REDIRECT) && back.contains("code="),
            "{back}"
        );
    }
    // prompt=login forces the page again.
    let res = browser.get(url(Some("login"))).send().await.unwrap();
    assert!(location(&res).contains("/login?flow="));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let (url, _) = rp.authorize_url();
    let wrong = sign_in(&app, &browser(), url.as_str(), Some("not-the-password")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_html = wrong.text().await.unwrap();
    assert!(wrong_html.contains("Wrong username or password."));

    // Unknown user: the same page (modulo the per-flow tokens).
    let (browser, page) = open_login_page(&app, url.as_str()).await;
    let unknown = browser
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", field(&page, "flow")),
            ("csrf", field(&page, "csrf")),
            ("username", "nobody".into()),
            ("password", "Password1".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let unknown_html = unknown.text().await.unwrap();
    let strip = |html: &str| html.split("<form").next().unwrap().to_owned();
    assert_eq!(strip(&wrong_html), strip(&unknown_html));
}

#[tokio::test]
async fn a_code_is_single_use_and_bound_to_its_verifier_and_redirect_uri() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let (url, verifier) = rp.authorize_url();
    let code = query_of(&location(
        &sign_in(&app, &browser(), url.as_str(), None).await,
    ))["code"]
        .clone();
    let token = |verifier: &str, redirect: &str| {
        app.client
            .post(format!("{}/oauth/token", app.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "demo-web-client"),
                ("code", code.as_str()),
                ("redirect_uri", redirect),
                ("code_verifier", verifier),
            ])
            .send()
    };
    // A wrong verifier burns the code (the attacker learns nothing, the code is gone).
    let wrong = token("x".repeat(43).as_str(), REDIRECT).await.unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    let reused = token(verifier.secret(), REDIRECT).await.unwrap();
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    let body: Value = reused.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_redemptions_of_one_code_yield_exactly_one_token() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let (url, verifier) = rp.authorize_url();
    let code = query_of(&location(
        &sign_in(&app, &browser(), url.as_str(), None).await,
    ))["code"]
        .clone();
    let attempts = (0..50).map(|_| {
        app.client
            .post(format!("{}/oauth/token", app.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "demo-web-client"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.secret().as_str()),
            ])
            .send()
    });
    let results = futures_util::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = results.into_iter().map(|r| r.unwrap().status()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST)
    );
}

#[tokio::test]
async fn a_passkeys_only_client_refuses_a_password_sign_in_whatever_the_browser_posts() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let (url, _) = rp.authorize_url();
    let browser = browser();
    let res = browser.get(url.as_str()).send().await.unwrap();
    let page = browser
        .get(absolute(&app, &location(&res)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The operator switches the client to passkeys only while the user is on the page.
    app.config
        .edit_and_commit(
            include_str!("../../../../config/upgrade-authentication.xml")
                .as_bytes()
                .to_vec(),
            tessera_admin::config::UploadMode::Merge,
            "test",
        )
        .await
        .unwrap();
    let posted = browser
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
    assert_eq!(posted.status(), StatusCode::FORBIDDEN);
    assert!(
        posted
            .text()
            .await
            .unwrap()
            .contains("does not allow signing in with a password")
    );
}

/// Signs kim in and redeems the code: (access token, refresh token).
pub(crate) async fn tokens_for_kim(app: &TestApp) -> (String, String, String) {
    let rp = rp(app).await;
    let (url, verifier) = rp.authorize_url();
    let code = query_of(&location(
        &sign_in(app, &browser(), url.as_str(), None).await,
    ))["code"]
        .clone();
    let tokens = rp
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp.http)
        .await
        .unwrap();
    (
        tokens.access_token().secret().clone(),
        tokens
            .refresh_token()
            .expect("a refresh token")
            .secret()
            .clone(),
        code,
    )
}

/// Kim signs in with the demo web client: the ID token's `sub`, the access and refresh tokens.
pub(crate) async fn id_subject_and_tokens_for_kim(app: &TestApp) -> (String, String, String) {
    let rp = rp(app).await;
    let (url, verifier) = rp.authorize_url();
    let redirect = location(&sign_in(app, &browser(), url.as_str(), None).await);
    let code = query_of(&redirect)["code"].clone();
    let tokens = rp
        .client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    // The nonce was checked by the authorize request's round trip; read the claims unverified
    // for their subject only.
    let claims = id_token
        .claims(
            &rp.client.id_token_verifier(),
            |_: Option<&openidconnect::Nonce>| Ok(()),
        )
        .unwrap();
    (
        claims.subject().to_string(),
        tokens.access_token().secret().clone(),
        tokens
            .refresh_token()
            .expect("a refresh token")
            .secret()
            .clone(),
    )
}

pub(crate) async fn refresh(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "demo-web-client"),
            ("refresh_token", token),
        ])
        .send()
        .await
        .unwrap();
    (res.status(), res.json().await.unwrap())
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reusing_a_rotated_one_revokes_the_family() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let (_, first, _) = tokens_for_kim(&app).await;
    let (status, body) = refresh(&app, &first).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(body["access_token"].is_string());
    // The rotated token is presented again: refused, and the family is revoked.
    let (status, body) = refresh(&app, &first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, _) = refresh(&app, &second).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the successor must die with its family"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_uses_of_one_refresh_token_succeed_once_and_revoke_the_family() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let (_, token, _) = tokens_for_kim(&app).await;
    let uses = (0..20).map(|_| refresh(&app, &token));
    let results = futures_util::future::join_all(uses).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    // The losers presented a rotated token: the winner's successor is revoked too.
    let successor = winners[0]["refresh_token"].as_str().unwrap();
    let (status, _) = refresh(&app, successor).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_replayed_code_revokes_the_tokens_of_its_first_redemption() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let (_, refresh_token, code) = tokens_for_kim(&app).await;
    let replay = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "demo-web-client"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "x".repeat(43).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let (status, _) = refresh(&app, &refresh_token).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the first redemption's refresh token must be revoked"
    );
}

#[tokio::test]
async fn userinfo_answers_rfc_6750_errors() {
    let app = spawn_app().await;
    let url = format!("{}/oauth/userinfo", app.issuer);
    let none = app.client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        none.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
    let garbage = app
        .client
        .get(&url)
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);
    assert!(
        garbage.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // A client-credentials token carries no openid scope.
    let cc: Value = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(
            "demo-api-client",
            Some("Demo-API-Secret-0123456789-abcdefghijk"),
        )
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = app
        .client
        .get(&url)
        .bearer_auth(cc["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
}

#[tokio::test]
async fn revocation_ends_a_refresh_family_and_introspection_reports_token_state() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let (access, refresh_token, _) = tokens_for_kim(&app).await;
    let introspect = |token: String| {
        app.client
            .post(format!("{}/oauth/introspect", app.issuer))
            .basic_auth(
                "demo-api-client",
                Some("Demo-API-Secret-0123456789-abcdefghijk"),
            )
            .form(&[("token", token)])
            .send()
    };
    let live: Value = introspect(access.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(live["active"], true);
    assert_eq!(live["client_id"], "demo-web-client");
    assert_eq!(live["sub"].as_str().unwrap().len(), 64);
    let garbage: Value = introspect("nonsense".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(garbage, serde_json::json!({ "active": false }));
    // Public clients cannot introspect.
    let public = app
        .client
        .post(format!("{}/oauth/introspect", app.issuer))
        .form(&[("token", access.as_str()), ("client_id", "demo-web-client")])
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::UNAUTHORIZED);

    let revoke = |token: String| {
        app.client
            .post(format!("{}/oauth/revoke", app.issuer))
            .form(&[("token", token), ("client_id", "demo-web-client".into())])
            .send()
    };
    assert_eq!(
        revoke(refresh_token.clone()).await.unwrap().status(),
        StatusCode::OK
    );
    let (status, _) = refresh(&app, &refresh_token).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a revoked refresh token still worked"
    );
    // Unknown tokens are fine (RFC 7009 §2.2); access tokens cannot be recalled.
    assert_eq!(
        revoke("unknown".into()).await.unwrap().status(),
        StatusCode::OK
    );
    let res = revoke(access).await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_token_type");
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_returns_to_a_registered_address() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let browser = browser();
    let authorize = |prompt: Option<&str>| {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = rp
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        if let Some(p) = prompt {
            req = req.add_extra_param("prompt", p);
        }
        (req.url().0.to_string(), verifier)
    };
    let (url, verifier) = authorize(None);
    let code = query_of(&location(&sign_in(&app, &browser, &url, None).await))["code"].clone();
    let tokens = rp
        .client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp.http)
        .await
        .unwrap();
    let id_token = tokens.id_token().unwrap().to_string();

    let logout = |redirect: &str| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("id_token_hint", &id_token);
        q.append_pair("post_logout_redirect_uri", redirect);
        q.append_pair("state", "bye");
        format!("{}/oauth/logout?{}", app.issuer, q.finish())
    };
    let refused = browser
        .get(logout("https://evil.example/"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // Still signed in: the refused request ended nothing.
    let (url, _) = authorize(Some("none"));
    assert!(location(&browser.get(&url).send().await.unwrap()).contains("code="));

    let done = browser
        .get(logout("http://localhost:3000/"))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "http://localhost:3000/?state=bye");
    let (url, _) = authorize(Some("none"));
    let after = query_of(&location(&browser.get(&url).send().await.unwrap()));
    assert_eq!(after["error"], "login_required");
}

#[tokio::test]
async fn a_logout_without_this_sessions_id_token_asks_the_user_and_needs_the_forms_csrf_token() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app).await;
    let browser = browser();
    let (url, _) = rp.authorize_url();
    sign_in(&app, &browser, &url, None).await;
    let signed_in = |browser: reqwest::Client| {
        let (url, _) = rp.authorize_url();
        let url = format!("{url}&prompt=none");
        async move { location(&browser.get(&url).send().await.unwrap()).contains("code=") }
    };
    assert!(signed_in(browser.clone()).await);

    // A bare GET (an image tag on any page could send it) only asks.
    let asked = browser
        .get(format!(
            "{}/oauth/logout?client_id=demo-web-client&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A3000%2F&state=s%22x",
            app.issuer
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    let page = asked.text().await.unwrap();
    assert!(page.contains("Sign out?"), "{page}");
    assert!(page.contains(r#"name="state" value="s&quot;x""#), "{page}");
    assert!(signed_in(browser.clone()).await, "nothing ended yet");

    // A forged confirmation without the token is asked again.
    let forged = browser
        .post(format!("{}/oauth/logout", app.issuer))
        .form(&[("confirm", "yes"), ("csrf", "00")])
        .send()
        .await
        .unwrap();
    assert!(forged.text().await.unwrap().contains("Sign out?"));
    assert!(
        signed_in(browser.clone()).await,
        "a forged confirmation ended nothing"
    );

    // The user's own confirmation signs out and goes back to the client.
    let confirmed = browser
        .post(format!("{}/oauth/logout", app.issuer))
        .form(&[
            ("csrf", field(&page, "csrf").as_str()),
            ("confirm", "yes"),
            ("client_id", "demo-web-client"),
            ("post_logout_redirect_uri", "http://localhost:3000/"),
            ("state", "s\"x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&confirmed), "http://localhost:3000/?state=s%22x");
    assert!(!signed_in(browser.clone()).await);
}
