//! Confidential relying parties (a backend with a client secret, one that signs
//! `private_key_jwt` assertions) and pairwise subjects, driven by the `openidconnect` crate.

use std::time::{Duration, SystemTime};

use josekit::jwk::JwkSet;
use josekit::jws::{ES256, JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope, TokenResponse,
};
use reqwest::StatusCode;
use tessera_admin::config::UploadMode;

use crate::helpers::{TestApp, spawn_app};
use crate::oidc::{browser, create_kim, location, query_of, sign_in};

const BFF: &str = "bff-oauth-client";
const BFF_SECRET: &str = "Demo-BFF-Secret-0123456789-abcdefghij";
const BFF_REDIRECT: &str = "http://localhost:3001/oauth/callback";

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

struct Rp {
    client: Client,
    http: openidconnect::reqwest::Client,
    end_session: Option<openidconnect::EndSessionUrl>,
}

async fn rp(app: &TestApp, id: &str, secret: Option<&str>, redirect: &str) -> Rp {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = ProviderMetadataWithLogout::discover_async(
        IssuerUrl::new(app.issuer.clone()).unwrap(),
        &http,
    )
    .await
    .unwrap();
    let end_session = metadata.additional_metadata().end_session_endpoint.clone();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id.into()),
        secret.map(|s| ClientSecret::new(s.into())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.into()).unwrap());
    Rp {
        client,
        http,
        end_session,
    }
}

/// Verifies a JWT against the published JWKS, whichever of our algorithms signed it.
async fn verified_against_jwks(app: &TestApp, token: &str) -> JwtPayload {
    let jwks_json = app.get("/oauth/jwks").await.text().await.unwrap();
    let jwks = JwkSet::from_bytes(jwks_json.as_bytes()).unwrap();
    let header = josekit::jwt::decode_header(token).unwrap();
    let kid = header.claim("kid").unwrap().as_str().unwrap().to_owned();
    let jwk = jwks.get(&kid)[0];
    let (payload, header) = match header.claim("alg").and_then(|a| a.as_str()) {
        Some("ES256") => {
            josekit::jwt::decode_with_verifier(token, &ES256.verifier_from_jwk(jwk).unwrap())
        }
        Some("RS256") => {
            josekit::jwt::decode_with_verifier(token, &RS256.verifier_from_jwk(jwk).unwrap())
        }
        other => panic!("unexpected alg {other:?}"),
    }
    .expect("the JWT verifies against the JWKS");
    assert_eq!(header.token_type(), Some("at+jwt"));
    payload
}

/// Signs kim in through the browser for `rp` and returns the authorization code, checking the
/// response's `state` and `iss`; the caller exchanges it.
async fn code_for(
    app: &TestApp,
    rp: &Rp,
    browser: &reqwest::Client,
    redirect: &str,
) -> (String, openidconnect::PkceCodeVerifier, Nonce) {
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
    let done = sign_in(app, browser, url.as_str(), None).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let back = location(&done);
    assert!(back.starts_with(redirect), "{back}");
    let query = query_of(&back);
    assert_eq!(query["state"], *state.secret());
    assert_eq!(query["iss"], app.issuer);
    (query["code"].clone(), verifier, nonce)
}

