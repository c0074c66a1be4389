//! Creating accounts (the CLI and, later, sign-up use this).

use tessera_store::Store;
use tessera_store::accounts::{self, NewAccount, Taken};
use uuid::Uuid;

use tessera_admin::crypto::passwords::{PasswordError, Passwords};

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Username already used (case-insensitively).
    #[error("the username is already taken")]
    UsernameTaken,
    /// Email already used (case-insensitively).
    #[error("the email address is already used by another account")]
    EmailTaken,
    /// Legacy subject already used.
    #[error("the legacy subject belongs to another account")]
    LegacySubjectTaken,
    /// A value is not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// Password policy or hashing.
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] tessera_store::StoreError),
}

/// What an operator or a sign-up provides.
#[derive(Debug, Clone)]
pub struct AccountDetails {
    /// Username.
    pub username: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
}

/// What a username must be: 1 to 256 characters, no leading or trailing spaces, no control
/// characters.
pub fn check_username(username: &str) -> Result<(), String> {
    let name = username.trim();
    if name.is_empty() || name.chars().count() > 256 || name != username {
        return Err(
            "the username must be 1 to 256 characters without leading or trailing spaces".into(),
        );
    }
    if username.chars().any(char::is_control) {
        return Err("the username must not contain control characters".into());
    }
    Ok(())
}

/// What an email address must look like to be stored.
pub fn check_email(email: &str) -> Result<(), String> {
    let valid = email.len() <= 320
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        });
    if valid {
        Ok(())
    } else {
        Err(format!("{email:?} is not an email address"))
    }
}

/// What a legacy subject must be: 1 to 255 bytes of visible text, and not shaped like the
/// subjects Tessera derives (64 lowercase hex characters), so that the two kinds can never
/// name different accounts.
pub fn check_legacy_subject(subject: &str) -> Result<(), String> {
    let derived_shape = subject.len() == 64
        && subject
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
        return Err("the legacy subject must be 1 to 255 bytes without control characters".into());
    }
    if derived_shape {
        return Err(
            "the legacy subject must not be 64 lowercase hex characters (the shape of Tessera's own subjects)"
                .into(),
        );
    }
    Ok(())
}

fn check(details: &AccountDetails) -> Result<(), AccountError> {
    check_username(&details.username).map_err(AccountError::Invalid)?;
    if let Some(email) = &details.email {
        check_email(email).map_err(AccountError::Invalid)?;
    }
    Ok(())
}

/// Creates an account with an optional password, in one transaction.
pub async fn create(
    store: &Store,
    passwords: &Passwords,
    details: AccountDetails,
    password: Option<String>,
) -> Result<Uuid, AccountError> {
    check(&details)?;
    let hash = match password {
        Some(password) => Some(passwords.hash(password).await?),
        None => None,
    };
    let imported = Imported {
        password_hash: hash,
        ..Imported::default()
    };
    insert(store, details, imported).await
}

/// Brings in an account from another system with its password hash as that system stored it
/// (argon2id, bcrypt, PBKDF2: see `tessera_admin::crypto::legacy`), checked at sign-in and
/// replaced by argon2id on the first success.
pub async fn import(
    store: &Store,
    details: AccountDetails,
    imported: Imported,
) -> Result<Uuid, AccountError> {
    check(&details)?;
    if let Some(hash) = &imported.password_hash
        && tessera_admin::crypto::legacy::scheme(hash).is_none()
    {
        return Err(AccountError::Invalid(
            "the password hash is of a kind Tessera cannot check (argon2id, bcrypt $2a$/$2b$/$2y$, $pbkdf2-sha256$, $pbkdf2-sha512$, SHA-crypt $5$/$6$)".into(),
        ));
    }
    if let Some(subject) = &imported.legacy_subject {
        check_legacy_subject(subject).map_err(AccountError::Invalid)?;
    }
    insert(store, details, imported).await
}

/// What an account brings from the system it is imported from.
#[derive(Debug, Clone, Default)]
pub struct Imported {
    /// Its password hash as that system stored it.
    pub password_hash: Option<String>,
    /// The `sub` relying parties know it by.
    pub legacy_subject: Option<String>,
    /// Whether that system had verified its email address.
    pub email_verified: Option<bool>,
}

async fn insert(
    store: &Store,
    details: AccountDetails,
    imported: Imported,
) -> Result<Uuid, AccountError> {
    let hash = imported.password_hash;
    let legacy_subject = imported.legacy_subject;
    let mut attributes = serde_json::Map::new();
    if let Some(verified) = imported.email_verified {
        attributes.insert("email_verified".into(), verified.into());
    }
    if let Some(given) = &details.given_name {
        attributes.insert("given_name".into(), given.clone().into());
    }
    if let Some(family) = &details.family_name {
        attributes.insert("family_name".into(), family.clone().into());
    }
    let outcome = store
        .run(move |conn| {
            accounts::create(
                conn,
                &NewAccount {
                    username: &details.username,
                    email: details.email.as_deref(),
                    phone: details.phone.as_deref(),
                    attributes: serde_json::Value::Object(attributes),
                    legacy_subject: legacy_subject.as_deref(),
                },
                hash.as_deref(),
            )
        })
        .await?;
    match outcome {
        Ok(id) => Ok(id),
        Err(Taken::Username) => Err(AccountError::UsernameTaken),
        Err(Taken::Email) => Err(AccountError::EmailTaken),
        Err(Taken::LegacySubject) => Err(AccountError::LegacySubjectTaken),
    }
}
