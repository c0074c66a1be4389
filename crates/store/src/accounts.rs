//! Rows of `accounts` and `password_credentials`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::{account_subjects, accounts, password_credentials};

diesel::define_sql_function! {
    /// SQL `lower()`, matching the case-insensitive unique indexes.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// An account.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct AccountRow {
    /// Stable id (the subject is derived from it).
    pub account_id: Uuid,
    /// Username as typed at creation.
    pub username: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Profile attributes (given_name, family_name, …).
    pub attributes: serde_json::Value,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a new account needs.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// Username (unique, case-insensitively).
    pub username: &'a str,
    /// Email (unique, case-insensitively).
    pub email: Option<&'a str>,
    /// Phone.
    pub phone: Option<&'a str>,
    /// Attributes.
    pub attributes: serde_json::Value,
}

/// Which unique value a new account collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The username.
    Username,
    /// The email address.
    Email,
}

/// Creates an account, with a password hash when given, in one transaction. A taken username
/// or email is reported as [`Taken`], not as an error.
pub fn create(
    conn: &mut PgConnection,
    account: &NewAccount<'_>,
    password_hash: Option<&str>,
) -> Result<Result<Uuid, Taken>, StoreError> {
    let id = Uuid::new_v4();
    crate::tx::transaction(conn, |conn| {
        let inserted = diesel::insert_into(accounts::table)
            .values((
                accounts::account_id.eq(id),
                accounts::username.eq(account.username),
                accounts::email.eq(account.email),
                accounts::phone.eq(account.phone),
                accounts::attributes.eq(&account.attributes),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            )) => {
                let taken = if info.constraint_name() == Some("accounts_email_lower_key") {
                    Taken::Email
                } else {
                    Taken::Username
                };
                return Ok(Err(taken));
            }
            Err(e) => return Err(StoreError::from(e)),
        }
        if let Some(hash) = password_hash {
            diesel::insert_into(password_credentials::table)
                .values((
                    password_credentials::account_id.eq(id),
                    password_credentials::hash.eq(hash),
                ))
                .execute(conn)
                .map_err(StoreError::from)?;
        }
        Ok(Ok(id))
    })
}

/// The account with this username (case-insensitive).
pub fn by_username(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<AccountRow>, StoreError> {
    Ok(accounts::table
        .filter(lower(accounts::username).eq(lower(username)))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// The password hash of an account, if it has a password.
pub fn password_hash(
    conn: &mut PgConnection,
    account_id: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(password_credentials::table
        .find(account_id)
        .select(password_credentials::hash)
        .first(conn)
        .optional()?)
}

/// Remembers which account `subject` stands for (idempotent).
pub fn remember_subject(
    conn: &mut PgConnection,
    subject: &str,
    account_id: Uuid,
) -> Result<(), StoreError> {
    diesel::insert_into(account_subjects::table)
        .values((
            account_subjects::subject.eq(subject),
            account_subjects::account_id.eq(account_id),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// An account by id.
pub fn by_id(conn: &mut PgConnection, account_id: Uuid) -> Result<Option<AccountRow>, StoreError> {
    Ok(accounts::table
        .find(account_id)
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// The account a subject stands for.
pub fn by_subject(
    conn: &mut PgConnection,
    subject: &str,
) -> Result<Option<AccountRow>, StoreError> {
    Ok(account_subjects::table
        .inner_join(accounts::table)
        .filter(account_subjects::subject.eq(subject))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}
