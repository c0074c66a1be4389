//! A single-page app on another origin, in headless Chromium: the demo SPA
//! (`examples/demo-spa`, oidc-client-ts from npm) served on `127.0.0.1`, Tessera on
//! `localhost`. Every call the page makes to Tessera is a cross-origin `fetch` the browser
//! checks against the CORS headers. Screenshots go to `target/e2e/<test>/`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::{App, HttpServer};
use fantoccini::Locator;
use serde_json::Value;
use tessera_admin::config::UploadMode;
use tessera_demo_spa::DemoSettings;

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::passkey_browser::localhost_app_with_kim;

const MIGRATE: &str = include_str!("../../../../config/migrate-to-passkeys.xml");
const CLIENT: &str = "browser-spa";

/// Serves the demo SPA on a free port of `127.0.0.1`, signing in to `app` as [`CLIENT`];
/// returns its origin.
fn serve_spa(app: &TestApp) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let settings = DemoSettings {
        authority: app.issuer.clone(),
        client_id: CLIENT.into(),
        scope: "openid profile email phone".into(),
    };
    let server = HttpServer::new(move || {
        let settings = settings.clone();
        App::new().configure(move |cfg| tessera_demo_spa::routes(cfg, &settings))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    origin
}

/// Registers [`CLIENT`]: a public SPA client whose redirect URI is on the SPA's loopback
/// address and whose only browser origin is `allowed_origin`.
async fn register_spa_client(app: &TestApp, spa: &str, allowed_origin: &str) {
    let xml = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client>
        <id>{CLIENT}</id>
        <client-name>Browser SPA</client-name>
        <no-authentication>true</no-authentication>
        <redirect-uris>http://127.0.0.1/callback</redirect-uris>
        <allowed-origins>{allowed_origin}</allowed-origins>
        <scope>openid</scope><scope>profile</scope><scope>email</scope>
        <audience>api.example.com</audience>
        <capabilities><code/><refresh/></capabilities>
        <user-authentication><allowed-authenticators/><allowed-post-logout-redirect-uris>{spa}/</allowed-post-logout-redirect-uris></user-authentication>
        </client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    );
    app.config
        .edit_and_commit(xml.into_bytes(), UploadMode::Merge, "test")
        .await
        .unwrap();
}

