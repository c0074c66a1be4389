//! The demo relying party: a static single-page app that signs in to Tessera with the
//! authorization code flow and PKCE, entirely in the browser, through
//! [oidc-client-ts](https://github.com/authts/oidc-client-ts) (vendored from npm, version
//! 3.5.0, Apache-2.0: `static/vendor/`). No build step: the files are served as they are.
//!
//! It is served from its own origin, as a real SPA is, so every call it makes to Tessera is a
//! cross-origin `fetch`: discovery, the token endpoint, UserInfo and revocation. The only
//! thing the server adds is `/config.json`, which tells the page which issuer and client to
//! use.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// What the page signs in with.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// The issuer URL (OIDC `authority`).
    pub authority: String,
    /// The registered public client whose `allowed-origins` include this app's origin.
    pub client_id: String,
    /// The scopes it asks for.
    pub scope: String,
}

const INDEX: &str = include_str!("../static/index.html");
const APP: &str = include_str!("../static/app.js");
const STYLE: &str = include_str!("../static/style.css");
const OIDC_CLIENT: &str = include_str!("../static/vendor/oidc-client-ts.min.js");
const OIDC_CLIENT_LICENSE: &str = include_str!("../static/vendor/oidc-client-ts.LICENSE");

/// Mounts the app at the root of its origin.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &DemoSettings) {
    let config = serde_json::json!({
        "authority": settings.authority,
        "client_id": settings.client_id,
        "scope": settings.scope,
    })
    .to_string();
    let policy = content_security_policy(&settings.authority);
    let page = move || {
        let policy = policy.clone();
        move || {
            let policy = policy.clone();
            async move {
                HttpResponse::Ok()
                    .insert_header((header::CONTENT_SECURITY_POLICY, policy))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .content_type("text/html; charset=utf-8")
                    .body(INDEX)
            }
        }
    };
    cfg.route("/", web::get().to(page()))
        .route("/callback", web::get().to(page()))
        .route("/app.js", web::get().to(|| asset("text/javascript", APP)))
        .route("/style.css", web::get().to(|| asset("text/css", STYLE)))
        .route(
            "/vendor/oidc-client-ts.min.js",
            web::get().to(|| asset("text/javascript", OIDC_CLIENT)),
        )
        .route(
            "/vendor/oidc-client-ts.LICENSE",
            web::get().to(|| asset("text/plain; charset=utf-8", OIDC_CLIENT_LICENSE)),
        )
        .route(
            "/config.json",
            web::get().to(move || {
                let config = config.clone();
                async move {
                    HttpResponse::Ok()
                        .insert_header((header::CACHE_CONTROL, "no-store"))
                        .content_type("application/json")
                        .body(config)
                }
            }),
        );
}

async fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type(content_type)
        .body(body)
}

/// The page may run only its own scripts and talk only to itself and the issuer.
fn content_security_policy(authority: &str) -> String {
    let issuer_origin = url::Url::parse(authority)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    format!(
        "default-src 'self'; connect-src 'self' {issuer_origin}; img-src 'self' data:; base-uri 'none'; \
         frame-ancestors 'none'; object-src 'none'; form-action 'self' {issuer_origin}"
    )
}
