//! `GET /`: a short page for whoever opens the server's address in a browser, pointing at
//! what there is to see: discovery, the account page and, in development, the admin pages.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// The home page, rendered once at startup (it depends only on the settings).
pub struct HomePage(String);

impl HomePage {
    /// The page for `issuer`; `development` adds the admin link and the demo app's.
    pub fn new(issuer: &str, development: bool) -> Self {
        let issuer = tera::escape_html(issuer);
        let development_links = if development {
            "<li><a href=\"/admin\">Admin pages</a> (development credentials: admin / admin)</li>\
             <li><a href=\"http://localhost:3000\">The demo app</a> \
             (<code>cargo xtask dev</code> serves it; sign in as kim, password Password1)</li>"
        } else {
            ""
        };
        HomePage(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>Tessera</title></head><body><main><h1>Tessera</h1>\
             <p>An OpenID Connect provider. Issuer: <code>{issuer}</code></p><ul>\
             <li><a href=\"{issuer}/.well-known/openid-configuration\">Discovery document</a></li>\
             <li><a href=\"{issuer}/account\">Your account and passkeys</a></li>\
             {development_links}</ul></main></body></html>"
        ))
    }
}

/// Serves the page.
pub async fn home(page: web::Data<HomePage>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("text/html; charset=utf-8")
        .body(page.0.clone())
}
