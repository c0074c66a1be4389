//! The account directory as provisioning systems see it (SCIM): accounts searched by their
//! attributes with filters built at run time, and a whole profile written at once, guarded by
//! the version its writer last read.
//!
//! Filters are SQL built from a closed set of attribute expressions written here; what a
//! caller supplies only ever travels as bound values.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Text, Timestamptz};
use uuid::Uuid;

use crate::StoreError;
use crate::accounts::AccountRow;
use crate::schema::accounts;

/// An account attribute a directory search can filter or sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    /// The account id.
    Id,
    /// The username (case-insensitive).
    UserName,
    /// The email address (case-insensitive).
    Email,
    /// What the provisioning system knows the account by (case-sensitive).
    ExternalId,
    /// The legacy subject (case-sensitive).
    LegacySubject,
    /// The display name (case-insensitive).
    DisplayName,
    /// The given name (case-insensitive).
    GivenName,
    /// The family name (case-insensitive).
    FamilyName,
    /// The full name (case-insensitive).
    FormattedName,
    /// Whether the account may sign in.
    Active,
    /// When it was created.
    Created,
    /// When it last changed.
    LastModified,
}

/// How an attribute's SQL expression compares.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum Kind {
    /// Text compared as is.
    ExactText,
    /// Text compared lower-cased.
    Text,
    Bool,
    Time,
}

/// Something a directory filter can name: a constant SQL expression and how it compares.
pub trait Searchable: Copy {
    /// The SQL expression and how it compares.
    #[doc(hidden)]
    fn sql(self) -> (&'static str, Kind);
}

impl Searchable for Attribute {
    fn sql(self) -> (&'static str, Kind) {
        match self {
            Attribute::Id => ("account_id::text", Kind::ExactText),
            Attribute::UserName => ("username", Kind::Text),
            Attribute::Email => ("email", Kind::Text),
            Attribute::ExternalId => ("external_id", Kind::ExactText),
            Attribute::LegacySubject => ("legacy_subject", Kind::ExactText),
            Attribute::DisplayName => ("(attributes->>'display_name')", Kind::Text),
            Attribute::GivenName => ("(attributes->>'given_name')", Kind::Text),
            Attribute::FamilyName => ("(attributes->>'family_name')", Kind::Text),
            Attribute::FormattedName => ("(attributes->>'name')", Kind::Text),
            Attribute::Active => ("(disabled_at IS NULL)", Kind::Bool),
            Attribute::Created => ("created_at", Kind::Time),
            Attribute::LastModified => ("updated_at", Kind::Time),
        }
    }
}

/// A value compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// A point in time.
    Time(DateTime<Utc>),
}

/// A comparison (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

/// Which rows a search selects (accounts by default, groups with a group attribute).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<A = Attribute> {
    /// The attribute compared with a value; an attribute without a value never matches.
    Compare(A, Op, Value),
    /// The attribute has a (non-empty) value.
    Present(A),
    /// Both.
    And(Box<Filter<A>>, Box<Filter<A>>),
    /// Either.
    Or(Box<Filter<A>>, Box<Filter<A>>),
    /// Not.
    Not(Box<Filter<A>>),
}

/// A page of a directory search.
#[derive(Debug, Clone)]
pub struct Search<A = Attribute> {
    /// Which rows; all when `None`.
    pub filter: Option<Filter<A>>,
    /// Sorted by this, ascending unless `descending`; by creation otherwise.
    pub sort_by: Option<A>,
    /// Sort descending.
    pub descending: bool,
    /// Skip this many.
    pub offset: i64,
    /// At most this many (0 counts only).
    pub limit: i64,
}

/// A statement built at run time. `BoxedSqlQuery` sends bound values without writing their
/// placeholders, so this writes `$n` where each value goes.
struct Sql<'f> {
    query: BoxedSqlQuery<'f, Pg, SqlQuery>,
    binds: usize,
}

impl<'f> Sql<'f> {
    fn new(text: String) -> Self {
        Sql {
            query: diesel::sql_query(text).into_boxed(),
            binds: 0,
        }
    }

    fn sql(mut self, text: impl AsRef<str>) -> Self {
        self.query = self.query.sql(text);
        self
    }

    fn bind<T, V>(mut self, value: V) -> Self
    where
        Pg: diesel::sql_types::HasSqlType<T>,
        V: diesel::serialize::ToSql<T, Pg> + Send + 'f,
        T: Send + 'f,
    {
        self.binds += 1;
        self.query = self
            .query
            .sql(format!("${}", self.binds))
            .bind::<T, V>(value);
        self
    }
}

