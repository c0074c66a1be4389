//! The schema migrations in `migrations/`, embedded into the binary.
//!
//! Applying them takes a PostgreSQL advisory lock first, so two instances that start together
//! apply each migration exactly once: the second waits, then finds nothing pending.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StoreError;

/// Every migration of this build.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Advisory lock key held while migrating ("tessera" + "mig" in ASCII, arbitrary but fixed).
const MIGRATION_LOCK: i64 = 0x0074_6573_736d_6967;

/// Applies every pending migration under the advisory lock; returns the versions applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>, StoreError> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(conn)?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
        .map_err(|e| StoreError::Migration(e.to_string()));
    // Unlock even when migrating failed; the session would release it on disconnect anyway,
    // but pooled connections live on.
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(MIGRATION_LOCK)
        .execute(conn);
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

/// How many migrations this build carries.
pub fn count() -> Result<usize, StoreError> {
    diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map(|all| all.len())
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// How many of this build's migrations the database has not applied yet.
pub fn pending_count(conn: &mut PgConnection) -> Result<usize, StoreError> {
    conn.pending_migrations(MIGRATIONS)
        .map(|pending| pending.len())
        .map_err(|e| StoreError::Migration(e.to_string()))
}
