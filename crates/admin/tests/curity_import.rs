//! Importing real Curity files (`fixtures/curity-corpus/`, unmodified exports from the curityio
//! organisation's public repositories; sources in its `SOURCES.md`): every one imports, its
//! migration report is pinned next to it (`<file>.report`), and what comes over means what it
//! meant in Curity.
//!
//! To see a changed report: `UPDATE_CURITY_REPORTS=1 cargo nextest run -p tessera-admin
//! --test curity_import`, then review the diff of the `.report` files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tessera_admin::config::import::{self, Imported, Outcome, Staging};
use tessera_admin::config::model::{ClientAuthentication, Configuration};
use tessera_admin::config::{self, Root, UploadMode};
use tessera_admin::crypto::legacy;
use tessera_admin::secrets::ConfigSecrets;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/curity-corpus")
}

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

fn secrets(environment: &[(&str, &str)]) -> ConfigSecrets {
    let environment: HashMap<String, String> = environment
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ConfigSecrets::ephemeral()
        .unwrap()
        .with_environment(Arc::new(move |name: &str| environment.get(name).cloned()))
}

fn import(name: &str, environment: &[(&str, &str)], staging: Staging) -> (Imported, ConfigSecrets) {
    let secrets = secrets(environment);
    let document = std::fs::read(corpus().join(name)).unwrap();
    let imported = import::import(
        &Configuration::default(),
        &document,
        UploadMode::Replace,
        &secrets,
        staging,
    )
    .unwrap();
    (imported, secrets)
}

/// The text pinned per file: the report, then what a commit of the file alone would refuse.
fn pinned_text(imported: &Imported, config: &Configuration) -> String {
    let mut text = imported.report.render();
    if let Err(problems) = config::validate(config) {
        text.push_str("-- a commit of this file alone would refuse:\n");
        for p in problems.0 {
            text.push_str(&format!("{p}\n"));
        }
    }
    text
}

#[test]
fn every_corpus_file_imports_in_a_dry_run_with_its_pinned_report_and_round_trips() {
    let update = std::env::var_os("UPDATE_CURITY_REPORTS").is_some();
    let files = files();
    assert_eq!(files.len(), 20, "the corpus has 20 files");
    let mut differences = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let (imported, secrets) = import(&name, &[], Staging::DryRun);
        assert!(
            imported.problems.is_empty(),
            "{name}: in-scope problems {:?}",
            imported.problems
        );
        let config = imported.config.clone().expect("a configuration");
        // Only what Tessera leaves out, refuses or strengthens is reported.
        for entry in &imported.report.entries {
            assert!(entry.line.is_some(), "{name}: {entry:?} has no line");
        }

        let text = pinned_text(&imported, &config);
        let pinned = file.with_extension("report");
        if update {
            std::fs::write(&pinned, &text).unwrap();
        } else if std::fs::read_to_string(&pinned).ok().as_deref() != Some(text.as_str()) {
            differences.push(name.clone());
        }

        // Export, then a strict upload of the export: the same model.
        let exported = config::export(&config, Root::Config);
        let again = config::parse(&exported, &secrets)
            .unwrap_or_else(|e| panic!("{name}: the export does not read back: {e}\n{exported}"));
        assert_eq!(again, config, "{name}: export → upload changed the model");
    }
    assert!(
        differences.is_empty(),
        "reports differ from the pinned ones (UPDATE_CURITY_REPORTS=1 to rewrite, then review): {differences:?}"
    );
}

const TOKEN_HANDLER: &str =
    "spa-using-token-handler__deployments_standard_components_idsvr_config-backup.xml";