/// Appends `filter` as a boolean SQL expression that is never NULL.
fn push_filter<'f, A: Searchable>(q: Sql<'f>, filter: &Filter<A>) -> Sql<'f> {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => {
            let joint = if matches!(filter, Filter::And(..)) {
                ") AND ("
            } else {
                ") OR ("
            };
            let q = push_filter(q.sql("(("), a);
            push_filter(q.sql(joint), b).sql("))")
        }
        Filter::Not(inner) => push_filter(q.sql("(NOT "), inner).sql(")"),
        Filter::Present(attribute) => {
            let (expr, kind) = attribute.sql();
            match kind {
                Kind::Text | Kind::ExactText => q.sql(format!("(coalesce({expr}, '') <> '')")),
                Kind::Bool | Kind::Time => q.sql(format!("({expr} IS NOT NULL)")),
            }
        }
        Filter::Compare(attribute, op, value) => push_comparison(q, *attribute, *op, value),
    }
}

fn push_comparison<'f, A: Searchable>(q: Sql<'f>, attribute: A, op: Op, value: &Value) -> Sql<'f> {
    let (expr, kind) = attribute.sql();
    let ordering = |op: Op| match op {
        Op::Gt => Some(">"),
        Op::Ge => Some(">="),
        Op::Lt => Some("<"),
        Op::Le => Some("<="),
        Op::Eq => Some("="),
        Op::Ne => Some("<>"),
        Op::Co | Op::Sw | Op::Ew => None,
    };
    match (kind, value) {
        (Kind::Text | Kind::ExactText, Value::Text(text)) => {
            let (column, value) = if matches!(kind, Kind::Text) {
                (format!("lower({expr})"), "lower(")
            } else {
                (expr.to_owned(), "(")
            };
            let text = text.clone();
            let q = match op {
                Op::Co => q
                    .sql(format!("coalesce(strpos({column}, {value}"))
                    .bind::<Text, _>(text)
                    .sql(")) > 0"),
                Op::Sw => q
                    .sql(format!("coalesce(starts_with({column}, {value}"))
                    .bind::<Text, _>(text)
                    .sql("))"),
                Op::Ew => q
                    .sql(format!("coalesce(right({column}, char_length("))
                    .bind::<Text, _>(text.clone())
                    .sql(format!(")) = {value}"))
                    .bind::<Text, _>(text)
                    .sql(")"),
                other => q
                    .sql(format!(
                        "coalesce({column} {} {value}",
                        ordering(other).unwrap_or("=")
                    ))
                    .bind::<Text, _>(text)
                    .sql(")"),
            };
            q.sql(", false)")
        }
        (Kind::Bool, Value::Bool(flag)) => match ordering(op) {
            Some(symbol @ ("=" | "<>")) => q
                .sql(format!("coalesce({expr} {symbol} "))
                .bind::<Bool, _>(*flag)
                .sql(", false)"),
            _ => q.sql("false"),
        },
        (Kind::Time, Value::Time(at)) => match ordering(op) {
            Some(symbol) => q
                .sql(format!("coalesce({expr} {symbol} "))
                .bind::<Timestamptz, _>(*at)
                .sql(", false)"),
            None => q.sql("false"),
        },
        // A value of another type than the attribute's matches nothing.
        _ => q.sql("false"),
    }
}

fn where_clause<'f, A: Searchable>(q: Sql<'f>, search: &Search<A>) -> Sql<'f> {
    match &search.filter {
        Some(filter) => push_filter(q.sql(" WHERE "), filter),
        None => q,
    }
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// The accounts `search` selects, in its order and page, and how many it selects in all.
pub fn search(
    conn: &mut PgConnection,
    search: &Search,
) -> Result<(Vec<AccountRow>, i64), StoreError> {
    page(
        conn,
        "accounts",
        "account_id, username, email, phone, attributes, created_at, updated_at, disabled_at, \
         external_id, legacy_subject",
        "account_id",
        search,
    )
}

