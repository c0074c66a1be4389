//! `tessera-demo-spa`: serves the demo app (what `cargo xtask dev` runs on
//! `http://localhost:3000`).
//!
//! Settings come from the environment: `TESSERA_DEMO_AUTHORITY` (default
//! `http://localhost:8080`), `TESSERA_DEMO_CLIENT_ID` (default `demo-web-client`, whose
//! `allowed-origins` in `config/base.xml` is `http://localhost:3000`), `TESSERA_DEMO_SCOPE`
//! (default `openid profile email phone`) and `TESSERA_DEMO_LISTEN` (default
//! `127.0.0.1:3000`).

use actix_web::{App, HttpServer};
use tessera_demo_spa::{DemoSettings, routes};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let setting =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let settings = DemoSettings {
        authority: setting("TESSERA_DEMO_AUTHORITY", "http://localhost:8080"),
        client_id: setting("TESSERA_DEMO_CLIENT_ID", "demo-web-client"),
        scope: setting("TESSERA_DEMO_SCOPE", "openid profile email phone"),
    };
    let listen = setting("TESSERA_DEMO_LISTEN", "127.0.0.1:3000");
    HttpServer::new(move || {
        let settings = settings.clone();
        App::new().configure(move |cfg| routes(cfg, &settings))
    })
    .workers(1)
    .bind(&listen)?
    .run()
    .await
}
