//! The audit log: who changed which account or group, what, and when. Writers record an entry
//! in the transaction of the change, so a change and its entry are stored together or not at
//! all. Entries name accounts by id and username, never by a secret.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::audit_log;

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Who: `admin:NAME`, `scim:CLIENT`, `cli:USER`.
    pub actor: String,
    /// What, as a dotted name (`user.disabled`, `passkey.removed`, …).
    pub action: &'static str,
    /// The account concerned, when one is.
    pub account_id: Option<Uuid>,
    /// What it was done to, as people read it (a username, a group name).
    pub subject: String,
    /// More, when there is more to say (which attributes, how many).
    pub detail: String,
}

/// A recorded entry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct Recorded {
    /// Order of recording.
    pub entry_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The account concerned.
    pub account_id: Option<Uuid>,
    /// What it was done to.
    pub subject: String,
    /// More.
    pub detail: String,
}

/// Records `entry` at `at`.
pub fn record(conn: &mut PgConnection, entry: &Entry, at: DateTime<Utc>) -> Result<(), StoreError> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::at.eq(at),
            audit_log::actor.eq(&entry.actor),
            audit_log::action.eq(entry.action),
            audit_log::account_id.eq(entry.account_id),
            audit_log::subject.eq(&entry.subject),
            audit_log::detail.eq(&entry.detail),
        ))
        .execute(conn)?;
    Ok(())
}

/// The newest entries (of one account, when given), newest first, at most `limit`.
pub fn recent(
    conn: &mut PgConnection,
    account_id: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Recorded>, StoreError> {
    let mut query = audit_log::table.into_boxed();
    if let Some(account_id) = account_id {
        query = query.filter(audit_log::account_id.eq(account_id));
    }
    Ok(query
        .order(audit_log::entry_id.desc())
        .limit(limit.clamp(1, 10_000))
        .select(Recorded::as_select())
        .load(conn)?)
}

/// Runs `change` in a transaction and records the entry `entry_for` makes of its outcome, if
/// it makes one (a change that changed nothing records nothing), in the same transaction.
pub fn recorded<T>(
    conn: &mut PgConnection,
    at: DateTime<Utc>,
    change: impl FnOnce(&mut PgConnection) -> Result<T, StoreError>,
    entry_for: impl FnOnce(&T) -> Option<Entry>,
) -> Result<T, StoreError> {
    crate::tx::transaction(conn, |conn| {
        let outcome = change(conn)?;
        if let Some(entry) = entry_for(&outcome) {
            record(conn, &entry, at)?;
        }
        Ok(outcome)
    })
}