/// One page of rows of `table` that `search` selects, and how many it selects in all.
pub(crate) fn page<A: Searchable, R>(
    conn: &mut PgConnection,
    table: &'static str,
    columns: &'static str,
    key: &'static str,
    search: &Search<A>,
) -> Result<(Vec<R>, i64), StoreError>
where
    R: QueryableByName<Pg> + 'static,
{
    let count = where_clause(
        Sql::new(format!("SELECT count(*) AS total FROM {table}")),
        search,
    );
    let total = count.query.get_result::<Total>(conn)?.total;
    if search.limit <= 0 || search.offset >= total {
        return Ok((Vec::new(), total));
    }
    let page = where_clause(Sql::new(format!("SELECT {columns} FROM {table}")), search);
    let direction = if search.descending { "DESC" } else { "ASC" };
    let order = match search.sort_by.map(Searchable::sql) {
        Some((expr, Kind::Text)) => {
            format!(" ORDER BY lower({expr}) {direction} NULLS LAST, created_at, {key}")
        }
        Some((expr, _)) => format!(" ORDER BY {expr} {direction} NULLS LAST, created_at, {key}"),
        None => format!(" ORDER BY created_at {direction}, {key} {direction}"),
    };
    let rows = page
        .sql(order)
        .sql(" OFFSET ")
        .bind::<BigInt, _>(search.offset.max(0))
        .sql(" LIMIT ")
        .bind::<BigInt, _>(search.limit.min(1000))
        .query
        .load::<R>(conn)?;
    Ok((rows, total))
}

/// An account's profile as a provisioning system writes it, all of it at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Username (unique, case-insensitively).
    pub username: String,
    /// Email address (unique, case-insensitively).
    pub email: Option<String>,
    /// What the provisioning system knows it by.
    pub external_id: Option<String>,
    /// The `sub` relying parties already store for it (unique).
    pub legacy_subject: Option<String>,
    /// Profile attributes (names, email verification, …).
    pub attributes: serde_json::Value,
    /// Whether it may sign in.
    pub active: bool,
}

/// Which unique value of a profile belongs to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The username.
    Username,
    /// The email address.
    Email,
    /// The legacy subject.
    LegacySubject,
}

/// What writing a profile came to, besides a database failure.
#[derive(Debug, Clone)]
pub enum Written {
    /// Stored; the account as it is now.
    Stored(Box<AccountRow>),
    /// A unique value belongs to another account.
    Taken(Taken),
    /// No such account.
    NotFound,
    /// The account changed since the version the writer read.
    Changed,
}

fn taken(info: &dyn diesel::result::DatabaseErrorInformation) -> Taken {
    match info.constraint_name() {
        Some("accounts_email_lower_key") => Taken::Email,
        Some("accounts_legacy_subject_key") => Taken::LegacySubject,
        _ => Taken::Username,
    }
}

fn unique_violation(e: diesel::result::Error) -> Result<Taken, StoreError> {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) => Ok(taken(info.as_ref())),
        other => Err(StoreError::from(other)),
    }
}

/// Creates an account with `profile` at `now`.
pub fn create(
    conn: &mut PgConnection,
    profile: &Profile,
    now: DateTime<Utc>,
) -> Result<Written, StoreError> {
    if let Some(subject) = &profile.legacy_subject
        && crate::accounts::subject_issued_to_another(conn, subject, None)?
    {
        return Ok(Written::Taken(Taken::LegacySubject));
    }
    let inserted = diesel::insert_into(accounts::table)
        .values((
            accounts::account_id.eq(Uuid::new_v4()),
            accounts::username.eq(&profile.username),
            accounts::email.eq(&profile.email),
            accounts::external_id.eq(&profile.external_id),
            accounts::legacy_subject.eq(&profile.legacy_subject),
            accounts::attributes.eq(&profile.attributes),
            accounts::created_at.eq(now),
            accounts::updated_at.eq(now),
            accounts::disabled_at.eq((!profile.active).then_some(now)),
        ))
        .returning(AccountRow::as_returning())
        .get_result(conn);
    match inserted {
        Ok(row) => Ok(Written::Stored(Box::new(row))),
        Err(e) => unique_violation(e).map(Written::Taken),
    }
}

