//! Bad authorization requests over HTTP: which ones are shown as a page (the client or its
//! redirect URI cannot be trusted) and which go back to the client with an RFC 6749 §4.1.2.1
//! error, `state` and RFC 9207 `iss` — and that none of them is a 5xx.

use reqwest::StatusCode;

use crate::helpers::spawn_app;

const CLIENT: &str = "client_id=demo-web-client";
const REDIRECT: &str = "redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback";
const PKCE: &str =
    "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

/// What a bad request must get.
enum Expect {
    /// A 400 page and no redirect.
    Page,
    /// A 303 to the registered redirect URI carrying this error.
    Redirect(&'static str),
    /// Some 4xx status, whatever its form (the request is refused before it is read).
    ClientError,
}

fn query(parts: &[&str]) -> String {
    parts.join("&")
}

#[tokio::test]
async fn bad_authorization_requests_get_the_specified_error_and_never_a_5xx() {
    let app = spawn_app().await;
    let ok = [CLIENT, REDIRECT, "response_type=code", "scope=openid", PKCE];
    let long = |name: &str, len: usize| format!("{name}={}", "a".repeat(len));
    let state_too_long = long("state", 3000);
    let nonce_too_long = long("nonce", 3000);
    let value_too_long = long("ui_locales", 9000);
    let huge_uri = long("x", 60_000);
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "missing PKCE",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code",
                "scope=openid",
                "state=s1",
            ]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "plain PKCE",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code",
                "scope=openid",
                "state=s1",
                "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method=plain",
            ]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "challenge without method",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code",
                "scope=openid",
                "state=s1",
                "code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "malformed S256 challenge",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code",
                "scope=openid",
                "state=s1",
                "code_challenge=short",
                "code_challenge_method=S256",
            ]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "implicit flow",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=token",
                "scope=openid",
                "state=s1",
                PKCE,
            ]),
            Expect::Redirect("unsupported_response_type"),
        ),
        (
            "hybrid flow",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code%20id_token",
                "scope=openid",
                "state=s1",
                PKCE,
            ]),
            Expect::Redirect("unsupported_response_type"),
        ),
        (
            "missing response_type",
            query(&[CLIENT, REDIRECT, "scope=openid", "state=s1", PKCE]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "no scope registered for the client",
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code",
                "scope=admin%20address",
                "state=s1",
                PKCE,
            ]),
            Expect::Redirect("invalid_scope"),
        ),
        (
            "unknown prompt value",
            query(&[&ok.join("&"), "state=s1", "prompt=sideways"]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "prompt none combined with login",
            query(&[&ok.join("&"), "state=s1", "prompt=none%20login"]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "negative max_age",
            query(&[&ok.join("&"), "state=s1", "max_age=-1"]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "request object",
            query(&[
                &ok.join("&"),
                "state=s1",
                "request=eyJhbGciOiJub25lIn0.e30.",
            ]),
            Expect::Redirect("request_not_supported"),
        ),
        (
            "unsupported response_mode",
            query(&[&ok.join("&"), "state=s1", "response_mode=fragment"]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "oversized nonce",
            query(&[&ok.join("&"), "state=s1", &nonce_too_long]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "unknown client",
            query(&[
                "client_id=nobody",
                REDIRECT,
                "response_type=code",
                "scope=openid",
                PKCE,
            ]),
            Expect::Page,
        ),
        (
            "missing client_id",
            query(&[REDIRECT, "response_type=code", "scope=openid", PKCE]),
            Expect::Page,
        ),
        (
            "unregistered redirect URI",
            query(&[
                CLIENT,
                "redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback%2Fevil",
                "response_type=code",
                "scope=openid",
                PKCE,
            ]),
            Expect::Page,
        ),
        (
            "redirect URI differing only in case",
            query(&[
                CLIENT,
                "redirect_uri=http%3A%2F%2Flocalhost%3A3000%2FCallback",
                "response_type=code",
                "scope=openid",
                PKCE,
            ]),
            Expect::Page,
        ),
        (
            "repeated client_id",
            query(&[&ok.join("&"), CLIENT]),
            Expect::Page,
        ),
        (
            "oversized state (cannot be echoed safely)",
            query(&[&ok.join("&"), &state_too_long]),
            Expect::Redirect("invalid_request"),
        ),
        (
            "oversized value of an ignored parameter",
            query(&[&ok.join("&"), &value_too_long]),
            Expect::Page,
        ),
        (
            "malformed percent-encoding",
            "client_id=%%%&redirect_uri=%zz".to_owned(),
            Expect::Page,
        ),
        (
            "a request line far too long",
            query(&[&ok.join("&"), &huge_uri]),
            Expect::ClientError,
        ),
    ];

    for (name, query, expect) in cases {
        let res = app
            .client
            .get(format!("{}/oauth/authorize?{query}", app.issuer))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {}", e.without_url()));
        let status = res.status();
        assert!(!status.is_server_error(), "{name}: {status}");
        match expect {
            Expect::Page => {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{name}");
                assert!(res.headers().get("location").is_none(), "{name} redirected");
                let html = res.text().await.unwrap();
                assert!(html.contains("role=\"alert\""), "{name}: {html}");
            }
            Expect::Redirect(error) => {
                assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
                let location = res.headers()["location"].to_str().unwrap().to_owned();
                assert!(
                    location.starts_with("http://localhost:3000/callback?"),
                    "{name}: {location}"
                );
                let params: std::collections::HashMap<String, String> = url::Url::parse(&location)
                    .unwrap()
                    .query_pairs()
                    .into_owned()
                    .collect();
                assert_eq!(
                    params.get("error").map(String::as_str),
                    Some(error),
                    "{name}"
                );
                assert!(params.contains_key("error_description"), "{name}");
                assert_eq!(params.get("iss"), Some(&app.issuer), "{name}");
                assert!(!params.contains_key("code"), "{name}");
                if query.contains("state=s1") {
                    assert_eq!(
                        params.get("state").map(String::as_str),
                        Some("s1"),
                        "{name}"
                    );
                }
            }
            Expect::ClientError => assert!(status.is_client_error(), "{name}: {status}"),
        }
    }

    // The same rules hold for a POSTed authorization request (OIDC Core §3.1.2.1).
    let posted = app
        .client
        .post(format!("{}/oauth/authorize", app.issuer))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(query(&[
            CLIENT,
            REDIRECT,
            "response_type=code",
            "scope=openid",
            "state=s2",
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    let location = posted.headers()["location"].to_str().unwrap();
    assert!(location.contains("error=invalid_request"), "{location}");
    assert!(location.contains("state=s2"), "{location}");
}

#[tokio::test]
async fn form_post_errors_are_delivered_in_an_auto_submitted_form() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(format!(
            "{}/oauth/authorize?{}",
            app.issuer,
            query(&[
                CLIENT,
                REDIRECT,
                "response_type=code",
                "scope=openid",
                "state=s%3C3",
                "response_mode=form_post",
            ])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("form-action http://localhost:3000"), "{csp}");
    let html = res.text().await.unwrap();
    assert!(
        html.contains("action=\"http://localhost:3000/callback\""),
        "{html}"
    );
    assert!(
        html.contains("name=\"error\" value=\"invalid_request\""),
        "{html}"
    );
    // The client's state is escaped, never injected as markup.
    assert!(html.contains("name=\"state\" value=\"s&lt;3\""), "{html}");
}

#[tokio::test]
async fn an_address_past_its_share_of_sign_ins_gets_a_429_page_and_stores_nothing() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        env: vec![("TESSERA_LIMITS_SIGN_INS_PER_ADDRESS", "3".into())],
        ..Default::default()
    })
    .await;
    let url = format!(
        "{}/oauth/authorize?{}",
        app.issuer,
        query(&[CLIENT, REDIRECT, "response_type=code", "scope=openid", PKCE])
    );
    // Each request comes from a new browser (no cookies): only the address is shared.
    let fresh = || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    };
    for _ in 0..3 {
        let started = fresh().get(&url).send().await.unwrap();
        assert_eq!(started.status(), StatusCode::SEE_OTHER, "within the share");
    }
    let res = fresh().get(&url).send().await.unwrap();

    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert!(res.text().await.unwrap().contains("Too many sign-ins"));
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let purged = app
        .db
        .store()
        .run(move |conn| tessera_store::housekeeping::purge_expired(conn, tomorrow))
        .await
        .unwrap();
    assert_eq!(purged.flows, 3, "the refused request stored no flow");
}
