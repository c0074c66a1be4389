//! Groups of accounts (SCIM `Groups`, the `groups` claim): rows of `account_groups` and
//! `group_members`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::directory::{Kind, Removal, Search, Searchable};
use crate::schema::{account_groups, accounts, group_members};

/// A group attribute a search can filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupAttribute {
    /// The group id.
    Id,
    /// Its name (case-insensitive).
    DisplayName,
    /// What the provisioning system knows it by (case-sensitive).
    ExternalId,
    /// When it was created.
    Created,
    /// When it last changed.
    LastModified,
}

impl Searchable for GroupAttribute {
    fn sql(self) -> (&'static str, Kind) {
        match self {
            GroupAttribute::Id => ("group_id::text", Kind::ExactText),
            GroupAttribute::DisplayName => ("display_name", Kind::Text),
            GroupAttribute::ExternalId => ("external_id", Kind::ExactText),
            GroupAttribute::Created => ("created_at", Kind::Time),
            GroupAttribute::LastModified => ("updated_at", Kind::Time),
        }
    }
}

/// A group.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = account_groups)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct GroupRow {
    /// Id.
    pub group_id: Uuid,
    /// Name (unique, case-insensitively).
    pub display_name: String,
    /// What the provisioning system knows it by.
    pub external_id: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed (its members included).
    pub updated_at: DateTime<Utc>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Member {
    /// The account.
    pub account_id: Uuid,
    /// Its username.
    pub username: String,
}

/// A group with its members.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group.
    pub row: GroupRow,
    /// Its members, by username.
    pub members: Vec<Member>,
}

/// A group as a provisioning system writes it, all of it at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupProfile {
    /// Name.
    pub display_name: String,
    /// What the provisioning system knows it by.
    pub external_id: Option<String>,
    /// Member accounts.
    pub members: Vec<Uuid>,
}

/// What writing a group came to, besides a database failure.
#[derive(Debug, Clone)]
pub enum GroupWritten {
    /// Stored; the group as it is now.
    Stored(Box<Group>),
    /// Another group has this name.
    NameTaken,
    /// A member is not an account.
    UnknownMember,
    /// No such group.
    NotFound,
    /// The group changed since the version the writer read.
    Changed,
}

/// Why a write was rolled back.
enum Refused {
    NameTaken,
    UnknownMember,
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Refused::NameTaken,
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
                Refused::UnknownMember
            }
            other => Refused::Store(StoreError::from(other)),
        }
    }
}

fn settle(result: Result<GroupWritten, Refused>) -> Result<GroupWritten, StoreError> {
    match result {
        Ok(written) => Ok(written),
        Err(Refused::NameTaken) => Ok(GroupWritten::NameTaken),
        Err(Refused::UnknownMember) => Ok(GroupWritten::UnknownMember),
        Err(Refused::Store(e)) => Err(e),
    }
}

fn members_of(conn: &mut PgConnection, group_id: Uuid) -> Result<Vec<Member>, StoreError> {
    Ok(group_members::table
        .inner_join(accounts::table)
        .filter(group_members::group_id.eq(group_id))
        .order(accounts::username)
        .select((accounts::account_id, accounts::username))
        .load(conn)?)
}

fn set_members(conn: &mut PgConnection, group_id: Uuid, members: &[Uuid]) -> Result<(), Refused> {
    diesel::delete(group_members::table.filter(group_members::group_id.eq(group_id)))
        .execute(conn)?;
    let mut members = members.to_vec();
    members.sort_unstable();
    members.dedup();
    let rows: Vec<_> = members
        .iter()
        .map(|account| {
            (
                group_members::group_id.eq(group_id),
                group_members::account_id.eq(account),
            )
        })
        .collect();
    diesel::insert_into(group_members::table)
        .values(&rows)
        .execute(conn)?;
    Ok(())
}

