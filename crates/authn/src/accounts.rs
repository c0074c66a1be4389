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

fn check(details: &AccountDetails) -> Result<(), AccountError> {
    let name = details.username.trim();
    if name.is_empty() || name.chars().count() > 256 || name != details.username {
        return Err(AccountError::Invalid(
            "the username must be 1 to 256 characters without leading or trailing spaces".into(),
        ));
    }
    if details.username.chars().any(char::is_control) {
        return Err(AccountError::Invalid(
            "the username must not contain control characters".into(),
        ));
    }
    if let Some(email) = &details.email {
        let valid = email.len() <= 320
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !email.contains(char::is_whitespace)
            });
        if !valid {
            return Err(AccountError::Invalid(format!(
                "{email:?} is not an email address"
            )));
        }
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
    insert(store, details, hash).await
}

/// Brings in an account from another system with its password hash as that system stored it
/// (argon2id, bcrypt, PBKDF2: see `tessera_admin::crypto::legacy`), checked at sign-in and
/// replaced by argon2id on the first success.
pub async fn import(
    store: &Store,
    details: AccountDetails,
    password_hash: Option<String>,
) -> Result<Uuid, AccountError> {
    check(&details)?;
    if let Some(hash) = &password_hash
        && tessera_admin::crypto::legacy::scheme(hash).is_none()
    {
        return Err(AccountError::Invalid(
            "the password hash is of a kind Tessera cannot check (argon2id, bcrypt $2a$/$2b$/$2y$, $pbkdf2-sha256$, $pbkdf2-sha512$)".into(),
        ));
    }
    insert(store, details, password_hash).await
}

async fn insert(
    store: &Store,
    details: AccountDetails,
    hash: Option<String>,
) -> Result<Uuid, AccountError> {
    let mut attributes = serde_json::Map::new();
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
                },
                hash.as_deref(),
            )
        })
        .await?;
    match outcome {
        Ok(id) => Ok(id),
        Err(Taken::Username) => Err(AccountError::UsernameTaken),
        Err(Taken::Email) => Err(AccountError::EmailTaken),
    }
}
