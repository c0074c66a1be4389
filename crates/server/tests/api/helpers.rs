//! Spawning the application in-process (`spawn_app`) or as real `tessera` processes.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tessera_oauth_core::keys::KeyEncryptionKey;
use tessera_server::Application;
use tessera_server::settings::Settings;
use tessera_testkit::TestDatabase;

/// The demo configuration, which the tests' servers start with.
pub const BASE_XML_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/base.xml");

/// A running in-process server on its own database.
pub struct TestApp {
    /// `http(s)://127.0.0.1:PORT` (no issuer path).
    pub origin: String,
    /// The issuer URL.
    pub issuer: String,
    pub port: u16,
    pub db: TestDatabase,
    pub client: reqwest::Client,
    pub app_keys: std::sync::Arc<tessera_oauth_core::keys::SigningKeys>,
    pub config: tessera_admin::ConfigService,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the runtime ends with the test.
        drop(self.handle.stop(false));
    }
}

/// How to adjust a test server.
#[derive(Default)]
pub struct Options {
    /// Path part of the issuer, e.g. "/tenant".
    pub issuer_path: &'static str,
    /// Extra environment-style settings (`TESSERA_…` → value).
    pub env: Vec<(&'static str, String)>,
    /// Use this database URL instead of the test database's own.
    pub database_url: Option<String>,
    /// Serve HTTPS with this (cert, key) PEM file pair, issuer on `localhost`.
    pub tls: Option<(String, String)>,
    /// Reuse an existing database.
    pub db: Option<TestDatabase>,
    /// Reuse a key-encryption key.
    pub kek: Option<String>,
    /// Issuer on `http://localhost:PORT` rather than `127.0.0.1` (WebAuthn needs a domain).
    pub localhost: bool,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        tessera_server::telemetry::init(&tessera_server::settings::LogSettings {
            format: tessera_server::settings::LogFormat::Pretty,
            filter: "debug".into(),
        });
    }
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    init_logs();
    let db = options.db.unwrap_or_default();
    let kek = options
        .kek
        .unwrap_or_else(|| KeyEncryptionKey::generate_base64().unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (scheme, host) = match (&options.tls, options.localhost) {
        (Some(_), _) => ("https", "localhost"),
        (None, true) => ("http", "localhost"),
        (None, false) => ("http", "127.0.0.1"),
    };
    let origin = format!("{scheme}://{host}:{port}");
    let issuer = format!("{origin}{}", options.issuer_path);

    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("TESSERA_SERVER_ISSUER".into(), issuer.clone());
    env.insert("TESSERA_SERVER_WORKERS".into(), "2".into());
    env.insert(
        "TESSERA_DATABASE_URL".into(),
        options.database_url.unwrap_or_else(|| db.url().to_owned()),
    );
    env.insert("TESSERA_DATABASE_POOL_SIZE".into(), "4".into());
    env.insert("TESSERA_KEYS_ENCRYPTION_KEY".into(), kek.clone());
    env.insert("TESSERA_KEYS_REFRESH_INTERVAL".into(), "200ms".into());
    // The tests sign in with the demo clients, which only development starts with by itself.
    env.insert("TESSERA_ADMIN_INITIAL_CONFIG".into(), BASE_XML_PATH.into());
    if let Some((cert, key)) = &options.tls {
        env.insert("TESSERA_TLS_CERT_FILE".into(), cert.clone());
        env.insert("TESSERA_TLS_KEY_FILE".into(), key.clone());
    }
    for (k, v) in options.env {
        env.insert(k.into(), v);
    }
    let settings = Settings::load(Path::new("/nonexistent/tessera.toml"), false, &|k| {
        env.get(k).cloned()
    })
    .expect("test settings are valid");
    let app = Application::build_on(settings, listener)
        .await
        .expect("application starts");
    let handle = app.handle();
    let app_keys = app.keys().clone();
    let config = app.config().clone();
    tokio::spawn(app.run());
    TestApp {
        origin,
        issuer,
        port,
        db,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        app_keys,
        config,
        handle,
    }
}

impl TestApp {
    pub async fn get(&self, path_under_issuer: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.issuer, path_under_issuer))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_root(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.origin, path))
            .send()
            .await
            .expect("request sent")
    }
}

/// A free TCP port on loopback (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `tessera` child process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub port: u16,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tessera` command with a hermetic environment: no settings file, the given database and
/// key-encryption key.
pub fn tessera(database_url: &str, kek: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.current_dir(std::env::temp_dir())
        .env_remove("DATABASE_URL")
        .env_remove("TESSERA_CONFIG")
        .env_remove("RUST_LOG")
        .env("TESSERA_DATABASE_URL", database_url)
        .env("TESSERA_KEYS_ENCRYPTION_KEY", kek)
        .env("TESSERA_KEYS_REFRESH_INTERVAL", "250ms")
        .env("TESSERA_ADMIN_INITIAL_CONFIG", BASE_XML_PATH)
        .env("TESSERA_LOG_FORMAT", "json")
        .stdin(Stdio::null());
    cmd
}

/// Starts `tessera serve` on a free port and waits until `/readyz` answers 200.
/// Returns the process and the time from spawn to ready.
pub async fn serve_process(mut command: Command) -> (Process, Duration) {
    let port = free_port();
    let started = Instant::now();
    let child = command
        .env("TESSERA_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env("TESSERA_SERVER_ISSUER", format!("http://127.0.0.1:{port}"))
        .env("TESSERA_SERVER_WORKERS", "1")
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tessera serve");
    let process = Process { child, port };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && res.status() == 200
        {
            return (process, started.elapsed());
        }
        assert!(
            Instant::now() < deadline,
            "tessera serve did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls `check` until it holds or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The sorted kids of a JWKS document.
pub fn kids(jwks: &serde_json::Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .expect("keys array")
        .iter()
        .map(|k| k["kid"].as_str().expect("kid").to_owned())
        .collect();
    kids.sort();
    kids
}

/// Configuration XML to merge: an SMTP provider at `smtp_port` (the zone default), an `email`
/// authenticator that sends codes, and `extra` (more top-level elements).
pub fn email_config(smtp_port: u16, extra: &str) -> Vec<u8> {
    format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0">
  <environments xmlns="https://curity.se/ns/conf/base"><environment><services><zones><default-zone>
    <email-provider>smtp</email-provider>
  </default-zone></zones></services></environment></environments>
  <facilities xmlns="https://curity.se/ns/conf/base"><email-providers><email-provider>
    <id>smtp</id>
    <smtp><smtp-host>127.0.0.1</smtp-host><smtp-port>{smtp_port}</smtp-port><tls>none</tls>
      <default-sender>noreply@login.example.com</default-sender></smtp>
  </email-provider></email-providers></facilities>
  {extra}
  <profiles xmlns="https://curity.se/ns/conf/base"><profile><id>authentication-service</id>
    <type xmlns:auth="https://curity.se/ns/conf/profile/authentication">auth:authentication-service</type>
    <settings><authentication-service xmlns="https://curity.se/ns/conf/profile/authentication">
      <authenticators><authenticator><id>email</id>
        <email><account-manager>default-account-manager</account-manager><send-otp-as-code/></email>
      </authenticator></authenticators>
    </authentication-service></settings>
  </profile></profiles>
</config>"#
    )
    .into_bytes()
}