#[test]
fn an_imported_export_keeps_curitys_clients_hashed_secrets_refresh_rule_and_pairwise_subjects() {
    let (imported, _) = import(
        TOKEN_HANDLER,
        &[("WEB_DOMAIN", "localhost")],
        Staging::Stage,
    );
    let config = imported.config.expect("imported");
    let ids: Vec<&str> = config.clients.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["api-gateway-client", "spa-client"]);

    // The gateway only introspects: no grant, no refresh tokens.
    let gateway = config.client("api-gateway-client").unwrap();
    assert!(gateway.capabilities.introspection);
    assert!(!gateway.capabilities.code && !gateway.capabilities.client_credentials);
    assert!(!gateway.capabilities.refresh);

    // The SPA's backend uses the code flow and, by Curity's rule, gets refresh tokens.
    let spa = config.client("spa-client").unwrap();
    assert!(spa.capabilities.code && spa.capabilities.refresh);
    assert_eq!(spa.redirect_uris, ["http://localhost/"]);
    // <use-pairwise-subject-identifiers/> alone: pairwise, sector of its own.
    assert_eq!(spa.sector_identifier.as_deref(), Some("spa-client"));

    // Curity's hashed secrets stay hashes and verify the secret, and only it.
    for client in [gateway, spa] {
        let ClientAuthentication::SecretHash(hash) = &client.authentication else {
            panic!("{}: {:?}", client.id, client.authentication);
        };
        assert!(hash.starts_with("$5$"));
        assert_eq!(legacy::verify(b"Password1", hash), Some(true));
        assert_eq!(legacy::verify(b"Password2", hash), Some(false));
    }
    // The profile's scopes keep their claims; the discovery document stays published.
    let email = config.scopes.iter().find(|s| s.id == "email").unwrap();
    assert_eq!(email.claims, ["email", "email_verified"]);
    assert!(config.token_settings.expose_metadata);
}

#[test]
fn refresh_token_ttl_disabled_gives_a_code_client_no_refresh_tokens() {
    let (imported, _) = import(
        "kafka-zero-trust__idsvr_config-backup.xml",
        &[],
        Staging::Stage,
    );
    let config = imported.config.expect("imported");
    let console = config.client("console-client").unwrap();
    assert!(console.is_public() && console.capabilities.code);
    assert!(!console.capabilities.refresh);
    let introspect = config.client("introspect-client").unwrap();
    assert!(introspect.capabilities.introspection && !introspect.capabilities.code);
    // Exported in Curity's form, and read back the same.
    let exported = config::export(&config, Root::Config);
    assert!(exported.contains("<refresh-token-ttl>disabled</refresh-token-ttl>"));
    assert!(!exported.contains("<refresh/>"));
}

#[test]
fn placeholders_are_resolved_where_the_import_is_staged_and_never_stored() {
    const FILE: &str =
        "kubernetes-quick-start__resources_curity_idsvr-final_config_oauth-clients.xml";
    let spa_secret = "Spa-Secret-From-The-Environment-0123456789";
    let (imported, secrets) = import(
        FILE,
        &[
            ("SPA_CLIENT_SECRET", spa_secret),
            (
                "INTROSPECTION_CLIENT_SECRET",
                "Gateway-Secret-From-The-Environment-0123",
            ),
            ("SPA_BASE_URL", "https://spa.example.com"),
        ],
        Staging::Stage,
    );
    let config = imported.config.expect("imported");
    let spa = config.client("spa-client").unwrap();
    assert_eq!(spa.redirect_uris, ["https://spa.example.com/callback"]);
    let ClientAuthentication::SecretDigest(digest) = &spa.authentication else {
        panic!("{:?}", spa.authentication);
    };
    assert!(secrets.verify("spa-client", spa_secret, digest));
    let exported = config::export(&config, Root::Config);
    assert!(!exported.contains(spa_secret) && !exported.contains("#{"));

    // Unset where staged: nothing imported, the variable named with its line.
    let (refused, _) = import(
        FILE,
        &[("SPA_BASE_URL", "https://spa.example.com")],
        Staging::Stage,
    );
    assert!(refused.config.is_none());
    let said: Vec<String> = refused.problems.iter().map(ToString::to_string).collect();
    assert!(
        said.iter()
            .any(|p| p.starts_with("line ") && p.contains("SPA_CLIENT_SECRET is not set")),
        "{said:?}"
    );

    // A dry run says what it needs instead.
    let (dry, _) = import(FILE, &[], Staging::DryRun);
    assert!(dry.problems.is_empty());
    assert!(
        dry.report
            .entries
            .iter()
            .any(|e| e.outcome == Outcome::NeedsEnvironment && e.reason.contains("SPA_BASE_URL"))
    );
}

