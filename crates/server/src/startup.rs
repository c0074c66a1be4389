//! Building and running the application.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use chrono::Utc;
use tessera_admin::ConfigService;
use tessera_admin::http::{AdminAuth, AdminCredentials, AdminState};
use tessera_admin::secrets::ConfigSecrets;
use tessera_authn::http::AuthnState;
use tessera_authn::limits::AttemptLimits;
use tessera_oauth_core::keys::{KeyEncryptionKey, SigningKeys};
use tessera_oauth_core::{OAuthState, root_routes, routes};
use tessera_store::{PoolSettings, Store, migrations};
use thiserror::Error;
use tracing_actix_web::TracingLogger;

use crate::http::{self, AppMetrics, RequestSpans};
use crate::settings::{KekSource, Settings};

use crate::tls;

/// The demo configuration committed as version 1 on an empty database in development, unless
/// `admin.initial_config` names another file. Its client secrets are public.
pub const BASE_XML: &str = include_str!("../../../config/base.xml");

/// What an empty production database starts with when `admin.initial_config` names no file:
/// nothing — no clients, no authenticators — rather than the demo's clients and public secrets.
pub const EMPTY_XML: &str = r#"<config xmlns="http://tail-f.com/ns/config/1.0"/>"#;

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
    /// The configuration could not be loaded or initialised.
    #[error("configuration: {0}")]
    Config(#[from] tessera_admin::ConfigError),
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
    /// The internal listener of `server.metrics_listen`, stopped with the server.
    metrics_server: Option<Server>,
    store: Store,
    keys: Arc<SigningKeys>,
    config: ConfigService,
}

/// Opens the configuration history, committing the initial configuration on an empty database.
pub async fn open_config(
    settings: &Settings,
    store: Store,
    kek: KeyEncryptionKey,
) -> Result<ConfigService, StartupError> {
    let initial = match &settings.admin.initial_config {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            StartupError::Other(format!(
                "invalid setting admin.initial_config ({}): {e}",
                path.display()
            ))
        })?,
        None if settings.server.development => BASE_XML.to_owned(),
        None => EMPTY_XML.to_owned(),
    };
    let secrets = ConfigSecrets::new(kek).map_err(|e| StartupError::Other(e.to_string()))?;
    let service = ConfigService::open(store, secrets, initial).await?;
    if service.active().load().config.clients.is_empty() {
        tracing::warn!(
            "the configuration has no OAuth clients yet: upload one (tessera config upload, \
             /admin, or admin.initial_config on a new database); see docs/configuration.md"
        );
    }
    Ok(service)
}

