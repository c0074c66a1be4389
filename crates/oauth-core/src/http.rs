//! HTTP surface of the token service. Handlers are thin: read state, call the domain, render.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use chrono::Utc;

use crate::Issuer;
use crate::cors;
use crate::discovery::{ProviderMetadata, paths};
use crate::keys::SigningKeys;
use crate::token_endpoint;

/// What the token service's handlers need, shared through `web::Data`.
pub struct OAuthState {
    /// The issuer.
    pub issuer: Issuer,
    /// Pre-serialised metadata document (it only changes with the issuer).
    metadata_json: String,
    /// The live signing keys.
    pub keys: Arc<SigningKeys>,
    /// The live configuration (clients).
    pub config: Arc<tessera_admin::ActiveConfig>,
    /// Client secret verification.
    pub secrets: tessera_admin::secrets::ConfigSecrets,
    /// Database (codes, flows, sessions).
    pub store: tessera_store::Store,
    /// Subject derivation.
    pub subjects: crate::subject::Subjects,
    /// Mark cookies `Secure`.
    pub secure_cookies: bool,
    /// The operator's reverse proxies, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sign-ins one client address may start per window.
    pub sign_ins_per_address: u32,
}

impl OAuthState {
    /// Builds the state for `issuer`.
    pub fn new(
        issuer: Issuer,
        keys: Arc<SigningKeys>,
        config: Arc<tessera_admin::ActiveConfig>,
        secrets: tessera_admin::secrets::ConfigSecrets,
        store: tessera_store::Store,
    ) -> Result<Self, String> {
        let metadata_json = serde_json::to_string(&ProviderMetadata::for_issuer(&issuer))
            .map_err(|e| e.to_string())?;
        let subjects = crate::subject::Subjects::new(&secrets).map_err(|e| e.to_string())?;
        Ok(OAuthState {
            secure_cookies: issuer.is_https(),
            issuer,
            metadata_json,
            keys,
            config,
            secrets,
            store,
            subjects,
            trusted_proxies: Vec::new(),
            sign_ins_per_address: tessera_authn::flow::FLOWS_PER_ADDRESS,
        })
    }

    /// Finds the client's address behind `trusted_proxies` (their `X-Forwarded-For`), and
    /// lets each address start `sign_ins_per_address` sign-ins per window.
    pub fn with_client_limits(
        self,
        trusted_proxies: Vec<ipnet::IpNet>,
        sign_ins_per_address: u32,
    ) -> Self {
        OAuthState {
            trusted_proxies,
            sign_ins_per_address,
            ..self
        }
    }
}

/// Routes mounted under the issuer's path. The endpoints a SPA calls with `fetch` carry the
/// CORS policies of [`crate::cors`]; `config` is the live configuration whose clients'
/// `allowed-origins` they admit.
pub fn routes(cfg: &mut web::ServiceConfig, config: &Arc<tessera_admin::ActiveConfig>) {
    let browser = || cors::registered_origins(Arc::clone(config));
    cfg.service(
        web::resource(paths::OPENID_CONFIGURATION)
            .wrap(cors::public_documents())
            .route(web::get().to(metadata)),
    )
    .service(
        web::resource(paths::OAUTH_AUTHORIZATION_SERVER)
            .wrap(cors::public_documents())
            .route(web::get().to(metadata)),
    )
    .service(
        web::resource(paths::JWKS)
            .wrap(cors::public_documents())
            .route(web::get().to(jwks)),
    )
    .service(
        web::resource(paths::TOKEN)
            .wrap(browser())
            .route(web::post().to(token_endpoint::token)),
    )
    .service(
        web::resource(paths::USERINFO)
            .wrap(browser())
            .route(web::get().to(crate::userinfo::userinfo))
            .route(web::post().to(crate::userinfo::userinfo)),
    )
    .service(
        web::resource(paths::REVOKE)
            .wrap(browser())
            .route(web::post().to(crate::revocation::revoke)),
    )
    .route(
        paths::AUTHORIZE,
        web::get().to(crate::authorize::endpoint::authorize),
    )
    .route(
        paths::AUTHORIZE,
        web::post().to(crate::authorize::endpoint::authorize),
    )
    .route(paths::LOGOUT, web::get().to(crate::logout::logout))
    .route(paths::LOGOUT, web::post().to(crate::logout::logout))
    .route(
        paths::INTROSPECT,
        web::post().to(crate::revocation::introspect),
    )
    .route(
        "/oauth/authorize/resume",
        web::get().to(crate::authorize::endpoint::resume),
    );
}

/// Routes mounted at the host root. RFC 8414 §3 inserts the well-known segment *before* the
/// issuer's path (`/.well-known/oauth-authorization-server/tenant`), so an issuer with a path
/// needs this one outside its scope.
pub fn root_routes(cfg: &mut web::ServiceConfig, issuer: &Issuer) {
    if !issuer.path().is_empty() {
        cfg.service(
            web::resource(format!(
                "{}{}",
                paths::OAUTH_AUTHORIZATION_SERVER,
                issuer.path()
            ))
            .wrap(cors::public_documents())
            .route(web::get().to(metadata)),
        );
    }
}

fn cacheable(seconds: u32) -> CacheControl {
    CacheControl(vec![
        CacheDirective::Public,
        CacheDirective::MaxAge(seconds),
    ])
}

async fn metadata(state: web::Data<OAuthState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(cacheable(3600))
        .content_type("application/json")
        .body(state.metadata_json.clone())
}

async fn jwks(state: web::Data<OAuthState>) -> HttpResponse {
    // Short cache: relying parties must see a rotated key well before it signs.
    HttpResponse::Ok()
        .insert_header(cacheable(300))
        .content_type("application/jwk-set+json")
        .json(state.keys.jwks(Utc::now()))
}