#[test]
fn objects_weaker_without_what_tessera_cannot_carry_are_refused_whole() {
    let (imported, _) = import(
        "database-client-migration-example__example-clients.xml",
        &[],
        Staging::DryRun,
    );
    let config = imported.config.expect("imported");
    let refused: Vec<&str> = imported
        .report
        .entries
        .iter()
        .filter(|e| e.outcome == Outcome::Refused)
        .map(|e| e.path.rsplit('/').next().unwrap())
        .collect();
    for client in [
        "client[haapi-android-client]",
        "client[haapi-ios-client]",
        "client[unsupported-assertion-client]",
        "client[implicit_client]",
    ] {
        assert!(
            refused.contains(&client),
            "{client} not refused: {refused:?}"
        );
        let id = client.trim_start_matches("client[").trim_end_matches(']');
        assert!(config.client(id).is_none(), "{id} was imported");
    }

    // A second-step authenticator is not imported as a single factor, and a client that
    // allowed only it does not fall back to every authenticator.
    let (routing, _) = import(
        "dynamic-user-routing__idsvr_config-backup.xml",
        &[],
        Staging::DryRun,
    );
    let config = routing.config.expect("imported");
    assert!(config.authenticator("UserName-Password").is_none());
    assert!(config.client("tools-client").is_none());
}

/// Imports a file holding these signature verification keys (id, keystore) and one
/// client-credentials client per key, named as the key without `-key`, using it.
fn import_clients_with_keys(keys: &[(&str, &str)]) -> Imported {
    let mut stored = String::new();
    let mut clients = String::new();
    for (id, keystore) in keys {
        stored.push_str(&format!(
            "<signature-verification-key><id>{id}</id><keystore>{keystore}</keystore></signature-verification-key>"
        ));
        clients.push_str(&format!(
            "<client><id>{}</id><asymmetric-key>{id}</asymmetric-key><capabilities><client-credentials/></capabilities></client>",
            id.trim_end_matches("-key")
        ));
    }
    let document = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0">
  <facilities xmlns="https://curity.se/ns/conf/base"><crypto><signature-verification-keys>{stored}</signature-verification-keys></crypto></facilities>
  <profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed>{clients}</config-backed></client-store></authorization-server></settings></profile></profiles>
</config>"#
    );
    import::import(
        &Configuration::default(),
        document.as_bytes(),
        UploadMode::Replace,
        &secrets(&[]),
        Staging::Stage,
    )
    .unwrap()
}

/// The key set a client authenticates with.
fn jwks_of(config: &Configuration, id: &str) -> josekit::jwk::JwkSet {
    let ClientAuthentication::PrivateKeyJwt(jwks) = &config.client(id).unwrap().authentication
    else {
        panic!("{id} authenticates with private_key_jwt");
    };
    josekit::jwk::JwkSet::from_bytes(jwks.as_bytes()).unwrap()
}

