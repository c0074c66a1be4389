//! Settings: typed, loaded from a TOML file and overridden by `TESSERA_<SECTION>_<KEY>`
//! environment variables (and `DATABASE_URL`).
//!
//! Loading goes through a schema of known keys, so a typo in a key is an error rather than a
//! silently ignored line, and every error names the key it is about. Email providers,
//! authenticators and clients are not settings: they live in the configuration XML.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use tessera_oauth_core::Issuer;
use tessera_oauth_core::keys::KeyEncryptionKey;

/// Every setting, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `[server]`
    pub server: ServerSettings,
    /// `[tls]`; `None` serves plain HTTP (behind a TLS-terminating proxy).
    pub tls: Option<TlsSettings>,
    /// `[database]`
    pub database: DatabaseSettings,
    /// `[keys]`
    pub keys: KeySettings,
    /// `[log]`
    pub log: LogSettings,
    /// `[admin]`
    pub admin: AdminSettings,
    /// `[limits]`
    pub limits: LimitSettings,
    /// `[mail]`
    pub mail: MailSettings,
}

/// `[mail]`
#[derive(Debug, Clone, Default)]
pub struct MailSettings {
    /// Development only: where mail goes (as `.eml` files, its code or link also logged)
    /// instead of through the configured email providers.
    pub drop_folder: Option<PathBuf>,
}

/// `[limits]`: attempt limits, counted in PostgreSQL across all instances.
#[derive(Debug, Clone, Copy)]
pub struct LimitSettings {
    /// Password attempts allowed per username per window.
    pub password_attempts_per_username: u32,
    /// Password attempts allowed per client address per window.
    pub password_attempts_per_address: u32,
    /// The counting window.
    pub password_window: Duration,
    /// Sign-ins one client address may start per 15 minutes.
    pub sign_ins_per_address: u32,
}

/// `[admin]`
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Admin username.
    pub username: String,
    /// argon2 PHC hash of the admin password (`tessera admin hash-password`).
    pub password_hash: Option<String>,
    /// SHA-256 (hex) of the admin bearer token.
    pub token_sha256: Option<Vec<u8>>,
    /// Configuration committed as version 1 on an empty database (`None`: the built-in demo).
    pub initial_config: Option<PathBuf>,
    /// How often each instance looks for configuration versions committed elsewhere.
    pub refresh_interval: Duration,
}

/// `[server]`
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Socket address to bind.
    pub listen: SocketAddr,
    /// An internal address serving `/metrics`, `/healthz` and `/readyz` (then `/metrics` is not
    /// served on `listen`); `None` serves them all on `listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// Public issuer URL.
    pub issuer: Issuer,
    /// Development mode: local key-encryption key, http issuer allowed.
    pub development: bool,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// `[tls]`
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// `[database]`
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// Connection URL.
    pub url: String,
    /// Most connections per process.
    pub pool_size: u32,
    /// Longest wait for a connection.
    pub connect_timeout: Duration,
}

/// `[keys]`
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// Where the key-encryption key comes from.
    pub encryption_key: KekSource,
    /// Delay between publishing a rotated key and signing with it.
    pub activation_delay: Duration,
    /// How long a retired key stays published.
    pub retention: Duration,
    /// How often the key table is checked for changes made by other instances.
    pub refresh_interval: Duration,
}

/// The key-encryption key, or where development mode keeps one.
#[derive(Clone)]
pub enum KekSource {
    /// Given in the settings.
    Key(KeyEncryptionKey),
    /// Development: generated once and kept in this file.
    DevelopmentFile(PathBuf),
}

impl fmt::Debug for KekSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KekSource::Key(_) => f.write_str("Key(..)"),
            KekSource::DevelopmentFile(p) => write!(f, "DevelopmentFile({})", p.display()),
        }
    }
}

/// `[log]`
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Output format.
    pub format: LogFormat,
    /// `tracing` filter directive (overridden by `RUST_LOG`).
    pub filter: String,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A setting that is missing or wrong: names the key and the problem, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// `section.key`, or the file for file-level problems.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.key, self.problem)
    }
}

impl std::error::Error for SettingsError {}

