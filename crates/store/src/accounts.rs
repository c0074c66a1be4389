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
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
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
    /// When it was disabled (it cannot sign in), if it is.
    pub disabled_at: Option<DateTime<Utc>>,
    /// What a provisioning system knows it by (SCIM `externalId`).
    pub external_id: Option<String>,
    /// The `sub` another identity system gave it, which relying parties keep seeing.
    pub legacy_subject: Option<String>,
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
    /// The `sub` another identity system gave it (unique).
    pub legacy_subject: Option<&'a str>,
}

/// Which unique value a new account collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The username.
    Username,
    /// The email address.
    Email,
    /// The legacy subject.
    LegacySubject,
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
        if let Err(taken) = insert(conn, id, account)? {
            return Ok(Err(taken));
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

fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    account: &NewAccount<'_>,
) -> Result<Result<(), Taken>, StoreError> {
    if let Some(subject) = account.legacy_subject
        && subject_issued_to_another(conn, subject, None)?
    {
        return Ok(Err(Taken::LegacySubject));
    }
    let inserted = diesel::insert_into(accounts::table)
        .values((
            accounts::account_id.eq(id),
            accounts::username.eq(account.username),
            accounts::email.eq(account.email),
            accounts::phone.eq(account.phone),
            accounts::attributes.eq(&account.attributes),
            accounts::legacy_subject.eq(account.legacy_subject),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(Ok(())),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        )) => Ok(Err(match info.constraint_name() {
            Some("accounts_email_lower_key") => Taken::Email,
            Some("accounts_legacy_subject_key") => Taken::LegacySubject,
            _ => Taken::Username,
        })),
        Err(e) => Err(StoreError::from(e)),
    }
}

/// Why a sign-up's account and first passkey were not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignUpConflict {
    /// Someone took the username or the address meanwhile.
    Taken(Taken),
    /// The passkey is registered to an account already.
    CredentialRegistered,
}

enum SignUpFailure {
    Conflict(SignUpConflict),
    Store(StoreError),
}

impl From<StoreError> for SignUpFailure {
    fn from(e: StoreError) -> Self {
        SignUpFailure::Store(e)
    }
}

/// Creates a signed-up account (`device.account_id`) together with its first passkey, in one
/// transaction: either both exist afterwards or neither does.
pub fn create_with_passkey(
    conn: &mut PgConnection,
    account: &NewAccount<'_>,
    device: &crate::passkeys::DeviceRow,
) -> Result<Result<(), SignUpConflict>, StoreError> {
    let stored = crate::tx::transaction(conn, |conn| {
        insert(conn, device.account_id, account)?
            .map_err(|taken| SignUpFailure::Conflict(SignUpConflict::Taken(taken)))?;
        match crate::passkeys::insert_device(conn, device)? {
            crate::passkeys::DeviceInsert::Stored => Ok(()),
            crate::passkeys::DeviceInsert::Duplicate => Err(SignUpFailure::Conflict(
                SignUpConflict::CredentialRegistered,
            )),
        }
    });
    match stored {
        Ok(()) => Ok(Ok(())),
        Err(SignUpFailure::Conflict(conflict)) => Ok(Err(conflict)),
        Err(SignUpFailure::Store(e)) => Err(e),
    }
}

