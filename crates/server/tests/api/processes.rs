//! The real `tessera` binary: exit status and messages, several instances on one database,
//! key rotation from the CLI.

use std::time::Duration;

use tessera_oauth_core::keys::KeyEncryptionKey;
use tessera_testkit::TestDatabase;

use crate::helpers::{eventually, kids, serve_process, tessera};

fn stderr_line(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).trim().to_owned()
}

#[test]
fn version_is_printed() {
    let out = tessera("postgres://x@127.0.0.1/x", "")
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("tessera {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_bad_setting_exits_2_with_one_line_naming_the_key() {
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("TESSERA_SERVER_LISTEN", "not-an-address", "server.listen"),
        ("TESSERA_SERVER_ISSUER", "", "server.issuer"),
        (
            "TESSERA_SERVER_ISSUER",
            "http://id.example.com",
            "server.issuer",
        ),
        ("TESSERA_DATABASE_POOL_SIZE", "lots", "database.pool_size"),
        ("TESSERA_KEYS_ENCRYPTION_KEY", "", "keys.encryption_key"),
        ("TESSERA_LOG_FORMAT", "yaml", "log.format"),
    ];
    for (var, value, key) in cases {
        let out = tessera("postgres://postgres@127.0.0.1:5432/unused", &kek)
            .env(var, value)
            .arg("serve")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = stderr_line(&out);
        assert_eq!(err.lines().count(), 1, "{var}={value}: {err}");
        assert!(err.contains(key), "{var}={value}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
}

#[test]
fn a_missing_settings_file_given_explicitly_exits_2() {
    let out = tessera("postgres://postgres@127.0.0.1:5432/unused", "")
        .args(["--config", "/nonexistent/tessera.toml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_line(&out).contains("/nonexistent/tessera.toml"));
}

#[test]
fn migrate_against_an_unreachable_database_exits_2_with_one_line() {
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let out = tessera("postgres://postgres@127.0.0.1:1/tessera", &kek)
        .env("TESSERA_DATABASE_CONNECT_TIMEOUT", "1s")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_line(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tessera: database unavailable"), "{err}");
}

#[test]
fn migrate_brings_an_empty_database_up_to_date_and_is_idempotent() {
    let db = TestDatabase::empty();
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let first = tessera(db.url(), &kek).arg("migrate").output().unwrap();
    assert!(first.status.success(), "{}", stderr_line(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let again = tessera(db.url(), &kek).arg("migrate").output().unwrap();
    assert!(again.status.success());
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).trim(),
        "database is up to date"
    );
}

async fn jwks_of(port: u16) -> serde_json::Value {
    reqwest::get(format!("http://127.0.0.1:{port}/oauth/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_publish_one_jwks_and_both_serve_a_rotation_without_restart() {
    let db = TestDatabase::new();
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let (a, a_ready) = serve_process(tessera(db.url(), &kek)).await;
    let (b, b_ready) = serve_process(tessera(db.url(), &kek)).await;
    eprintln!("startup to ready: first {a_ready:?} (fresh database), second {b_ready:?}");

    let before = kids(&jwks_of(a.port).await);
    assert_eq!(before.len(), 2);
    assert_eq!(before, kids(&jwks_of(b.port).await));

    let rotate = tessera(db.url(), &kek)
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    assert!(rotate.status.success(), "{}", stderr_line(&rotate));
    let listing = tessera(db.url(), &kek)
        .args(["keys", "list"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).to_string();
    assert_eq!(listing.matches(" next ").count(), 2, "{listing}");
    assert_eq!(listing.matches(" active ").count(), 2, "{listing}");

    for instance in [&a, &b] {
        let port = instance.port;
        assert!(
            eventually(Duration::from_secs(5), || async move {
                kids(&jwks_of(port).await).len() == 4
            })
            .await,
            "instance on {port} did not publish the rotated keys"
        );
    }
    let after = kids(&jwks_of(a.port).await);
    assert_eq!(after, kids(&jwks_of(b.port).await));
    assert!(before.iter().all(|kid| after.contains(kid)));

    // A restart keeps the same keys.
    drop(a);
    let (a2, _) = serve_process(tessera(db.url(), &kek)).await;
    assert_eq!(kids(&jwks_of(a2.port).await), after);
}

fn create_account(db: &str, kek: &str, extra: &[&str]) -> std::process::Output {
    use std::io::Write;
    let mut child = tessera(db, kek)
        .args(["account", "create", "--password-stdin", "--username", "kim"])
        .args(["--email", "kim@example.com"])
        .args(extra)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Password1\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn account_create_stores_an_argon2id_hash_and_refuses_a_taken_username() {
    let db = TestDatabase::new();
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let first = create_account(db.url(), &kek, &[]);
    assert!(first.status.success(), "{}", stderr_line(&first));
    let again = create_account(db.url(), &kek, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr_line(&again).contains("already taken"),
        "{}",
        stderr_line(&again)
    );
    let seeded = create_account(db.url(), &kek, &["--if-missing"]);
    assert!(seeded.status.success());
    let mut conn = db.store().conn().unwrap();
    let account = tessera_store::accounts::by_username(&mut conn, "kim")
        .unwrap()
        .unwrap();
    let hash = tessera_store::accounts::password_hash(&mut conn, account.account_id)
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("Password1"));
}

#[test]
fn outside_development_a_new_database_starts_without_the_demo_clients_and_their_public_secrets() {
    let db = TestDatabase::new();
    let kek = KeyEncryptionKey::generate_base64().unwrap();
    let export = |development: &str| {
        let out = tessera(db.url(), &kek)
            .env_remove("TESSERA_ADMIN_INITIAL_CONFIG")
            .env("TESSERA_SERVER_DEVELOPMENT", development)
            .args(["config", "export"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_line(&out));
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (config, log) = export("false");
    assert!(!config.contains("<client>"), "{config}");
    assert!(!config.contains("demo-web-client"), "{config}");
    assert!(log.contains("no OAuth clients"), "{log}");
}

#[test]
fn development_starts_a_new_database_with_the_demo_configuration() {
    let db = TestDatabase::new();
    let out = tessera(db.url(), "")
        .env_remove("TESSERA_ADMIN_INITIAL_CONFIG")
        .env_remove("TESSERA_KEYS_ENCRYPTION_KEY")
        .env("TESSERA_SERVER_DEVELOPMENT", "true")
        .env(
            "TESSERA_KEYS_DEVELOPMENT_KEY_FILE",
            std::env::temp_dir().join(format!("tessera-dev-kek-{}", uuid::Uuid::new_v4())),
        )
        .args(["config", "export"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_line(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo-web-client"));
}
