//! Importing real Curity files through what operators run: the `tessera` binary and the admin
//! API. The files are the corpus of `crates/admin/tests/fixtures/curity-corpus/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::admin::token_sha256;
use crate::helpers::{Options, TestApp, eventually, spawn_app_with, tessera};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../admin/tests/fixtures/curity-corpus")
}

/// `POST /admin/api/candidate/import?{query}` with an XML body.
async fn import_through_api(app: &TestApp, query: &str, document: Vec<u8>) -> reqwest::Response {
    app.admin(reqwest::Method::POST, &format!("/candidate/import?{query}"))
        .header("Content-Type", "application/xml")
        .body(document)
        .send()
        .await
        .unwrap()
}

const TOKEN_HANDLER: &str =
    "spa-using-token-handler__deployments_standard_components_idsvr_config-backup.xml";

#[test]
fn tessera_config_import_dry_run_exits_0_for_every_real_curity_file() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 20);
    for file in files {
        // Offline: no database, no settings.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
            .current_dir(std::env::temp_dir())
            .env_remove("TESSERA_CONFIG")
            .args(["config", "import", "--dry-run", "--replace"])
            .arg(&file)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {stdout}{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("migration report"), "{stdout}");
        assert!(stdout.contains("the import is possible"), "{stdout}");
    }
}

#[tokio::test]
async fn an_imported_curity_export_commits_and_its_introspection_only_gateway_introspects() {
    let kek = tessera_oauth_core::keys::KeyEncryptionKey::generate_base64().unwrap();
    let app = spawn_app_with(Options {
        kek: Some(kek.clone()),
        env: vec![("TESSERA_ADMIN_TOKEN_SHA256", token_sha256())],
        ..Options::default()
    })
    .await;
    let file = corpus().join(TOKEN_HANDLER);
    let document = std::fs::read(&file).unwrap();

    // The admin API's dry run: the report, nothing staged, the placeholder it needs named.
    let dry: Value = app
        .admin(
            reqwest::Method::POST,
            "/candidate/import?mode=merge&dry_run=true",
        )
        .header("Content-Type", "application/xml")
        .body(document.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(dry["candidate"].is_null(), "{dry}");
    let entries = dry["report"]["entries"].as_array().unwrap();
    assert!(entries.iter().any(|e| e["outcome"] == "needs-environment"
        && e["reason"].as_str().unwrap().contains("WEB_DOMAIN")));
    assert!(entries.iter().all(|e| e["line"].as_u64().is_some()));

    // Staged where WEB_DOMAIN is unset (this server): refused, with the report and the line.
    let refused = import_through_api(&app, "mode=merge", document).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused: Value = refused.json().await.unwrap();
    assert!(
        refused["problems"][0]["message"]
            .as_str()
            .unwrap()
            .contains("WEB_DOMAIN")
    );
    assert!(refused["problems"][0]["line"].as_u64().is_some());
    assert!(refused["report"]["entries"].as_array().is_some());

    // The operator's CLI, where the variable is set: staged, then committed.
    let imported = tessera(app.db.url(), &kek)
        .args(["config", "import", "--merge"])
        .arg(&file)
        .env("WEB_DOMAIN", "localhost")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&imported.stdout);
    assert!(
        imported.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    assert!(
        said.contains("migration report") && said.contains("staged a candidate"),
        "{said}"
    );
    let committed = tessera(app.db.url(), &kek)
        .args(["config", "commit", "--message", "from Curity"])
        .output()
        .unwrap();
    assert!(
        committed.status.success(),
        "{}",
        String::from_utf8_lossy(&committed.stderr)
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            app.config
                .active()
                .load()
                .client("api-gateway-client")
                .is_some()
        })
        .await
    );

    // A token of another client, introspected by the gateway with its Curity-hashed secret.
    let token: Value = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(
            "demo-api-client",
            Some("Demo-API-Secret-0123456789-abcdefghijk"),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "introspect"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let introspect = |secret: &'static str| {
        app.client
            .post(format!("{}/oauth/introspect", app.issuer))
            .basic_auth("api-gateway-client", Some(secret))
            .form(&[("token", token["access_token"].as_str().unwrap())])
            .send()
    };
    let answer = introspect("Password1").await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], "demo-api-client");
    assert_eq!(
        introspect("Password2").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // Introspection is all it may do.
    let grant: Value = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth("api-gateway-client", Some("Password1"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(grant["error"], "unauthorized_client", "{grant}");
}

/// A file with a problem at every stage: an unknown element, a bad value, a dangling reference.
const FLAWED: &str = r#"<config xmlns="http://tail-f.com/ns/config/1.0">
  <profiles xmlns="https://curity.se/ns/conf/base">
    <profile>
      <id>token-service</id>
      <type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type>
      <settings>
        <authorization-server xmlns="https://curity.se/ns/conf/profile/oauth">
          <no-such-setting/>
          <access-token-ttl>soon</access-token-ttl>
          <client-store>
            <config-backed>
              <client>
                <id>app</id>
                <no-authentication>true</no-authentication>
                <redirect-uris>https://app.example.com/cb</redirect-uris>
                <capabilities><code/></capabilities>
                <user-authentication>
                  <allowed-authenticators>missing</allowed-authenticators>
                </user-authentication>
              </client>
            </config-backed>
          </client-store>
        </authorization-server>
      </settings>
    </profile>
  </profiles>
</config>
"#;

fn validate(extra: &[&str]) -> (Option<i32>, String) {
    let file = std::env::temp_dir().join(format!("flawed-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, FLAWED).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(std::env::temp_dir())
        .args(["config", "validate"])
        .args(extra)
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(file);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn config_validate_lists_the_problems_of_every_stage_at_once_each_with_its_line() {
    let (code, said) = validate(&[]);
    assert_eq!(code, Some(2));
    assert!(
        said.contains("line 8: ") && said.contains("<no-such-setting>"),
        "{said}"
    );
    assert!(
        said.contains("line 9: ") && said.contains("\"soon\""),
        "{said}"
    );
    assert!(
        said.contains("line 18: ") && said.contains("authenticator \"missing\""),
        "{said}"
    );

    // --partial checks values too, but not what another file may provide.
    let (code, said) = validate(&["--partial"]);
    assert_eq!(code, Some(2));
    assert!(
        said.contains("\"soon\"") && said.contains("<no-such-setting>"),
        "{said}"
    );
    assert!(!said.contains("\"missing\""), "{said}");
}
