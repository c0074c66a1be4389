//! `cargo xtask bench config`: how long validating and committing a large configuration takes,
//! and what an `ActiveConfig` client lookup costs on the hot path.
//!
//! Needs PostgreSQL (`TESSERA_TEST_DATABASE_URL`, default postgres://postgres@127.0.0.1:5432/postgres);
//! works in a throw-away database it drops at the end.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use tessera_admin::config::{self, Root, UploadMode};
use tessera_admin::secrets::{ConfigSecrets, KeyEncryptionKey};
use tessera_admin::{ActiveConfig, ConfigService, Snapshot};
use tessera_testkit::TestDatabase;

const BASE: &str = include_str!("../../../config/base.xml");

fn generated_clients(n: usize) -> String {
    let mut clients = String::new();
    for i in 0..n {
        clients.push_str(&format!(
            "<client><id>bench-client-{i:04}</id><secret>bench-secret-{i:04}-0123456789abcdefghijklmnop</secret>\
             <redirect-uris>https://app{i}.example.com/callback</redirect-uris><scope>openid</scope><scope>profile</scope>\
             <audience>api.example.com</audience><capabilities><code/><refresh/></capabilities>\
             <user-authentication><allowed-authenticators>html-form</allowed-authenticators></user-authentication></client>"
        ));
    }
    format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed>{clients}</config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let secrets = ConfigSecrets::new(KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64()?)?)?;
        let document = generated_clients(1000);
        println!("generated configuration: 1000 clients, {} KiB of XML", document.len() / 1024);

        // Pure: read + merge + build the model + validate.
        let base = config::parse(BASE, &secrets)?;
        let mut runs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let merged = config::apply(&base, document.as_bytes(), UploadMode::Merge, &secrets)?;
            config::validate(&merged).map_err(|p| p.to_string())?;
            runs.push(t.elapsed());
        }
        println!("parse + merge + validate (in memory), median of 5: {:?}", median(runs));

        // Through the database: upload (stage) + commit, as the admin API does.
        let mut runs = Vec::new();
        for _ in 0..3 {
            let db = TestDatabase::new();
            let service = ConfigService::open(db.store(), secrets.clone(), BASE.to_owned()).await?;
            let t = Instant::now();
            service.upload(document.clone().into_bytes(), UploadMode::Merge, "bench").await?;
            let outcome = service.commit("bench", "bench", None).await?;
            runs.push(t.elapsed());
            assert_eq!(service.active().load().config.clients.len(), 1006);
            black_box(outcome);
        }
        println!("upload + validate + commit (PostgreSQL), median of 3: {:?}", median(runs));

        // Hot path: a client lookup on the active snapshot.
        let merged = config::apply(&base, document.as_bytes(), UploadMode::Merge, &secrets)?;
        let active = ActiveConfig::new(Snapshot::new(2, merged));
        let ids: Vec<String> = (0..1000).map(|i| format!("bench-client-{i:04}")).collect();
        let n = 10_000_000usize;
        let t = Instant::now();
        for i in 0..n {
            let snapshot = active.load();
            black_box(snapshot.client(&ids[i % ids.len()]));
        }
        let per = t.elapsed().as_nanos() as f64 / n as f64;
        println!("ActiveConfig load + client lookup: {per:.1} ns ({n} lookups over 1000 clients)");
        let exported = config::export(&active.load().config, Root::Config);
        let t = Instant::now();
        let reread = config::parse(&exported, &secrets)?;
        println!(
            "exported configuration: {} KiB, read back in {:?} (stored versions may exceed the 1 MiB upload limit)",
            exported.len() / 1024,
            t.elapsed()
        );
        assert_eq!(reread.clients.len(), 1006);
        Ok(())
    })
}