/// Replaces an account's profile at `now` and removes the passkeys `remove_passkeys` names,
/// if it is still at version `read` (its `updated_at`) when one is given. Becoming inactive
/// ends its sessions, refresh tokens and codes in the same transaction, as
/// [`crate::accounts::disable`] does.
pub fn replace(
    conn: &mut PgConnection,
    account_id: Uuid,
    profile: &Profile,
    remove_passkeys: &[Uuid],
    read: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Written, StoreError> {
    crate::tx::transaction(conn, |conn| {
        let Some(current) = accounts::table
            .find(account_id)
            .select(AccountRow::as_select())
            .for_update()
            .first(conn)
            .optional()?
        else {
            return Ok(Written::NotFound);
        };
        let Some(now) = next_version(read, current.updated_at, now) else {
            return Ok(Written::Changed);
        };
        if let Some(subject) = &profile.legacy_subject
            && crate::accounts::subject_issued_to_another(conn, subject, Some(account_id))?
        {
            return Ok(Written::Taken(Taken::LegacySubject));
        }
        if !profile.active && current.disabled_at.is_none() {
            crate::accounts::disable(conn, account_id, now)?;
        }
        if !remove_passkeys.is_empty() {
            use crate::schema::devices;
            diesel::delete(
                devices::table
                    .filter(devices::account_id.eq(account_id))
                    .filter(devices::device_id.eq_any(remove_passkeys)),
            )
            .execute(conn)?;
        }
        let disabled_at = if profile.active {
            None
        } else {
            current.disabled_at.or(Some(now))
        };
        let updated = diesel::update(accounts::table.find(account_id))
            .set((
                accounts::username.eq(&profile.username),
                accounts::email.eq(&profile.email),
                accounts::external_id.eq(&profile.external_id),
                accounts::legacy_subject.eq(&profile.legacy_subject),
                accounts::attributes.eq(&profile.attributes),
                accounts::updated_at.eq(now),
                accounts::disabled_at.eq(disabled_at),
            ))
            .returning(AccountRow::as_returning())
            .get_result(conn);
        match updated {
            Ok(row) => Ok(Written::Stored(Box::new(row))),
            // An error, so that the disabling above is rolled back with the refused write.
            Err(e) => Err(Refused::Taken(unique_violation(e)?)),
        }
    })
    .or_else(|e| match e {
        Refused::Taken(taken) => Ok(Written::Taken(taken)),
        Refused::Store(e) => Err(e),
    })
}

/// Why a replacement was rolled back.
enum Refused {
    Taken(Taken),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

impl From<diesel::result::Error> for Refused {
    fn from(e: diesel::result::Error) -> Self {
        Refused::Store(StoreError::from(e))
    }
}

/// What deleting came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Deleted, with everything that belonged to it.
    Removed,
    /// No such row.
    NotFound,
    /// It changed since the version the caller read; nothing was deleted.
    Changed,
}

/// Deletes an account as [`crate::accounts::delete`] does, if it is still at version `read`
/// when one is given.
pub fn delete(
    conn: &mut PgConnection,
    account_id: Uuid,
    read: Option<DateTime<Utc>>,
) -> Result<Removal, StoreError> {
    delete_versioned(conn, ("accounts", "account_id"), account_id, read)
}

/// The version a write of a row now at version `current` stores, if the writer read version
/// `read` (when it says): strictly later than `current`, so that two writes in the same
/// microsecond still differ; `None` when the row changed since it was read.
pub(crate) fn next_version(
    read: Option<DateTime<Utc>>,
    current: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if read.is_some_and(|read| read != current) {
        return None;
    }
    Some(now.max(current + chrono::Duration::microseconds(1)))
}

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

/// Deletes the row `key = id` of `table` (a table whose rows carry `updated_at`), if it is
/// still at version `read` when one is given; says which of the three happened.
pub(crate) fn delete_versioned(
    conn: &mut PgConnection,
    (table, key): (&'static str, &'static str),
    id: Uuid,
    read: Option<DateTime<Utc>>,
) -> Result<Removal, StoreError> {
    use diesel::sql_types::Uuid as SqlUuid;
    let mut delete = Sql::new(format!("DELETE FROM {table} WHERE {key} = ")).bind::<SqlUuid, _>(id);
    if let Some(read) = read {
        delete = delete
            .sql(" AND updated_at = ")
            .bind::<Timestamptz, _>(read);
    }
    if delete.query.execute(conn)? == 1 {
        return Ok(Removal::Removed);
    }
    let present = Sql::new(format!(
        "SELECT EXISTS (SELECT 1 FROM {table} WHERE {key} = "
    ))
    .bind::<SqlUuid, _>(id)
    .sql(") AS present")
    .query
    .get_result::<Present>(conn)?
    .present;
    Ok(if present {
        Removal::Changed
    } else {
        Removal::NotFound
    })
}