/// Creates a group with its members at `now`.
pub fn create(
    conn: &mut PgConnection,
    profile: &GroupProfile,
    now: DateTime<Utc>,
) -> Result<GroupWritten, StoreError> {
    settle(crate::tx::transaction(conn, |conn| {
        let row: GroupRow = diesel::insert_into(account_groups::table)
            .values((
                account_groups::group_id.eq(Uuid::new_v4()),
                account_groups::display_name.eq(&profile.display_name),
                account_groups::external_id.eq(&profile.external_id),
                account_groups::created_at.eq(now),
                account_groups::updated_at.eq(now),
            ))
            .returning(GroupRow::as_returning())
            .get_result(conn)?;
        set_members(conn, row.group_id, &profile.members)?;
        let members = members_of(conn, row.group_id)?;
        Ok(GroupWritten::Stored(Box::new(Group { row, members })))
    }))
}

/// Replaces a group and its members at `now`, if it is still at version `read` when one is
/// given.
pub fn replace(
    conn: &mut PgConnection,
    group_id: Uuid,
    profile: &GroupProfile,
    read: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<GroupWritten, StoreError> {
    settle(crate::tx::transaction(conn, |conn| {
        let Some(current) = account_groups::table
            .find(group_id)
            .select(GroupRow::as_select())
            .for_update()
            .first(conn)
            .optional()?
        else {
            return Ok(GroupWritten::NotFound);
        };
        let Some(now) = crate::directory::next_version(read, current.updated_at, now) else {
            return Ok(GroupWritten::Changed);
        };
        let row: GroupRow = diesel::update(account_groups::table.find(group_id))
            .set((
                account_groups::display_name.eq(&profile.display_name),
                account_groups::external_id.eq(&profile.external_id),
                account_groups::updated_at.eq(now),
            ))
            .returning(GroupRow::as_returning())
            .get_result(conn)?;
        set_members(conn, group_id, &profile.members)?;
        let members = members_of(conn, group_id)?;
        Ok(GroupWritten::Stored(Box::new(Group { row, members })))
    }))
}

/// A group with its members.
pub fn by_id(conn: &mut PgConnection, group_id: Uuid) -> Result<Option<Group>, StoreError> {
    let Some(row) = account_groups::table
        .find(group_id)
        .select(GroupRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let members = members_of(conn, group_id)?;
    Ok(Some(Group { row, members }))
}

/// The groups `search` selects, with their members, and how many it selects in all.
pub fn search(
    conn: &mut PgConnection,
    search: &Search<GroupAttribute>,
) -> Result<(Vec<Group>, i64), StoreError> {
    let (rows, total): (Vec<GroupRow>, i64) = crate::directory::page(
        conn,
        "account_groups",
        "group_id, display_name, external_id, created_at, updated_at",
        "group_id",
        search,
    )?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.group_id).collect();
    let mut members: Vec<(Uuid, Uuid, String)> = group_members::table
        .inner_join(accounts::table)
        .filter(group_members::group_id.eq_any(&ids))
        .order(accounts::username)
        .select((
            group_members::group_id,
            accounts::account_id,
            accounts::username,
        ))
        .load(conn)?;
    let groups = rows
        .into_iter()
        .map(|row| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut members)
                .into_iter()
                .partition(|(group, _, _)| *group == row.group_id);
            members = rest;
            let members = mine
                .into_iter()
                .map(|(_, account_id, username)| Member {
                    account_id,
                    username,
                })
                .collect();
            Group { row, members }
        })
        .collect();
    Ok((groups, total))
}

/// Deletes a group (not its members' accounts), if it is still at version `read` when one is
/// given.
pub fn delete(
    conn: &mut PgConnection,
    group_id: Uuid,
    read: Option<DateTime<Utc>>,
) -> Result<Removal, StoreError> {
    crate::directory::delete_versioned(conn, ("account_groups", "group_id"), group_id, read)
}

/// The names of the groups an account belongs to, alphabetically.
pub fn names_of(conn: &mut PgConnection, account_id: Uuid) -> Result<Vec<String>, StoreError> {
    Ok(group_members::table
        .inner_join(account_groups::table)
        .filter(group_members::account_id.eq(account_id))
        .order(account_groups::display_name)
        .select(account_groups::display_name)
        .load(conn)?)
}