/// The account with this username (case-insensitive).
pub fn by_username(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<AccountRow>, StoreError> {
    if !is_storable(username) {
        return Ok(None);
    }
    Ok(accounts::table
        .filter(lower(accounts::username).eq(lower(username)))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// The enabled account with this username: who may sign in with it. A disabled account reads
/// as unknown, so its sign-in fails like a wrong password.
pub fn active_by_username(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<AccountRow>, StoreError> {
    Ok(by_username(conn, username)?.filter(|a| a.disabled_at.is_none()))
}

/// The enabled account with this username and whether it has a passkey, in one statement:
/// what an identifier-first sign-in routes on.
pub fn by_username_with_passkeys(
    conn: &mut PgConnection,
    username: &str,
) -> Result<Option<(AccountRow, bool)>, StoreError> {
    if !is_storable(username) {
        return Ok(None);
    }
    use crate::schema::devices;
    Ok(accounts::table
        .filter(lower(accounts::username).eq(lower(username)))
        .filter(accounts::disabled_at.is_null())
        .select((
            AccountRow::as_select(),
            diesel::dsl::exists(
                devices::table
                    .filter(devices::account_id.eq(accounts::account_id))
                    .filter(devices::device_type.eq("webauthn")),
            ),
        ))
        .first(conn)
        .optional()?)
}

/// The account with this email address (case-insensitive).
pub fn by_email(conn: &mut PgConnection, email: &str) -> Result<Option<AccountRow>, StoreError> {
    if !is_storable(email) {
        return Ok(None);
    }
    Ok(accounts::table
        .filter(lower(accounts::email.assume_not_null()).eq(lower(email)))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// Replaces the password hash of an account that has one (a legacy hash by its argon2id
/// successor); false when it has none.
pub fn replace_password_hash(
    conn: &mut PgConnection,
    account_id: Uuid,
    hash: &str,
) -> Result<bool, StoreError> {
    Ok(diesel::update(password_credentials::table.find(account_id))
        .set(password_credentials::hash.eq(hash))
        .execute(conn)?
        == 1)
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
    if !is_storable(subject) {
        return Ok(None);
    }
    Ok(account_subjects::table
        .inner_join(accounts::table)
        .filter(account_subjects::subject.eq(subject))
        .select(AccountRow::as_select())
        .first(conn)
        .optional()?)
}

/// Whether `subject` was ever issued as the `sub` of an account other than `account_id` (any
/// account when `None`). A `sub` is never reassigned (OIDC Core §2), so such a subject cannot
/// become another account's legacy subject.
pub fn subject_issued_to_another(
    conn: &mut PgConnection,
    subject: &str,
    account_id: Option<Uuid>,
) -> Result<bool, StoreError> {
    let mut held = account_subjects::table
        .filter(account_subjects::subject.eq(subject))
        .into_boxed();
    if let Some(account_id) = account_id {
        held = held.filter(account_subjects::account_id.ne(account_id));
    }
    Ok(diesel::dsl::select(diesel::dsl::exists(held)).get_result(conn)?)
}

/// PostgreSQL text cannot hold NUL: a value with one matches nothing stored, and sending it
/// would fail the query. What users type is checked with this before it is looked up.
pub fn is_storable(text: &str) -> bool {
    !text.contains('\0')
}

/// Which accounts a listing shows.
#[derive(Debug, Clone, Default)]
pub struct AccountQuery {
    /// Only usernames or email addresses containing this (case-insensitive).
    pub search: Option<String>,
    /// Skip this many (by username).
    pub offset: i64,
    /// At most this many.
    pub limit: i64,
}

/// Accounts by username, case-insensitively, as `query` asks; and how many match in all.
pub fn list(
    conn: &mut PgConnection,
    query: &AccountQuery,
) -> Result<(Vec<AccountRow>, i64), StoreError> {
    let matching = || {
        let mut rows = accounts::table.into_boxed();
        if let Some(search) = query.search.as_deref().filter(|s| !s.is_empty()) {
            let pattern = format!(
                "%{}%",
                search
                    .to_lowercase()
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            rows = rows.filter(
                lower(accounts::username)
                    .like(pattern.clone())
                    .or(accounts::email
                        .is_not_null()
                        .and(lower(accounts::email.assume_not_null()).like(pattern))),
            );
        }
        rows
    };
    let total = matching().count().get_result(conn)?;
    let rows = matching()
        .order(lower(accounts::username))
        .offset(query.offset.max(0))
        .limit(query.limit.clamp(1, 1000))
        .select(AccountRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// Disables an account at `now`, in one transaction: it can no longer sign in, its SSO
/// sessions end, its refresh tokens are revoked and its unredeemed authorization codes are
/// spent. `None` when there is no such enabled account.
pub fn disable(
    conn: &mut PgConnection,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<crate::signin::SignedOut>, StoreError> {
    use crate::schema::authorization_codes as codes;
    crate::tx::transaction(conn, |conn| {
        let disabled = diesel::update(
            accounts::table
                .find(account_id)
                .filter(accounts::disabled_at.is_null()),
        )
        .set((accounts::disabled_at.eq(now), accounts::updated_at.eq(now)))
        .execute(conn)?;
        if disabled == 0 {
            return Ok(None);
        }
        diesel::update(
            codes::table
                .filter(codes::account_id.eq(account_id))
                .filter(codes::consumed_at.is_null()),
        )
        .set(codes::consumed_at.eq(now))
        .execute(conn)?;
        crate::signin::sign_out_everywhere(conn, account_id, None, now).map(Some)
    })
}

/// Enables a disabled account; false when there is no such disabled account.
pub fn enable(
    conn: &mut PgConnection,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(diesel::update(
        accounts::table
            .find(account_id)
            .filter(accounts::disabled_at.is_not_null()),
    )
    .set((
        accounts::disabled_at.eq(None::<DateTime<Utc>>),
        accounts::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Deletes an account and, through the foreign keys, everything that belongs to it (passkeys,
/// password, sessions, codes, refresh tokens, sign-in history, subjects) in one statement.
pub fn delete(conn: &mut PgConnection, account_id: Uuid) -> Result<bool, StoreError> {
    Ok(diesel::delete(accounts::table.find(account_id)).execute(conn)? == 1)
}