fn err(key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.to_owned(),
        problem: problem.into().replace('\n', " "),
    }
}

/// The kinds of value a key may hold.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
    List,
}

/// Every known key with its kind and default, in file order.
const SCHEMA: &[(&str, &str, Kind, &str)] = &[
    ("server", "listen", Kind::Str, "127.0.0.1:8080"),
    ("server", "metrics_listen", Kind::Str, ""),
    ("server", "issuer", Kind::Str, "http://localhost:8080"),
    ("server", "development", Kind::Bool, "false"),
    ("server", "workers", Kind::Int, "0"),
    ("server", "trusted_proxies", Kind::List, ""),
    ("server", "max_body_bytes", Kind::Int, "1048576"),
    ("tls", "cert_file", Kind::Str, ""),
    ("tls", "key_file", Kind::Str, ""),
    (
        "database",
        "url",
        Kind::Str,
        "postgres://postgres@127.0.0.1:5432/tessera",
    ),
    ("database", "pool_size", Kind::Int, "16"),
    ("database", "connect_timeout", Kind::Str, "5s"),
    ("keys", "encryption_key", Kind::Str, ""),
    (
        "keys",
        "development_key_file",
        Kind::Str,
        ".tessera/dev-kek",
    ),
    ("keys", "activation_delay", Kind::Str, "1h"),
    ("keys", "retention", Kind::Str, "25h"),
    ("keys", "refresh_interval", Kind::Str, "1s"),
    ("admin", "username", Kind::Str, "admin"),
    ("admin", "password_hash", Kind::Str, ""),
    ("admin", "token_sha256", Kind::Str, ""),
    ("admin", "initial_config", Kind::Str, ""),
    ("admin", "refresh_interval", Kind::Str, "500ms"),
    ("limits", "password_attempts_per_username", Kind::Int, "10"),
    ("limits", "password_attempts_per_address", Kind::Int, "100"),
    ("limits", "password_window", Kind::Str, "15m"),
    ("limits", "sign_ins_per_address", Kind::Int, "1000"),
    ("mail", "drop_folder", Kind::Str, ""),
    ("log", "format", Kind::Str, "pretty"),
    ("log", "filter", Kind::Str, "info"),
];

/// Raw values by `section.key` after file and environment, before validation.
type Raw = BTreeMap<String, String>;