#[tokio::test]
async fn a_confidential_client_with_a_basic_secret_signs_in_refreshes_revokes_and_logs_out() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let rp = rp(&app, BFF, Some(BFF_SECRET), BFF_REDIRECT).await;
    let browser = browser();

    let (code, verifier, nonce) = code_for(&app, &rp, &browser, BFF_REDIRECT).await;
    // The crate's default client authentication is client_secret_basic.
    let tokens = rp
        .client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp.http)
        .await
        .expect("code exchange with client_secret_basic");
    let id_token = tokens.id_token().expect("an ID token").clone();
    let claims = id_token
        .claims(&rp.client.id_token_verifier(), &nonce)
        .expect("valid ID token")
        .clone();
    let access = verified_against_jwks(&app, tokens.access_token().secret()).await;
    assert_eq!(access.subject(), Some(claims.subject().as_str()));
    assert_eq!(access.claim("client_id"), Some(&serde_json::json!(BFF)));
    assert_eq!(
        access.audience(),
        Some(vec!["api.example.com"]),
        "the audience configured for the client"
    );

    let info: CoreUserInfoClaims = rp
        .client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&rp.http)
        .await
        .expect("userinfo");
    assert_eq!(info.subject(), claims.subject());

    // Refresh rotates: a new refresh token and a new access token about the same subject.
    let first_refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = rp
        .client
        .exchange_refresh_token(&first_refresh)
        .unwrap()
        .request_async(&rp.http)
        .await
        .expect("refresh");
    let second_refresh = refreshed
        .refresh_token()
        .expect("a rotated refresh token")
        .clone();
    assert_ne!(first_refresh.secret(), second_refresh.secret());
    let access = verified_against_jwks(&app, refreshed.access_token().secret()).await;
    assert_eq!(access.subject(), Some(claims.subject().as_str()));

    // RFC 7009 revocation. (The crate's own revocation request insists on an https endpoint,
    // and this server listens on plain loopback http, so the request is made by hand.)
    let revoked = app
        .client
        .post(format!("{}/oauth/revoke", app.issuer))
        .basic_auth(BFF, Some(BFF_SECRET))
        .form(&[
            ("token", second_refresh.secret().as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let after = rp
        .client
        .exchange_refresh_token(&second_refresh)
        .unwrap()
        .request_async(&rp.http)
        .await;
    assert!(
        format!("{after:?}").contains("invalid_grant"),
        "a revoked refresh token must be refused: {after:?}"
    );

    // RP-initiated logout with the crate's LogoutRequest ends the SSO session.
    let logout = LogoutRequest::from(rp.end_session.clone().expect("end_session_endpoint"))
        .set_id_token_hint(&id_token)
        .set_post_logout_redirect_uri(
            PostLogoutRedirectUrl::new("http://localhost:3001/".into()).unwrap(),
        )
        .set_state(CsrfToken::new("bye".into()))
        .http_get_url();
    let res = browser.get(logout.as_str()).send().await.unwrap();
    let mut back = location(&res);
    if !back.starts_with("http://localhost:3001/") {
        // A confirmation step is allowed; the test follows it like the user would.
        let page = browser
            .get(crate::oidc::absolute(&app, &back))
            .send()
            .await
            .unwrap();
        back = location(&page);
    }
    assert_eq!(query_of(&back)["state"], "bye", "{back}");
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let (silent, _, _) = rp
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge)
        .add_prompt(openidconnect::core::CoreAuthPrompt::None)
        .url();
    let res = browser.get(silent.as_str()).send().await.unwrap();
    assert_eq!(query_of(&location(&res))["error"], "login_required");
}

mod private_key_jwt {
    use super::*;

    const CLIENT: &str = "signing-backend";
    const REDIRECT: &str = "https://backend.example/callback";

    async fn register(app: &TestApp, public_jwk: &josekit::jwk::Jwk) {
        let jwks = serde_json::json!({ "keys": [public_jwk.as_ref()] }).to_string();
        let xml = format!(
            r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>{CLIENT}</id><jwks>{jwks}</jwks><redirect-uris>{REDIRECT}</redirect-uris><scope>openid</scope><scope>profile</scope><capabilities><code/><refresh/></capabilities><user-authentication><allowed-authenticators/></user-authentication></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
        );
        app.config
            .edit_and_commit(xml.into_bytes(), UploadMode::Merge, "test")
            .await
            .unwrap();
    }

    fn assertion(key: &josekit::jws::alg::ecdsa::EcdsaJwsSigner, aud: &str) -> String {
        assertion_for(key, serde_json::json!(aud))
    }

    /// A client assertion with the `aud` claim exactly as given.
    fn assertion_for(
        key: &josekit::jws::alg::ecdsa::EcdsaJwsSigner,
        aud: serde_json::Value,
    ) -> String {
        let mut payload = JwtPayload::new();
        payload.set_issuer(CLIENT);
        payload.set_subject(CLIENT);
        payload.set_claim("aud", Some(aud)).unwrap();
        payload.set_jwt_id(uuid::Uuid::new_v4().to_string());
        payload.set_issued_at(&SystemTime::now());
        payload.set_expires_at(&(SystemTime::now() + Duration::from_secs(60)));
        let mut header = JwsHeader::new();
        header.set_key_id("backend-key");
        josekit::jwt::encode_with_signer(&payload, &header, key).unwrap()
    }

    #[tokio::test]
    async fn a_confidential_client_signing_assertions_completes_the_code_flow_and_refreshes() {
        let app = spawn_app().await;
        create_kim(&app).await;
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("backend-key");
        register(&app, &public).await;
        let signer = ES256.signer_from_der(pair.to_der_private_key()).unwrap();
        let audience = app.issuer.clone();
        let rp = rp(&app, CLIENT, None, REDIRECT).await;

        let (code, verifier, nonce) = code_for(&app, &rp, &browser(), REDIRECT).await;
        let assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        let tokens = rp
            .client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .add_extra_param("client_assertion_type", assertion_type)
            .add_extra_param("client_assertion", assertion(&signer, &audience))
            .request_async(&rp.http)
            .await
            .expect("code exchange with private_key_jwt");
        let claims = tokens
            .id_token()
            .expect("an ID token")
            .claims(&rp.client.id_token_verifier(), &nonce)
            .expect("valid ID token");
        let access = verified_against_jwks(&app, tokens.access_token().secret()).await;
        assert_eq!(access.subject(), Some(claims.subject().as_str()));

        let refreshed = rp
            .client
            .exchange_refresh_token(tokens.refresh_token().expect("a refresh token"))
            .unwrap()
            .add_extra_param("client_assertion_type", assertion_type)
            .add_extra_param("client_assertion", assertion(&signer, &audience))
            .request_async(&rp.http)
            .await
            .expect("refresh with a fresh assertion");
        assert!(refreshed.refresh_token().is_some());

        // Without an assertion the client is not authenticated at all.
        let unauthenticated = rp
            .client
            .exchange_refresh_token(refreshed.refresh_token().unwrap())
            .unwrap()
            .request_async(&rp.http)
            .await;
        assert!(
            format!("{unauthenticated:?}").contains("invalid_client"),
            "{unauthenticated:?}"
        );
    }
    #[tokio::test]
    async fn an_assertion_is_accepted_only_for_the_issuer_as_a_single_string_audience() {
        let app = spawn_app().await;
        let pair = ES256.generate_key_pair().unwrap();
        let mut public = pair.to_jwk_public_key();
        public.set_key_id("backend-key");
        register(&app, &public).await;
        let signer = ES256.signer_from_der(pair.to_der_private_key()).unwrap();
        let token_endpoint = format!("{}/oauth/token", app.issuer);
        let revoke = |assertion: String| {
            app.client
                .post(format!("{}/oauth/revoke", app.issuer))
                .form(&[
                    ("token", "unknown".to_owned()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                    ),
                    ("client_assertion", assertion),
                ])
                .send()
        };
        for refused in [
            serde_json::json!(token_endpoint),
            serde_json::json!([app.issuer]),
            serde_json::json!([app.issuer, token_endpoint]),
            serde_json::json!("https://other.example"),
        ] {
            let res = revoke(assertion_for(&signer, refused.clone()))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "aud {refused}");
        }
        let res = revoke(assertion_for(&signer, serde_json::json!(app.issuer)))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

mod pairwise {
    use super::*;

    const CLIENT: &str = "pairwise-spa";
    const REDIRECT: &str = "http://localhost:3002/callback";

    async fn register(app: &TestApp) {
        let xml = format!(
            r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>{CLIENT}</id><no-authentication>true</no-authentication><redirect-uris>{REDIRECT}</redirect-uris><scope>openid</scope><scope>profile</scope><capabilities><code/></capabilities><user-authentication><allowed-authenticators/></user-authentication><use-pairwise-subject-identifiers/></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
        );
        app.config
            .edit_and_commit(xml.into_bytes(), UploadMode::Merge, "test")
            .await
            .unwrap();
    }

    async fn subject(app: &TestApp, rp: &Rp, browser: &reqwest::Client, redirect: &str) -> String {
        let (code, verifier, nonce) = code_for(app, rp, browser, redirect).await;
        let tokens = rp
            .client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&rp.http)
            .await
            .expect("code exchange");
        let sub = tokens
            .id_token()
            .unwrap()
            .claims(&rp.client.id_token_verifier(), &nonce)
            .unwrap()
            .subject()
            .as_str()
            .to_owned();
        let access = verified_against_jwks(app, tokens.access_token().secret()).await;
        assert_eq!(access.subject(), Some(sub.as_str()));
        let info: CoreUserInfoClaims = rp
            .client
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async(&rp.http)
            .await
            .expect("userinfo answers for a pairwise subject");
        assert_eq!(info.subject().as_str(), sub);
        sub
    }

    #[tokio::test]
    async fn a_pairwise_client_sees_its_own_stable_subject_unlinkable_to_the_public_one() {
        let app = spawn_app().await;
        create_kim(&app).await;
        register(&app).await;
        let pairwise = rp(&app, CLIENT, None, REDIRECT).await;
        let public = rp(
            &app,
            "demo-web-client",
            None,
            "http://localhost:3000/callback",
        )
        .await;

        let first = subject(&app, &pairwise, &browser(), REDIRECT).await;
        let again = subject(&app, &pairwise, &browser(), REDIRECT).await;
        let shared = subject(&app, &public, &browser(), "http://localhost:3000/callback").await;
        assert_eq!(first, again, "a pairwise subject is stable across sign-ins");
        assert_ne!(
            first, shared,
            "a pairwise subject differs from the public one"
        );
        assert_eq!(first.len(), 64);
    }

    #[tokio::test]
    async fn require_pairwise_subject_identifiers_makes_every_clients_subject_its_own() {
        let app = spawn_app().await;
        create_kim(&app).await;
        let spa = ("demo-web-client", "http://localhost:3000/callback");
        let bff = ("bff-oauth-client", "http://localhost:3001/oauth/callback");
        let public = subject(&app, &rp(&app, spa.0, None, spa.1).await, &browser(), spa.1).await;

        let xml = r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><openid-connect><require-pairwise-subject-identifiers>true</require-pairwise-subject-identifiers></openid-connect></authorization-server></settings></profile></profiles></config>"#;
        app.config
            .edit_and_commit(xml.as_bytes().to_vec(), UploadMode::Merge, "test")
            .await
            .unwrap();
        let spa_rp = rp(&app, spa.0, None, spa.1).await;
        let for_spa = subject(&app, &spa_rp, &browser(), spa.1).await;
        let again = subject(&app, &spa_rp, &browser(), spa.1).await;
        let bff_rp = rp(
            &app,
            bff.0,
            Some("Demo-BFF-Secret-0123456789-abcdefghij"),
            bff.1,
        )
        .await;
        let for_bff = subject(&app, &bff_rp, &browser(), bff.1).await;
        assert_ne!(for_spa, public, "the issuer-wide setting is applied");
        assert_eq!(for_spa, again, "and stable");
        assert_ne!(for_spa, for_bff, "each client has its own");
    }
}

#[tokio::test]
async fn a_client_imported_with_a_curity_hashed_secret_authenticates_with_the_secret_itself() {
    let app = spawn_app().await;
    // Curity's export form: the client secret as SHA-256-crypt (Drepper's test vector for
    // "This is just a test").
    let hash = "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5";
    let xml = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>gateway</id><secret>{hash}</secret><scope>introspect</scope><capabilities><client-credentials/></capabilities></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    );
    app.config
        .edit_and_commit(xml.into_bytes(), UploadMode::Merge, "test")
        .await
        .unwrap();
    let token = |secret: &'static str| {
        app.client
            .post(format!("{}/oauth/token", app.issuer))
            .basic_auth("gateway", Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "introspect"),
            ])
            .send()
    };
    let granted = token("This is just a test").await.unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    let refused = token(hash).await.unwrap();
    assert_eq!(
        refused.status(),
        StatusCode::UNAUTHORIZED,
        "the hash itself is not the secret"
    );
    let wrong = token("This is just a tesT").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tessera_config_upload_resolves_a_secret_placeholder_from_its_environment() {
    // The CLI digests the secret with the deployment's key: the same key-encryption key.
    let kek = tessera_oauth_core::keys::KeyEncryptionKey::generate_base64().unwrap();
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        kek: Some(kek.clone()),
        ..crate::helpers::Options::default()
    })
    .await;
    let xml = r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>backend-job</id><secret>#{BACKEND_JOB_CLIENT_SECRET}</secret><scope>introspect</scope><capabilities><client-credentials/></capabilities></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#;
    let file = std::env::temp_dir().join(format!("placeholder-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, xml).unwrap();
    let tessera = || crate::helpers::tessera(app.db.url(), &kek);
    // Unset: refused, with the variable named.
    let refused = tessera()
        .args(["config", "upload", "--merge"])
        .arg(&file)
        .env_remove("BACKEND_JOB_CLIENT_SECRET")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("environment variable BACKEND_JOB_CLIENT_SECRET is not set"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // Set where the operator stages it: the secret is that value, stored as a digest.
    let staged = tessera()
        .args(["config", "upload", "--merge"])
        .arg(&file)
        .env(
            "BACKEND_JOB_CLIENT_SECRET",
            "Job-Secret-0123456789-abcdefghijklmn",
        )
        .output()
        .unwrap();
    assert!(
        staged.status.success(),
        "{}",
        String::from_utf8_lossy(&staged.stderr)
    );
    let committed = tessera()
        .args(["config", "commit", "--message", "job client"])
        .output()
        .unwrap();
    assert!(
        committed.status.success(),
        "{}",
        String::from_utf8_lossy(&committed.stderr)
    );
    let _ = std::fs::remove_file(file);
    assert!(
        crate::helpers::eventually(Duration::from_secs(5), || async {
            app.config.active().load().client("backend-job").is_some()
        })
        .await
    );
    let res = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth("backend-job", Some("Job-Secret-0123456789-abcdefghijklmn"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "introspect"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}
