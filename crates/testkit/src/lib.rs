//! Test support shared by the crates' integration tests.
//!
//! [`TestDatabase`] gives each test its own database on the real PostgreSQL server, cloned from a
//! template that has every migration applied (cloning is a file copy, far cheaper than migrating),
//! and drops it when the test ends.
//!
//! The server is found through `TESSERA_TEST_DATABASE_URL` (any database on the server, used for
//! administration), default `postgres://postgres@127.0.0.1:5432/postgres`.
// Test support: a failure should stop the test loudly, and tests pick their own clocks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::sync::OnceLock;

pub mod fuzz;
mod mail;
pub use mail::{MailSink, ReceivedMail};
pub mod soft_key;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tessera_store::{PoolSettings, Store};

/// Serialises template creation and cloning across test processes.
const TEMPLATE_LOCK: i64 = 0x7465_7373_7465_6d70;
/// The template's name carries a fingerprint of this build's migrations, so checkouts with
/// different schemas (branches, CI next to a developer's runs) never share a template.
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        use diesel::migration::MigrationSource;
        let names: Vec<String> =
            MigrationSource::<diesel::pg::Pg>::migrations(&tessera_store::migrations::MIGRATIONS)
                .map(|all| all.iter().map(|m| m.name().to_string()).collect())
                .unwrap_or_default();
        // FNV-1a: stable across runs and platforms, unlike the std hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in names.join("\n").bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("tessera_test_template_{hash:016x}")
    })
}

/// A throw-away database, dropped (with any remaining connections) when this value drops.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

fn admin_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced by `db`.
pub fn url_for_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(slash) if base[..slash].ends_with(['/']) => base.to_owned(), // "postgres://" only
        Some(slash) => base[..slash].to_owned(),
        None => base.to_owned(),
    };
    match query {
        Some(query) => format!("{base}/{db}?{query}"),
        None => format!("{base}/{db}"),
    }
}

fn lock(conn: &mut PgConnection) {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(conn)
        .expect("advisory lock on the test server");
}

fn unlock(conn: &mut PgConnection) {
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(conn)
        .expect("advisory unlock on the test server");
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    exists: bool,
}

/// Creates (once per process) the template database and brings its migrations up to date.
fn ensure_template(admin: &str) {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let mut conn = PgConnection::establish(admin)
            .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
        lock(&mut conn);
        let exists = diesel::sql_query(format!(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{}') AS exists",
            template_name()
        ))
        .get_result::<Exists>(&mut conn)
        .expect("query pg_database")
        .exists;
        if !exists {
            diesel::sql_query(format!("CREATE DATABASE {}", template_name()))
                .execute(&mut conn)
                .expect("create the template database");
        }
        {
            let mut tpl = PgConnection::establish(&url_for_database(admin, template_name()))
                .expect("connect to the template database");
            tessera_store::migrations::run_pending(&mut tpl).expect("migrate the template");
        }
        unlock(&mut conn);
    });
}

impl TestDatabase {
    /// A fresh, fully migrated database of its own.
    pub fn new() -> Self {
        let admin = admin_url();
        ensure_template(&admin);
        let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&admin).expect("connect to the test server");
        lock(&mut conn);
        let created = diesel::sql_query(format!(
            "CREATE DATABASE {name} TEMPLATE {}",
            template_name()
        ))
        .execute(&mut conn);
        unlock(&mut conn);
        created.expect("clone the template database");
        TestDatabase {
            url: url_for_database(&admin, &name),
            name,
            admin_url: admin,
        }
    }

    /// An empty database of its own, without migrations (for testing the migration runner).
    pub fn empty() -> Self {
        let admin = admin_url();
        let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::establish(&admin).expect("connect to the test server");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .expect("create an empty database");
        TestDatabase {
            url: url_for_database(&admin, &name),
            name,
            admin_url: admin,
        }
    }

    /// Connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A pool on this database.
    pub fn store(&self) -> Store {
        Store::new(&PoolSettings {
            url: self.url.clone(),
            max_size: 4,
            connect_timeout: std::time::Duration::from_secs(5),
        })
        .expect("pool on the test database")
    }

    /// A single direct connection.
    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }

    /// How many rows `table` holds: what a test checks was (or was not) stored.
    pub fn count_rows(&self, table: &str) -> i64 {
        use diesel::RunQueryDsl;
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
            "(SELECT count(*) FROM {table})"
        )))
        .get_result(&mut self.connect())
        .expect("count rows")
    }
}

impl Default for TestDatabase {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin_url) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::url_for_database;

    #[test]
    fn url_for_database_replaces_only_the_database_name() {
        assert_eq!(
            url_for_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            url_for_database("postgres://u:p@h/db?sslmode=disable", "y"),
            "postgres://u:p@h/y?sslmode=disable"
        );
    }
}
