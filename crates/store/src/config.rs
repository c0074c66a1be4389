//! Rows of `config_versions` and `config_candidate`. What a configuration means is the admin
//! crate's business; here are versions, texts and the rules that keep history linear.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::StoreError;
use crate::schema::{config_candidate, config_versions};

/// Serialises writers of the configuration history across instances.
const CONFIG_LOCK: i64 = 0x0074_6573_7363_6667;

/// A committed version.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = config_versions)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct ConfigVersionRow {
    /// Version number, 1-based, dense.
    pub version: i32,
    /// The configuration, as exported XML (secrets in stored form).
    pub xml: String,
    /// Who committed it.
    pub author: String,
    /// Why.
    pub comment: String,
    /// Changes against the previous version, one per line.
    pub diff: String,
    /// When.
    pub committed_at: DateTime<Utc>,
}

/// The staged configuration.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = config_candidate)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct CandidateRow {
    /// The version it was made from (0 when there was none).
    pub base_version: i32,
    /// `merge` or `replace`.
    pub mode: String,
    /// The candidate configuration as XML.
    pub xml: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When.
    pub uploaded_at: DateTime<Utc>,
}

/// The newest version number, 0 when none is committed.
pub fn latest_version(conn: &mut PgConnection) -> Result<i32, StoreError> {
    let max: Option<i32> = config_versions::table
        .select(diesel::dsl::max(config_versions::version))
        .first(conn)?;
    Ok(max.unwrap_or(0))
}

/// One version.
pub fn version(
    conn: &mut PgConnection,
    version: i32,
) -> Result<Option<ConfigVersionRow>, StoreError> {
    Ok(config_versions::table
        .find(version)
        .select(ConfigVersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// The newest version.
pub fn latest(conn: &mut PgConnection) -> Result<Option<ConfigVersionRow>, StoreError> {
    Ok(config_versions::table
        .order(config_versions::version.desc())
        .select(ConfigVersionRow::as_select())
        .first(conn)
        .optional()?)
}

/// Every version, newest first (XML included; the history is small).
pub fn versions(conn: &mut PgConnection) -> Result<Vec<ConfigVersionRow>, StoreError> {
    Ok(config_versions::table
        .order(config_versions::version.desc())
        .select(ConfigVersionRow::as_select())
        .load(conn)?)
}

/// Appends `row` as the next version, provided the newest is still `expected_latest`;
/// otherwise [`StoreError::Conflict`]. With `from_candidate` (the candidate's XML as read by the
/// caller), the staged candidate must still be exactly that one, and it is removed in the same
/// transaction: a candidate uploaded meanwhile is never committed unseen, nor lost.
pub fn append_version(
    conn: &mut PgConnection,
    row: &ConfigVersionRow,
    expected_latest: i32,
    from_candidate: Option<&str>,
) -> Result<(), StoreError> {
    crate::tx::transaction(conn, |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(CONFIG_LOCK)
            .execute(conn)
            .map_err(StoreError::from)?;
        let latest = latest_version(conn)?;
        if latest != expected_latest || row.version != latest + 1 {
            return Err(StoreError::Conflict(format!(
                "the configuration is at version {latest}, not {expected_latest}"
            )));
        }
        diesel::insert_into(config_versions::table)
            .values(row)
            .execute(conn)
            .map_err(StoreError::from)?;
        if let Some(expected_xml) = from_candidate {
            let staged: Option<String> = config_candidate::table
                .select(config_candidate::xml)
                .for_update()
                .first(conn)
                .optional()
                .map_err(StoreError::from)?;
            if staged.as_deref() != Some(expected_xml) {
                return Err(StoreError::Conflict(
                    "the candidate was replaced or discarded meanwhile".into(),
                ));
            }
            diesel::delete(config_candidate::table)
                .execute(conn)
                .map_err(StoreError::from)?;
        }
        Ok(())
    })
}

/// The staged candidate, if any.
pub fn candidate(conn: &mut PgConnection) -> Result<Option<CandidateRow>, StoreError> {
    Ok(config_candidate::table
        .select(CandidateRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stages a candidate, replacing any previous one.
pub fn put_candidate(
    conn: &mut PgConnection,
    base_version: i32,
    mode: &str,
    xml: &str,
    uploaded_by: &str,
) -> Result<(), StoreError> {
    diesel::insert_into(config_candidate::table)
        .values((
            config_candidate::singleton.eq(true),
            config_candidate::base_version.eq(base_version),
            config_candidate::mode.eq(mode),
            config_candidate::xml.eq(xml),
            config_candidate::uploaded_by.eq(uploaded_by),
        ))
        .on_conflict(config_candidate::singleton)
        .do_update()
        .set((
            config_candidate::base_version.eq(base_version),
            config_candidate::mode.eq(mode),
            config_candidate::xml.eq(xml),
            config_candidate::uploaded_by.eq(uploaded_by),
            config_candidate::uploaded_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Drops the candidate; true if there was one.
pub fn delete_candidate(conn: &mut PgConnection) -> Result<bool, StoreError> {
    Ok(diesel::delete(config_candidate::table).execute(conn)? > 0)
}
