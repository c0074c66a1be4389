//! The configuration history on the real PostgreSQL server.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use tessera_admin::config::UploadMode;
use tessera_admin::secrets::{ConfigSecrets, KeyEncryptionKey};
use tessera_admin::{ConfigError, ConfigService};
use tessera_testkit::TestDatabase;

const BASE: &str = include_str!("../../../config/base.xml");
const UPGRADE: &str = include_str!("../../../config/upgrade-authentication.xml");

fn secrets() -> ConfigSecrets {
    ConfigSecrets::new(
        KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64().unwrap()).unwrap(),
    )
    .unwrap()
}

fn rename(name: &str) -> Vec<u8> {
    format!(
        r#"<data xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>demo-web-client</id><client-name>{name}</client-name></client></config-backed></client-store></authorization-server></settings></profile></profiles></data>"#
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_initialising_an_empty_database_agree_on_version_1() {
    let db = TestDatabase::new();
    let s = secrets();
    let opens = (0..4).map(|_| ConfigService::open(db.store(), s.clone(), BASE.to_owned()));
    let services = futures_util::future::join_all(opens).await;
    for service in &services {
        assert_eq!(service.as_ref().unwrap().active().version(), 1);
    }
    let versions = services[0].as_ref().unwrap().versions().await.unwrap();
    assert_eq!(versions.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_keep_the_history_linear_and_losers_get_a_conflict() {
    let db = TestDatabase::new();
    let s = secrets();
    let first = ConfigService::open(db.store(), s.clone(), BASE.to_owned())
        .await
        .unwrap();
    let mut instances = vec![first];
    for _ in 0..5 {
        instances.push(
            ConfigService::open(db.store(), s.clone(), BASE.to_owned())
                .await
                .unwrap(),
        );
    }
    let edits = instances.iter().enumerate().map(|(i, service)| {
        service.edit_and_commit(rename(&format!("name {i}")), UploadMode::Merge, "test")
    });
    let results = futures_util::future::join_all(edits).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert!(won >= 1);
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, ConfigError::Conflict(_)), "{e}");
        }
    }
    let versions = instances[0].versions().await.unwrap();
    assert_eq!(versions.len(), 1 + won);
    let numbers: Vec<i32> = versions.iter().map(|v| v.version).rev().collect();
    assert_eq!(numbers, (1..=(1 + won as i32)).collect::<Vec<_>>());
    // Every instance converges on the newest version.
    for service in &instances {
        service.refresh().await.unwrap();
        assert_eq!(service.active().version(), 1 + won as i32);
    }
}

#[tokio::test]
async fn a_commit_without_a_candidate_or_with_a_stale_one_changes_nothing() {
    let db = TestDatabase::new();
    let service = ConfigService::open(db.store(), secrets(), BASE.to_owned())
        .await
        .unwrap();
    assert!(matches!(
        service.commit("nothing", "t", None).await,
        Err(ConfigError::NotFound(_))
    ));
    service
        .upload(UPGRADE.as_bytes().to_vec(), UploadMode::Merge, "t")
        .await
        .unwrap();
    service
        .edit_and_commit(rename("meanwhile"), UploadMode::Merge, "t")
        .await
        .unwrap();
    assert!(matches!(
        service.commit("stale", "t", None).await,
        Err(ConfigError::Conflict(_))
    ));
    assert_eq!(service.active().version(), 2);
    // The stale candidate is still there to look at, and can be discarded.
    assert!(service.candidate().await.unwrap().is_some());
    service.discard().await.unwrap();
    assert!(service.candidate().await.unwrap().is_none());
}

#[tokio::test]
async fn a_database_sealed_under_another_key_encryption_key_is_refused_at_open() {
    let db = TestDatabase::new();
    let service = ConfigService::open(db.store(), secrets(), BASE.to_owned())
        .await
        .unwrap();
    service
        .edit_and_commit(UPGRADE.as_bytes().to_vec(), UploadMode::Merge, "t")
        .await
        .unwrap();
    let Err(e) = ConfigService::open(db.store(), secrets(), BASE.to_owned()).await else {
        panic!("opened a configuration sealed under another key");
    };
    assert!(e.to_string().contains("sealed-password"), "{e}");
}