fn admin_credentials(settings: &Settings) -> AdminCredentials {
    let admin = &settings.admin;
    if settings.server.development && admin.password_hash.is_none() && admin.token_sha256.is_none()
    {
        tracing::warn!("development mode: the admin credentials are admin / admin");
        return AdminCredentials::Development;
    }
    AdminCredentials::Configured {
        username: admin.username.clone(),
        password_hash: admin.password_hash.clone(),
        token_sha256: admin.token_sha256.clone(),
    }
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
        let keys = Arc::new(SigningKeys::open(store.clone(), kek.clone(), Utc::now()).await?);
        let config = open_config(&settings, store.clone(), kek).await?;

        let addr = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError::Other(e.to_string()))?
            .port();

        let oauth = web::Data::new(
            OAuthState::new(
                settings.server.issuer.clone(),
                Arc::clone(&keys),
                Arc::clone(config.active()),
                config.secrets().clone(),
                store.clone(),
            )
            .map_err(|e| StartupError::Other(e.to_string()))?
            .with_client_limits(
                settings.server.trusted_proxies.clone(),
                settings.limits.sign_ins_per_address,
            ),
        );
        let metrics = web::Data::new(
            AppMetrics::new(store.clone()).map_err(|e| StartupError::Other(e.to_string()))?,
        );
        // One argon2 pool, as many hashes at once as there are cores, for the sign-in pages
        // and the admin's password alike.
        let passwords = tessera_admin::crypto::passwords::Passwords::new(
            std::thread::available_parallelism().map_or(2, |n| n.get()),
        )
        .map_err(|e| StartupError::Other(e.to_string()))?;
        let admin = AdminState::new(
            config.clone(),
            AdminAuth::new(admin_credentials(&settings), passwords.clone())
                .with_attempt_limits(store.clone(), settings.server.trusted_proxies.clone()),
            settings.server.issuer.is_https(),
        )
        .map_err(|e| StartupError::Other(format!("admin templates: {e}")))?;
        let csrf_key = config
            .secrets()
            .subkey("tessera/login-csrf/v1")
            .map_err(|e| StartupError::Other(e.to_string()))?;
        let authn = web::Data::new(
            AuthnState::new(
                store.clone(),
                passwords,
                Arc::clone(config.active()),
                csrf_key,
                settings.server.issuer.is_https(),
                settings.server.issuer.path().to_owned(),
                tessera_authn::http::Limits {
                    password: AttemptLimits {
                        per_username: settings.limits.password_attempts_per_username,
                        per_address: settings.limits.password_attempts_per_address,
                        per_account: tessera_authn::limits::PASSWORD_ATTEMPTS_PER_ACCOUNT,
                        window: settings.limits.password_window,
                    },
                    email: tessera_authn::limits::EMAIL_LIMITS,
                    sign_ins_per_address: settings.limits.sign_ins_per_address,
                    trusted_proxies: settings.server.trusted_proxies.clone(),
                },
            )
            .map_err(|e| StartupError::Other(format!("login templates: {e}")))?
            .with_passkeys(passkey_relying_party(settings.server.issuer.as_str()))
            .with_mail(config.secrets().clone(), settings.server.issuer.as_str())
            .with_mail_drop(settings.mail.drop_folder.clone()),
        );
        let admin =
            web::Data::new(admin.with_recovery_mail(Arc::new(authn.recovery_invitations())));
        let scim = web::Data::new(tessera_scim::ScimState::new(
            store.clone(),
            settings.server.issuer.origin(),
        ));
        let home = web::Data::new(http::HomePage::new(
            settings.server.issuer.as_str(),
            settings.server.development,
        ));
        let ops = web::Data::new(http::OpsState {
            store: store.clone(),
        });
        let issuer = settings.server.issuer.clone();
        let hsts = settings.tls.is_some() || issuer.is_https();
        let body_limit = settings.server.max_body_bytes;

        let metrics_public = settings.server.metrics_listen.is_none();
        let metrics_server = match settings.server.metrics_listen {
            Some(addr) => Some(internal_server(addr, metrics.clone(), ops.clone())?),
            None => None,
        };
        let active = Arc::clone(config.active());
        let app = move || {
            let issuer = issuer.clone();
            let active = Arc::clone(&active);
            App::new()
                .app_data(oauth.clone())
                .app_data(metrics.clone())
                .app_data(ops.clone())
                .app_data(home.clone())
                .app_data(admin.clone())
                .app_data(authn.clone())
                .app_data(scim.clone())
                .app_data(web::PayloadConfig::new(body_limit))
                .app_data(web::FormConfig::default().limit(body_limit))
                .app_data(web::JsonConfig::default().limit(body_limit))
                .wrap(http::security_headers(hsts))
                .wrap(actix_web::middleware::from_fn(http::record_metrics))
                .wrap(actix_web::middleware::from_fn(http::echo_request_id))
                .wrap(TracingLogger::<RequestSpans>::new())
                .configure(|cfg| http::ops_routes(cfg, metrics_public))
                .route("/", web::get().to(http::home))
                .configure(tessera_admin::http::routes)
                .configure(tessera_scim::routes)
                .configure(|cfg| root_routes(cfg, &issuer))
                .service(
                    web::scope(issuer.path())
                        .configure(|cfg| routes(cfg, &active))
                        .configure(tessera_authn::http::routes),
                )
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

        let refreshing = Arc::clone(&keys);
        spawn_refresher("signing keys", settings.keys.refresh_interval, move || {
            let keys = Arc::clone(&refreshing);
            async move { keys.refresh().await }
        });
        let refreshing = config.clone();
        spawn_refresher(
            "configuration",
            settings.admin.refresh_interval,
            move || {
                let config = refreshing.clone();
                async move { config.refresh().await }
            },
        );
        spawn_housekeeping(store.clone());
        Ok(Application {
            port,
            server,
            metrics_server,
            store,
            keys,
            config,
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

    /// The configuration service.
    pub fn config(&self) -> &ConfigService {
        &self.config
    }

    /// A handle that can stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped by a signal or the handle.
    pub async fn run(self) -> std::io::Result<()> {
        let Some(internal) = self.metrics_server else {
            return self.server.await;
        };
        let handle = internal.handle();
        let internal = tokio::spawn(internal);
        let served = self.server.await;
        handle.stop(true).await;
        let _ = internal.await;
        served
    }
}

/// The internal listener of `server.metrics_listen`: `/metrics`, `/healthz` and `/readyz`,
/// plain HTTP, one worker.
fn internal_server(
    addr: std::net::SocketAddr,
    metrics: web::Data<http::AppMetrics>,
    ops: web::Data<http::OpsState>,
) -> Result<Server, StartupError> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .app_data(ops.clone())
            .configure(|cfg| http::ops_routes(cfg, true))
            .default_service(web::to(http::not_found))
    })
    .workers(1)
    .shutdown_timeout(5)
    .bind(addr)
    .map_err(|source| StartupError::Bind {
        addr: addr.to_string(),
        source,
    })?
    .run();
    tracing::info!(address = %addr, "metrics and health served on the internal listener");
    Ok(server)
}

/// The passkey relying party of the issuer. WebAuthn needs a domain name: an issuer on an IP
/// address serves everything but passkeys, and says so once.
fn passkey_relying_party(issuer: &str) -> Option<tessera_authn::passkeys::Passkeys> {
    match tessera_authn::passkeys::Passkeys::new(issuer, "Tessera") {
        Ok(passkeys) => Some(passkeys),
        Err(e) => {
            tracing::warn!(error = %e, "passkeys are off");
            None
        }
    }
}

/// Deletes expired sign-in state every few minutes; every instance may do it.
fn spawn_housekeeping(store: Store) {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(300);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = chrono::Utc::now();
            match store
                .run(move |conn| tessera_store::housekeeping::purge_expired(conn, now))
                .await
            {
                Ok(purged) => tracing::debug!(?purged, "purged expired sign-in state"),
                Err(e) => tracing::warn!(error = %e, "cannot purge expired sign-in state"),
            }
        }
    });
}

/// Polls for changes made by other instances, so they are served without a restart.
/// Failures are logged once per outage, not once per poll.
fn spawn_refresher<F, Fut, E>(what: &'static str, every: std::time::Duration, mut poll: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<bool, E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            ticker.tick().await;
            match poll().await {
                Ok(changed) => {
                    if failing {
                        tracing::info!(what, "reachable again");
                    }
                    if changed {
                        tracing::info!(what, "changed elsewhere; reloaded");
                    }
                    failing = false;
                }
                Err(e) if !failing => {
                    tracing::warn!(what, error = %e, "cannot refresh; serving the cached copy");
                    failing = true;
                }
                Err(_) => {}
            }
        }
    });
}