impl Settings {
    /// Loads settings from `file` (when it exists; `required` makes a missing file an error)
    /// and the given environment.
    pub fn load(
        file: &Path,
        required: bool,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => None,
            Err(e) => return Err(err(&file.display().to_string(), e.to_string())),
        };
        let mut raw = defaults();
        if let Some(text) = text {
            apply_file(&mut raw, &text, file)?;
        }
        apply_env(&mut raw, env);
        Self::from_raw(&raw)
    }

    fn from_raw(raw: &Raw) -> Result<Self, SettingsError> {
        let get = |key: &str| raw.get(key).map(String::as_str).unwrap_or_default();
        let development = parse_bool("server.development", get("server.development"))?;

        let listen = get("server.listen").parse::<SocketAddr>().map_err(|_| {
            err(
                "server.listen",
                format!(
                    "{:?} is not a socket address (expected host:port, e.g. 127.0.0.1:8080)",
                    get("server.listen")
                ),
            )
        })?;
        let metrics_listen = match get("server.metrics_listen") {
            "" => None,
            addr => Some(addr.parse::<SocketAddr>().map_err(|_| {
                err(
                    "server.metrics_listen",
                    format!(
                        "{addr:?} is not a socket address (expected host:port, e.g. 127.0.0.1:9090)"
                    ),
                )
            })?),
        };
        let issuer = Issuer::parse(get("server.issuer"), development)
            .map_err(|e| err("server.issuer", e.to_string()))?;
        let trusted_proxies = parse_list(get("server.trusted_proxies"))
            .into_iter()
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        err(
                            "server.trusted_proxies",
                            format!("{item:?} is not an IP address or CIDR range"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let server = ServerSettings {
            listen,
            metrics_listen,
            issuer,
            development,
            workers: parse_int("server.workers", get("server.workers"), 0, 1024)?,
            trusted_proxies,
            max_body_bytes: parse_int(
                "server.max_body_bytes",
                get("server.max_body_bytes"),
                1024,
                64 * 1024 * 1024,
            )?,
        };

        let tls = match (get("tls.cert_file"), get("tls.key_file")) {
            ("", "") => None,
            ("", _) => return Err(err("tls.cert_file", "missing while tls.key_file is set")),
            (_, "") => return Err(err("tls.key_file", "missing while tls.cert_file is set")),
            (cert, key) => Some(TlsSettings {
                cert_file: cert.into(),
                key_file: key.into(),
            }),
        };

        let url = get("database.url");
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(err(
                "database.url",
                "must be a postgres:// or postgresql:// URL",
            ));
        }
        let database = DatabaseSettings {
            url: url.to_owned(),
            pool_size: parse_int("database.pool_size", get("database.pool_size"), 1, 1000)?,
            connect_timeout: parse_duration("database.connect_timeout", raw)?,
        };

        let encryption_key = match get("keys.encryption_key") {
            "" if development => {
                KekSource::DevelopmentFile(get("keys.development_key_file").into())
            }
            "" => {
                return Err(err(
                    "keys.encryption_key",
                    "missing (required unless server.development = true; generate one with `openssl rand -base64 32`)",
                ));
            }
            value => KekSource::Key(
                KeyEncryptionKey::from_base64(value)
                    .map_err(|e| err("keys.encryption_key", e.to_string()))?,
            ),
        };
        let keys = KeySettings {
            encryption_key,
            activation_delay: parse_duration("keys.activation_delay", raw)?,
            retention: parse_duration("keys.retention", raw)?,
            refresh_interval: parse_duration("keys.refresh_interval", raw)?,
        };
        if keys.refresh_interval < Duration::from_millis(100) {
            return Err(err("keys.refresh_interval", "must be at least 100ms"));
        }

        let log = LogSettings {
            format: match get("log.format") {
                "pretty" => LogFormat::Pretty,
                "json" => LogFormat::Json,
                other => {
                    return Err(err(
                        "log.format",
                        format!("{other:?} is not one of \"pretty\", \"json\""),
                    ));
                }
            },
            filter: get("log.filter").to_owned(),
        };

        let password_hash = match get("admin.password_hash") {
            "" => None,
            h if h.starts_with("$argon2") => Some(h.to_owned()),
            _ => {
                return Err(err(
                    "admin.password_hash",
                    "must be an argon2 PHC string (make one with `tessera admin hash-password`)",
                ));
            }
        };
        let token_sha256 = match get("admin.token_sha256") {
            "" => None,
            hex => Some(decode_hex(hex).filter(|b| b.len() == 32).ok_or_else(|| {
                err(
                    "admin.token_sha256",
                    "must be 64 hex digits (the SHA-256 of the token, e.g. `printf %s TOKEN | sha256sum`)",
                )
            })?),
        };
        let admin = AdminSettings {
            username: get("admin.username").to_owned(),
            password_hash,
            token_sha256,
            initial_config: Some(get("admin.initial_config"))
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            refresh_interval: parse_duration("admin.refresh_interval", raw)?,
        };
        if admin.username.is_empty() {
            return Err(err("admin.username", "must not be empty"));
        }
        if admin.refresh_interval < Duration::from_millis(50)
            || admin.refresh_interval > Duration::from_secs(1)
        {
            return Err(err(
                "admin.refresh_interval",
                "must be between 50ms and 1s (instances switch within one second)",
            ));
        }

        let limits = LimitSettings {
            password_attempts_per_username: parse_int(
                "limits.password_attempts_per_username",
                get("limits.password_attempts_per_username"),
                1,
                1_000_000,
            )?,
            password_attempts_per_address: parse_int(
                "limits.password_attempts_per_address",
                get("limits.password_attempts_per_address"),
                1,
                100_000_000,
            )?,
            password_window: parse_duration("limits.password_window", raw)?,
            sign_ins_per_address: parse_int(
                "limits.sign_ins_per_address",
                get("limits.sign_ins_per_address"),
                1,
                100_000_000,
            )?,
        };
        if limits.password_window < Duration::from_secs(1)
            || limits.password_window > Duration::from_secs(86_400)
        {
            return Err(err("limits.password_window", "must be between 1s and 24h"));
        }

        let mail = MailSettings {
            drop_folder: match get("mail.drop_folder") {
                "" => None,
                _ if !development => {
                    return Err(err(
                        "mail.drop_folder",
                        "is for development only (it logs sign-in codes); set server.development = true or remove it",
                    ));
                }
                folder => Some(PathBuf::from(folder)),
            },
        };

        Ok(Settings {
            admin,
            limits,
            mail,
            server,
            tls,
            database,
            keys,
            log,
        })
    }
}

