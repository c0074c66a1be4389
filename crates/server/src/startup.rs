//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use chrono::Utc;
use tessera_oauth_core::keys::{KeyEncryptionKey, SigningKeys};
use tessera_oauth_core::{OAuthState, root_routes, routes};
use tessera_store::{PoolSettings, Store, migrations};
use thiserror::Error;
use tracing_actix_web::TracingLogger;

use crate::http::{self, AppMetrics, RequestSpans};
use crate::settings::{KekSource, Settings};
use crate::tls;

/// Why the server could not start. Each is reported as one line and exit status 2.
#[derive(Debug, Error)]
pub enum StartupError {
    /// The database is unreachable or refused the migrations.
    #[error("{0}")]
    Database(#[from] tessera_store::StoreError),
    /// Signing keys could not be loaded or generated.
    #[error("signing keys: {0}")]
    Keys(#[from] tessera_oauth_core::keys::KeyError),
    /// The key-encryption key could not be read or created.
    #[error("keys.development_key_file {path}: {reason}")]
    DevelopmentKey {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// TLS material is unusable.
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    /// The listen address could not be bound.
    #[error("server.listen {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// Anything else while assembling the app.
    #[error("{0}")]
    Other(String),
}

/// Opens the pool and checks that the database answers.
pub fn open_store(settings: &Settings) -> Result<Store, StartupError> {
    Ok(Store::connect(&PoolSettings {
        url: settings.database.url.clone(),
        max_size: settings.database.pool_size,
        connect_timeout: settings.database.connect_timeout,
    })?)
}

/// The key-encryption key from the settings, or in development the one kept in (or newly
/// written to) the development key file.
pub fn resolve_kek(settings: &Settings) -> Result<KeyEncryptionKey, StartupError> {
    let path = match &settings.keys.encryption_key {
        KekSource::Key(kek) => return Ok(kek.clone()),
        KekSource::DevelopmentFile(path) => path,
    };
    let fail = |reason: String| StartupError::DevelopmentKey {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => KeyEncryptionKey::from_base64(&text).map_err(|e| fail(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let encoded = KeyEncryptionKey::generate_base64().map_err(|e| fail(e.to_string()))?;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
            }
            write_private_file(path, &encoded).map_err(|e| fail(e.to_string()))?;
            tracing::warn!(
                path = %path.display(),
                "development mode: generated a key-encryption key; set keys.encryption_key in production"
            );
            KeyEncryptionKey::from_base64(&encoded).map_err(|e| fail(e.to_string()))
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

#[cfg(unix)]
fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    keys: Arc<SigningKeys>,
}

impl Application {
    /// Connects to the database, applies migrations, loads (or generates) signing keys, binds
    /// the listen address and assembles the app. Nothing is served until [`Self::run`].
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let addr = settings.server.listen;
        let listener = TcpListener::bind(addr).map_err(|source| StartupError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        Self::build_on(settings, listener).await
    }

    /// As [`Self::build`], on an already bound listener (tests bind port 0 first so that the
    /// issuer URL can name the port).
    pub async fn build_on(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let kek = resolve_kek(&settings)?;
        let store = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || -> Result<Store, StartupError> {
                let store = open_store(&settings)?;
                let mut conn = store.conn()?;
                let applied = migrations::run_pending(&mut conn)?;
                if !applied.is_empty() {
                    tracing::info!(?applied, "applied database migrations");
                }
                Ok(store)
            })
            .await
            .map_err(|e| StartupError::Other(e.to_string()))??
        };
        let keys = Arc::new(SigningKeys::open(store.clone(), kek, Utc::now()).await?);

        let addr = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?
            .port();

        let oauth = web::Data::new(
            OAuthState::new(settings.server.issuer.clone(), Arc::clone(&keys))
                .map_err(|e| StartupError::Other(e.to_string()))?,
        );
        let metrics = web::Data::new(
            AppMetrics::new(store.clone()).map_err(|e| StartupError::Other(e.to_string()))?,
        );
        let ops = web::Data::new(http::OpsState {
            store: store.clone(),
        });
        let issuer = settings.server.issuer.clone();
        let hsts = settings.tls.is_some() || issuer.is_https();
        let body_limit = settings.server.max_body_bytes;

        let app = move || {
            let issuer = issuer.clone();
            App::new()
                .app_data(oauth.clone())
                .app_data(metrics.clone())
                .app_data(ops.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(web::FormConfig::default().limit(body_limit))
                .app_data(web::JsonConfig::default().limit(body_limit))
                .wrap(http::security_headers(hsts))
                .wrap(actix_web::middleware::from_fn(http::record_metrics))
                .wrap(actix_web::middleware::from_fn(http::echo_request_id))
                .wrap(TracingLogger::<RequestSpans>::new())
                .configure(http::ops_routes)
                .configure(|cfg| root_routes(cfg, &issuer))
                .service(web::scope(issuer.path()).configure(routes))
                .default_service(web::to(http::not_found))
        };
        let mut server = HttpServer::new(app).shutdown_timeout(5);
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = match &settings.tls {
            Some(tls_settings) => {
                let config = tls::server_config(tls_settings)?;
                server.listen_rustls_0_23(listener, config)
            }
            None => server.listen(listener),
        }
        .map_err(|source| StartupError::Bind {
            addr: addr.to_string(),
            source,
        })?
        .run();

        spawn_key_refresher(Arc::clone(&keys), settings.keys.refresh_interval);
        Ok(Application {
            port,
            server,
            store,
            keys,
        })
    }

    /// The bound port (useful when listening on port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database pool (tests inspect state through it).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The live signing keys.
    pub fn keys(&self) -> &Arc<SigningKeys> {
        &self.keys
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped by a signal or the handle.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Polls the key table so rotations made by other instances (or `tessera keys rotate`) are
/// served without a restart. Failures are logged once per outage, not once per poll.
fn spawn_key_refresher(keys: Arc<SigningKeys>, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            match keys.refresh().await {
                Ok(changed) => {
                    if failing {
                        tracing::info!("signing keys reachable again");
                    }
                    if changed {
                        tracing::info!("signing keys changed; reloaded");
                    }
                    failing = false;
                }
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "cannot refresh signing keys; serving cached keys");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    });
}