#[test]
fn a_clients_asymmetric_key_comes_over_as_its_jwks_and_verifies_its_assertions() {
    use josekit::jws::{ES256, JwsHeader};
    let pair = ES256.generate_key_pair().unwrap();
    let public_pem = String::from_utf8(pair.to_pem_public_key()).unwrap();
    let imported = import_clients_with_keys(&[
        ("backend-key", &public_pem),
        (
            "sealed-key",
            "data:application/pem;aes,v:S.c3k5.leYJ.Q0oT.K38W",
        ),
    ]);
    let config = imported.config.expect("imported");
    // An assertion signed with the client's private key verifies against the carried key.
    let set = jwks_of(&config, "backend");
    let jwk = set.get("backend-key").first().copied().expect("kid kept");
    let signer = ES256.signer_from_der(pair.to_der_private_key()).unwrap();
    let mut payload = josekit::jwt::JwtPayload::new();
    payload.set_issuer("backend");
    let mut header = JwsHeader::new();
    header.set_key_id("backend-key");
    let token = josekit::jwt::encode_with_signer(&payload, &header, &signer).unwrap();
    let verifier = ES256.verifier_from_jwk(jwk).unwrap();
    let verified = josekit::jwt::decode_with_verifier(&token, &verifier);
    assert!(verified.is_ok(), "{verified:?}");

    // A key sealed with Curity's configuration key cannot come over: the client is refused.
    assert!(config.client("sealed").is_none());
    let said: Vec<String> = imported
        .report
        .entries
        .iter()
        .map(|e| format!("{} {}", e.path, e.reason))
        .collect();
    assert!(
        said.iter()
            .any(|e| e.contains("client[sealed]") && e.contains("encrypted")),
        "{said:?}"
    );
}

#[test]
fn an_asymmetric_key_given_as_a_curity_certificate_comes_over_as_an_rsa_jwk() {
    // The plain certificate of a real export's signature verification key.
    let export = std::fs::read_to_string(
        corpus().join("oauth-agent-node-express__test_end-to-end_idsvr_config-backup.xml"),
    )
    .unwrap();
    let start = export.find("-----BEGIN CERTIFICATE-----").unwrap();
    let end = export.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
    let certificate = &export[start..end];
    let imported = import_clients_with_keys(&[("default-signature-verification-key", certificate)]);
    let config = imported.config.expect("imported");
    let set = jwks_of(&config, "default-signature-verification");
    let jwk = set.get("default-signature-verification-key")[0];
    assert_eq!(jwk.key_type(), "RSA");
    assert!(josekit::jws::RS256.verifier_from_jwk(jwk).is_ok());
}

/// Real Curity files mutated byte by byte, and byte soup: an import answers every one with a
/// configuration and its report or with problems, never a panic (`cargo xtask fuzz` runs it
/// longer), in time linear in the file's size.
#[test]
fn fuzz_the_curity_import_never_panics() {
    use tessera_testkit::fuzz::{self, proptest::prelude::*};
    let seeds: Vec<Vec<u8>> = files().iter().map(|f| std::fs::read(f).unwrap()).collect();
    let inputs = prop_oneof![
        8 => fuzz::mutations(seeds),
        1 => prop::collection::vec(any::<u8>(), 0..2048),
    ];
    let secrets = secrets(&[]);
    let mut imported = 0u64;
    fuzz::run("Curity import", inputs, Vec::len, |document| {
        for staging in [Staging::DryRun, Staging::Stage] {
            if let Ok(outcome) = import::import(
                &Configuration::default(),
                document,
                UploadMode::Replace,
                &secrets,
                staging,
            ) {
                let _ = outcome.report.render();
                if let Some(config) = outcome.config {
                    imported += 1;
                    let _ = config::validate(&config);
                    let _ = config::export(&config, Root::Config);
                }
            }
        }
    });
    eprintln!("fuzz Curity import: {imported} documents imported");
    assert!(imported > 0, "no mutated file was ever imported");
}

#[test]
fn a_file_of_a_thousand_clients_each_with_unsupported_settings_reports_every_one() {
    let mut clients = String::new();
    for i in 0..1000 {
        clients.push_str(&format!(
            "<client><id>c{i}</id><no-authentication>true</no-authentication><logo>x</logo><properties><property><key>k</key><value>v</value></property></properties><capabilities><client-credentials/></capabilities></client>"
        ));
    }
    let document = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed>{clients}</config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    );
    let imported = import::import(
        &Configuration::default(),
        document.as_bytes(),
        UploadMode::Replace,
        &secrets(&[]),
        Staging::DryRun,
    )
    .unwrap();
    assert_eq!(imported.report.entries.len(), 2000);
    assert_eq!(imported.report.render().lines().count(), 2000);
    assert_eq!(imported.config.unwrap().clients.len(), 1000);
}