fn defaults() -> Raw {
    SCHEMA
        .iter()
        .map(|(section, key, _, default)| (format!("{section}.{key}"), (*default).to_owned()))
        .collect()
}

fn kind_of(section: &str, key: &str) -> Option<Kind> {
    SCHEMA
        .iter()
        .find(|(s, k, _, _)| *s == section && *k == key)
        .map(|(_, _, kind, _)| *kind)
}

fn apply_file(raw: &mut Raw, text: &str, file: &Path) -> Result<(), SettingsError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| err(&file.display().to_string(), e.message()))?;
    for (section, value) in table {
        let toml::Value::Table(entries) = value else {
            return Err(err(&section, "expected a [section] table"));
        };
        for (key, value) in entries {
            let name = format!("{section}.{key}");
            let Some(kind) = kind_of(&section, &key) else {
                return Err(err(&name, "unknown setting"));
            };
            let text = match (kind, value) {
                (Kind::Str, toml::Value::String(s)) => s,
                (Kind::Int, toml::Value::Integer(i)) => i.to_string(),
                (Kind::Bool, toml::Value::Boolean(b)) => b.to_string(),
                (Kind::List, toml::Value::Array(items)) => {
                    let mut list = Vec::new();
                    for item in items {
                        let toml::Value::String(s) = item else {
                            return Err(err(&name, "expected a list of strings"));
                        };
                        list.push(s);
                    }
                    list.join(",")
                }
                (kind, other) => {
                    let expected = match kind {
                        Kind::Str => "a string",
                        Kind::Int => "an integer",
                        Kind::Bool => "true or false",
                        Kind::List => "a list of strings",
                    };
                    return Err(err(
                        &name,
                        format!("expected {expected}, found {}", other.type_str()),
                    ));
                }
            };
            raw.insert(name, text);
        }
    }
    Ok(())
}