#[tokio::test]
async fn only_the_reviewed_candidate_is_committed() {
    let db = TestDatabase::new();
    let service = ConfigService::open(db.store(), secrets(), BASE.to_owned())
        .await
        .unwrap();
    let reviewed = service
        .upload(rename("first").clone(), UploadMode::Merge, "alice")
        .await;
    // RESTCONF bodies use <data>; the candidate upload accepts either root.
    let reviewed = reviewed.unwrap();
    // Someone else stages another candidate before alice commits.
    service
        .upload(UPGRADE.as_bytes().to_vec(), UploadMode::Merge, "bob")
        .await
        .unwrap();
    let outcome = service
        .commit("alice's change", "alice", Some(&reviewed.id))
        .await;
    assert!(
        matches!(outcome, Err(ConfigError::Conflict(_))),
        "{outcome:?}"
    );
    assert_eq!(service.active().version(), 1);
    // Bob's candidate is still there; committing it by its id works.
    let current = service.candidate().await.unwrap().unwrap();
    assert_eq!(current.uploaded_by, "bob");
    service
        .commit("bob's change", "bob", Some(&current.id))
        .await
        .unwrap();
    assert_eq!(service.active().version(), 2);
}

#[tokio::test]
async fn a_comment_with_control_characters_is_refused() {
    let db = TestDatabase::new();
    let service = ConfigService::open(db.store(), secrets(), BASE.to_owned())
        .await
        .unwrap();
    service
        .upload(UPGRADE.as_bytes().to_vec(), UploadMode::Merge, "t")
        .await
        .unwrap();
    let outcome = service.commit("bad\u{0}comment", "t", None).await;
    assert!(
        matches!(outcome, Err(ConfigError::Invalid(_))),
        "{outcome:?}"
    );
    assert_eq!(service.active().version(), 1);
}

#[tokio::test]
async fn a_second_merge_goes_onto_the_staged_candidate_and_a_replace_starts_over() {
    let db = TestDatabase::new();
    let service = ConfigService::open(db.store(), secrets(), BASE.to_owned())
        .await
        .unwrap();
    service
        .upload(rename("Renamed SPA"), UploadMode::Merge, "alice")
        .await
        .unwrap();
    let both = service
        .upload(UPGRADE.as_bytes().to_vec(), UploadMode::Merge, "bob")
        .await
        .unwrap();
    let paths: Vec<String> = both.changes.iter().map(|c| c.path.clone()).collect();
    assert!(
        paths
            .iter()
            .any(|p| p.contains("client[demo-web-client]/client-name")),
        "the first upload is still staged: {paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains("email-provider")),
        "and the second is on top of it: {paths:?}"
    );
    service.commit("both", "bob", Some(&both.id)).await.unwrap();
    let committed = service.active().load();
    assert_eq!(
        committed.client("demo-web-client").unwrap().name.as_deref(),
        Some("Renamed SPA")
    );
    assert!(!committed.config.email_providers.is_empty());

    // A replace stages exactly the uploaded document.
    service
        .upload(rename("Again"), UploadMode::Merge, "alice")
        .await
        .unwrap();
    let replaced = service
        .upload(BASE.as_bytes().to_vec(), UploadMode::Replace, "carol")
        .await
        .unwrap();
    let name = replaced
        .changes
        .iter()
        .find(|c| c.path.contains("client[demo-web-client]/client-name"))
        .expect("the name goes back to the base's");
    assert_eq!(
        name.new.as_deref(),
        Some("Demo web app (SPA)"),
        "not the staged \"Again\""
    );
}

/// Configuration files as operators upload them, mutated byte by byte, and byte soup: the
/// reader and the merge answer every one with a configuration or a list of problems, never a
/// panic (`cargo xtask fuzz` runs it longer).
#[test]
fn fuzz_the_configuration_reader_and_merge_never_panic() {
    use tessera_testkit::fuzz::{self, proptest::prelude::*};
    let s = secrets();
    let base = tessera_admin::config::parse(BASE, &s).unwrap();
    let seeds: Vec<Vec<u8>> = [
        BASE,
        UPGRADE,
        include_str!("../../../config/migrate-to-passkeys.xml"),
        include_str!("../../../config/identifier-first.xml"),
        include_str!("fixtures/seed-000-upgrade.xml"),
    ]
    .iter()
    .map(|f| f.as_bytes().to_vec())
    .collect();
    let inputs = prop_oneof![
        8 => fuzz::mutations(seeds),
        1 => prop::collection::vec(any::<u8>(), 0..2048),
    ];
    let mut accepted = 0u64;
    let report = fuzz::run("configuration XML", inputs, Vec::len, |document| {
        for mode in [UploadMode::Merge, UploadMode::Replace] {
            if let Ok(config) = tessera_admin::config::apply(&base, document, mode, &s) {
                accepted += 1;
                let _ = tessera_admin::config::validate(&config);
                let _ = tessera_admin::config::export(&config, tessera_admin::config::Root::Config);
            }
        }
    });
    // The mutations must reach past the XML reader, or only the reader is being fuzzed.
    eprintln!("fuzz configuration XML: {accepted} documents read to a configuration");
    assert!(
        accepted > 0 || report.cases < 50,
        "no mutated file was ever accepted"
    );
}
