//! `tessera-example-api`: the example API on its own.
//!
//! Settings come from the environment: `TESSERA_ISSUER` (default `http://localhost:8080`, what
//! `cargo xtask dev` serves), `API_AUDIENCE` (default `api.example.com`, the demo clients'
//! audience) and `API_LISTEN` (default `127.0.0.1:4000`).

use actix_web::{App, HttpServer};
use tessera_example_api::{AccessTokenValidator, TrustSettings, http};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let setting =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let issuer = setting("TESSERA_ISSUER", "http://localhost:8080");
    let audience = setting("API_AUDIENCE", "api.example.com");
    let listen = setting("API_LISTEN", "127.0.0.1:4000");
    let client = reqwest::Client::new();
    let trust = TrustSettings::discover(&client, &issuer, &audience)
        .await
        .map_err(|e| std::io::Error::other(format!("discovery at {issuer}: {e}")))?;
    tracing::info!(issuer = %trust.issuer, audience = %trust.audience, %listen, "example API");
    let validator = AccessTokenValidator::new(client, trust);
    HttpServer::new(move || {
        let validator = validator.clone();
        App::new().configure(move |cfg| http::routes(cfg, validator))
    })
    .bind(listen)?
    .run()
    .await
}