fn apply_env(raw: &mut Raw, env: &dyn Fn(&str) -> Option<String>) {
    if let Some(url) = env("DATABASE_URL") {
        raw.insert("database.url".into(), url);
    }
    for (section, key, _, _) in SCHEMA {
        let var = format!("TESSERA_{}_{}", section.to_uppercase(), key.to_uppercase());
        if let Some(value) = env(&var) {
            raw.insert(format!("{section}.{key}"), value);
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, SettingsError> {
    match value.trim() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        other => Err(err(key, format!("{other:?} is not true or false"))),
    }
}

fn parse_int<T>(key: &str, value: &str, min: T, max: T) -> Result<T, SettingsError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let n: T = value
        .trim()
        .parse()
        .map_err(|_| err(key, format!("{value:?} is not a whole number")))?;
    if n < min || n > max {
        return Err(err(key, format!("{n} is outside {min}..={max}")));
    }
    Ok(n)
}

fn parse_duration(key: &str, raw: &Raw) -> Result<Duration, SettingsError> {
    let value = raw.get(key).map(String::as_str).unwrap_or_default();
    humantime::parse_duration(value.trim()).map_err(|_| {
        err(
            key,
            format!("{value:?} is not a duration (e.g. \"30s\", \"5m\", \"1h\")"),
        )
    })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.trim();
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn parse_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = std::env::temp_dir().join(format!("tessera-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{n}.toml"));
        std::fs::write(&path, file).unwrap();
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(&path, true, &|k| env.get(k).cloned())
    }

    const DEV: &str = "[server]\ndevelopment = true\n";

    #[test]
    fn the_mail_drop_folder_is_for_development_only() {
        let kek = KeyEncryptionKey::generate_base64().unwrap();
        let refused = load(
            "[mail]\ndrop_folder = \"target/mail\"\n",
            &[("TESSERA_KEYS_ENCRYPTION_KEY", &kek)],
        )
        .unwrap_err()
        .to_string();
        assert!(refused.contains("mail.drop_folder"), "{refused}");
        let dev = load(
            &format!("{DEV}[mail]\ndrop_folder = \"target/mail\"\n"),
            &[],
        )
        .unwrap();
        assert_eq!(dev.mail.drop_folder, Some(PathBuf::from("target/mail")));
        assert_eq!(load(DEV, &[]).unwrap().mail.drop_folder, None);
    }

    #[test]
    fn the_shipped_settings_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/tessera.toml");
        let s = Settings::load(&path, true, &|k| {
            (k == "TESSERA_SERVER_DEVELOPMENT").then(|| "true".to_owned())
        })
        .unwrap();
        assert_eq!(s.server.listen.port(), 8080);
    }

    #[test]
    fn environment_overrides_the_file() {
        let s = load(
            "[server]\ndevelopment = true\nlisten = \"127.0.0.1:1\"\n[database]\npool_size = 3\n",
            &[
                ("TESSERA_SERVER_LISTEN", "0.0.0.0:9000"),
                ("TESSERA_DATABASE_POOL_SIZE", "7"),
                ("TESSERA_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            ],
        )
        .unwrap();
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.database.pool_size, 7);
        assert_eq!(s.server.trusted_proxies.len(), 2);
    }

    #[test]
    fn database_url_is_honoured_and_tessera_variable_wins() {
        let s = load(DEV, &[("DATABASE_URL", "postgres://a@h/db1")]).unwrap();
        assert_eq!(s.database.url, "postgres://a@h/db1");
        let s = load(
            DEV,
            &[
                ("DATABASE_URL", "postgres://a@h/db1"),
                ("TESSERA_DATABASE_URL", "postgres://b@h/db2"),
            ],
        )
        .unwrap();
        assert_eq!(s.database.url, "postgres://b@h/db2");
    }

    #[test]
    fn each_bad_setting_names_its_key() {
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
        let cases: &[Case] = &[
            (
                DEV,
                &[("TESSERA_SERVER_LISTEN", "nonsense")],
                "server.listen",
            ),
            (DEV, &[("TESSERA_SERVER_ISSUER", "")], "server.issuer"),
            (
                DEV,
                &[("TESSERA_DATABASE_POOL_SIZE", "many")],
                "database.pool_size",
            ),
            (
                DEV,
                &[("TESSERA_DATABASE_POOL_SIZE", "0")],
                "database.pool_size",
            ),
            (
                DEV,
                &[("TESSERA_DATABASE_URL", "mysql://x")],
                "database.url",
            ),
            (DEV, &[("TESSERA_LOG_FORMAT", "xml")], "log.format"),
            (
                DEV,
                &[("TESSERA_KEYS_RETENTION", "forever")],
                "keys.retention",
            ),
            (
                DEV,
                &[("TESSERA_KEYS_ENCRYPTION_KEY", "short")],
                "keys.encryption_key",
            ),
            (DEV, &[("TESSERA_TLS_CERT_FILE", "/x.pem")], "tls.key_file"),
            ("", &[], "keys.encryption_key"),
            ("[server]\nlisen = \"x\"\n", &[], "server.lisen"),
            ("[server]\nworkers = \"two\"\n", &[], "server.workers"),
        ];
        for (file, env, key) in cases {
            let e = load(file, env).unwrap_err();
            assert_eq!(&e.key, key, "{file:?} {env:?} gave {e}");
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn a_missing_required_file_is_an_error_and_an_optional_one_is_not() {
        let missing = Path::new("/nonexistent/tessera.toml");
        assert!(Settings::load(missing, true, &|_| None).is_err());
        let s = Settings::load(missing, false, &|k| {
            (k == "TESSERA_SERVER_DEVELOPMENT").then(|| "true".to_owned())
        })
        .unwrap();
        assert!(s.server.development);
    }
}
