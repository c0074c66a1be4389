//! The token service's routes, with the CORS policy of each, and the two documents served
//! from memory (discovery metadata, the JWKS). The endpoints live in their own modules.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{HttpResponse, web};
use chrono::Utc;

use crate::cors;
use crate::discovery::paths;
use crate::state::OAuthState;
use crate::{Issuer, token};

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
            .route(web::post().to(token::token)),
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
    // Curity's `openid-connect` without `expose-metadata`: no discovery document.
    if !state.config.load().config.token_settings.expose_metadata {
        return HttpResponse::NotFound()
            .content_type("application/json")
            .body(r#"{"error":"not_found","error_description":"This server does not publish its metadata."}"#);
    }
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