/// The text of the element `css`.
async fn text_of(b: &Browser, css: &str) -> String {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The claims the SPA shows in the `<pre>` `css`.
async fn claims_shown(b: &Browser, css: &str) -> Value {
    serde_json::from_str(&text_of(b, css).await).unwrap()
}

/// Waits until the browser is at an address starting with `prefix`.
async fn wait_until_at(b: &Browser, prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let url = b.client.current_url().await.unwrap();
        if url.as_str().starts_with(prefix) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never reached {prefix}; at {url}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// From the SPA: "Sign in", then kim's password on Tessera's page, back to the SPA.
async fn sign_in_with_password(b: &mut Browser, app: &TestApp) {
    b.click("#sign-in").await;
    wait_until_at(b, &format!("{}/login", app.issuer)).await;
    b.wait_for("Password").await;
    b.shot("tessera-sign-in").await;
    b.fill("#username", "kim").await;
    b.fill("#password", "Password1").await;
    b.click("form[action$='/login'] button[type=submit]:not([name])")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spa_on_another_origin_signs_in_with_oidc_client_ts_calls_userinfo_refreshes_and_signs_out()
 {
    let app = localhost_app_with_kim().await;
    let spa = serve_spa(&app);
    register_spa_client(&app, &spa, &spa).await;
    let mut b = Browser::start("spa_sign_in_userinfo_refresh_sign_out").await;

    b.client.goto(&spa).await.unwrap();
    b.wait_for("Signed out.").await;
    b.shot("spa-signed-out").await;
    sign_in_with_password(&mut b, &app).await;
    b.wait_for("Signed in as kim").await;
    b.shot("spa-signed-in").await;
    // The standard scope the client is not registered for (phone) was dropped, not refused.
    assert_eq!(text_of(&b, "#scopes").await, "openid profile email");
    let id_claims = claims_shown(&b, "#id-token-claims").await;
    assert_eq!(id_claims["iss"], app.issuer);
    assert_eq!(id_claims["aud"], CLIENT);
    let first_access = claims_shown(&b, "#access-token-claims").await;
    assert!(first_access["exp"].is_u64(), "{first_access}");

    b.click("#call-userinfo").await;
    b.wait_for("UserInfo answered 200.").await;
    let userinfo = claims_shown(&b, "#userinfo").await;
    assert_eq!(userinfo["sub"], id_claims["sub"]);
    assert_eq!(userinfo["email"], "kim@example.com");
    b.shot("spa-userinfo").await;

    b.click("#refresh").await;
    b.wait_for("Tokens refreshed.").await;
    let refreshed = claims_shown(&b, "#access-token-claims").await;
    assert_ne!(refreshed["jti"], first_access["jti"], "a new access token");
    assert_eq!(refreshed["sub"], first_access["sub"]);
    b.shot("spa-refreshed").await;

    b.click("#sign-out").await;
    wait_until_at(&b, &format!("{spa}/")).await;
    b.wait_for("Signed out.").await;
    b.shot("spa-signed-out-again").await;

    // The SSO session ended with the sign-out: signing in asks for the password again.
    b.click("#sign-in").await;
    wait_until_at(&b, &format!("{}/login", app.issuer)).await;
    b.wait_for("Password").await;
    b.shot("tessera-sign-in-again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spa_on_an_unregistered_origin_is_blocked_by_the_browser_at_the_token_endpoint() {
    let app = localhost_app_with_kim().await;
    let spa = serve_spa(&app);
    // The redirect URI fits (loopback, any port); the origin is another port's.
    register_spa_client(&app, &spa, "http://127.0.0.1:9").await;
    let mut b = Browser::start("spa_unregistered_origin").await;

    b.client.goto(&spa).await.unwrap();
    b.wait_for("Signed out.").await;
    // Discovery is public, so the page can start signing in.
    sign_in_with_password(&mut b, &app).await;
    wait_until_at(&b, &format!("{spa}/")).await;
    // The code comes back, but the browser withholds the token endpoint's answer from the
    // page: no Access-Control-Allow-Origin for this origin.
    let page = b.wait_for("Sign-in failed: Failed to fetch").await;
    assert!(page.contains("Signed out."), "{page}");
    b.shot("spa-blocked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_app_signs_kim_in_with_a_password_then_with_the_passkey_made_on_the_account_page()
{
    let app = localhost_app_with_kim().await;
    app.config
        .edit_and_commit(MIGRATE.as_bytes().to_vec(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let spa = serve_spa(&app);
    register_spa_client(&app, &spa, &spa).await;
    let mut b = Browser::start("demo_app_password_then_passkey").await;
    b.add_virtual_authenticator().await;

    b.client.goto(&spa).await.unwrap();
    b.wait_for("Signed out.").await;
    b.shot("demo-app").await;
    sign_in_with_password(&mut b, &app).await;
    b.wait_for("Signed in as kim").await;
    b.shot("demo-app-signed-in-with-password").await;
    let with_password = claims_shown(&b, "#id-token-claims").await;
    assert_eq!(with_password["amr"], serde_json::json!(["pwd"]));

    // "Manage your passkeys" leads to Tessera's account page, signed in by the SSO session.
    b.click("#account").await;
    b.wait_for("You have no passkeys yet").await;
    b.shot("account-page").await;
    b.click("form[action$='/account/passkeys/new'] button")
        .await;
    b.wait_for("Add a passkey to your account").await;
    b.fill("#name", "Demo laptop").await;
    b.click("#passkey-register button[type=submit]").await;
    b.wait_for("Demo laptop").await;
    b.shot("account-page-with-a-passkey").await;

    b.client.goto(&spa).await.unwrap();
    b.wait_for("Signed in as kim").await;
    b.click("#sign-out").await;
    wait_until_at(&b, &format!("{spa}/")).await;
    b.wait_for("Signed out.").await;

    // Signing in again: the sign-in page offers the passkey (autofill), which the virtual
    // authenticator picks at once, as a user choosing it would.
    b.click("#sign-in").await;
    wait_until_at(&b, &format!("{spa}/")).await;
    b.wait_for("Signed in as kim").await;
    b.shot("demo-app-signed-in-with-a-passkey").await;
    let with_passkey = claims_shown(&b, "#id-token-claims").await;
    assert_eq!(with_passkey["sub"], with_password["sub"], "one subject");
    assert_eq!(with_passkey["acr"], "urn:tessera:authenticator:passkeys");
}
