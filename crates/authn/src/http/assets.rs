//! The sign-in pages' stylesheet and passkey script, cached by browsers for an hour.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/login.css", web::get().to(stylesheet))
        .route("/static/passkeys.js", web::get().to(script));
}

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

async fn stylesheet() -> HttpResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../templates/login.css"),
    )
}

async fn script() -> HttpResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/passkeys.js"),
    )
}
