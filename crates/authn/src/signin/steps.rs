//! The steps of a sign-in: each takes a typed credential (and the limits, the time) and
//! returns what follows or a typed refusal. They read and write the database through `store`
//! but know nothing of pages; delays they decide are returned, not slept.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tessera_admin::crypto::passwords::Passwords;
use tessera_store::accounts::AccountRow;
use tessera_store::email::{Attempt as CodeAttempt, Proves};
use tessera_store::{Store, StoreError};
use uuid::Uuid;

use super::proof::{DecodeError, PendingSignUp, Purpose};
use crate::email::{self, CodeCheck};
use crate::guesses;
use crate::limits::{self, Attempt, AttemptLimits};

/// Why a step could not be taken at all (as opposed to a refusal of the credential).
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored step (a pending sign-up) cannot be read back.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// A password typed on the sign-in form.
#[derive(Debug, Clone)]
pub struct PasswordAttempt {
    /// As typed (surrounding blanks are not part of a username).
    pub username: String,
    /// As typed.
    pub password: String,
    /// Where it came from (`None` when unknown).
    pub address: Option<IpAddr>,
    /// The browser proved that this username signed in with it before.
    pub known_device: bool,
}

/// What a password attempt came to.
#[derive(Debug)]
pub enum PasswordOutcome {
    /// Right: the account.
    Verified(Box<AccountRow>),
    /// Wrong username or password (the two are not told apart); answer after `delay`.
    Refused {
        /// How long to hold the answer (growing with repeated attempts).
        delay: Duration,
    },
    /// Over the attempt limits: not checked at all.
    TooMany {
        /// When to come back.
        retry_after: Duration,
    },
}

/// Counts the attempt, and only when the limits allow it checks the password (an unknown
/// username against a dummy hash, so it takes as long). A success clears the username's
/// counters: NIST counts consecutive failures.
pub async fn check_password(
    store: &Store,
    passwords: &Passwords,
    (attempt, limits): (PasswordAttempt, AttemptLimits),
    now: DateTime<Utc>,
) -> Result<PasswordOutcome, StepError> {
    let username = attempt.username.trim().to_owned();
    let buckets = limits::password_buckets(&username, attempt.address, attempt.known_device);
    let lookup = username.clone();
    let looked_up = store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Attempt::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            let account = tessera_store::accounts::active_by_username(conn, &lookup)?;
            let hash = match &account {
                Some(a) => tessera_store::accounts::password_hash(conn, a.account_id)?,
                None => None,
            };
            Ok(Ok((account, hash, limits.delay(&counts))))
        })
        .await?;
    let (account, hash, delay) = match looked_up {
        Ok(found) => found,
        Err(retry_after) => return Ok(PasswordOutcome::TooMany { retry_after }),
    };
    let legacy = hash.as_deref().is_some_and(Passwords::needs_rehash);
    let verified = passwords
        .verify(attempt.password.clone(), hash)
        .await
        .map_err(|e| StepError::Hashing(e.to_string()))?;
    let Some(account) = account.filter(|_| verified) else {
        return Ok(PasswordOutcome::Refused { delay });
    };
    if legacy {
        rehash(store, passwords, account.account_id, attempt.password).await;
    }
    let cleared = limits::cleared_by_success(&username, attempt.address);
    store
        .run(move |conn| {
            cleared
                .iter()
                .try_for_each(|bucket| tessera_store::rate_limits::reset(conn, bucket))
        })
        .await?;
    Ok(PasswordOutcome::Verified(Box::new(account)))
}

/// Replaces an imported (bcrypt, PBKDF2) hash by argon2id once its password is known right.
/// A failure leaves the old hash, which still verifies: the next sign-in tries again.
async fn rehash(store: &Store, passwords: &Passwords, account_id: Uuid, password: String) {
    let hashed = match passwords.hash(password).await {
        Ok(hashed) => hashed,
        Err(e) => {
            tracing::warn!(error = %e, "an imported password hash was kept");
            return;
        }
    };
    let replaced = store
        .run(move |conn| tessera_store::accounts::replace_password_hash(conn, account_id, &hashed))
        .await;
    match replaced {
        Ok(_) => tracing::info!("an imported password hash was replaced by argon2id"),
        Err(e) => tracing::warn!(error = %e, "cannot replace an imported password hash"),
    }
}

/// What an identifier-first username leads to.
#[derive(Debug)]
pub enum Identified {
    /// An account with passkeys: straight to the passkey prompt.
    HasPasskeys(Box<AccountRow>),
    /// Anyone else (no passkey, or no such account: the two read the same): the selector.
    Choose,
    /// Too many look-ups from this address (the answer tells which accounts have passkeys).
    TooMany {
        /// When to come back.
        retry_after: Duration,
    },
}

/// Looks `username` up for the identifier-first page, counted per client address.
pub async fn identify(
    store: &Store,
    username: &str,
    address: Option<IpAddr>,
    now: DateTime<Utc>,
) -> Result<Identified, StoreError> {
    let lookup = username.to_owned();
    let buckets = limits::identify_buckets(address);
    let limits = limits::IDENTIFY_LIMITS;
    store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Attempt::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Identified::TooMany { retry_after });
            }
            Ok(
                match tessera_store::accounts::by_username_with_passkeys(conn, &lookup)? {
                    Some((account, true)) => Identified::HasPasskeys(Box::new(account)),
                    _ => Identified::Choose,
                },
            )
        })
        .await
}

/// A request for an emailed code for a username, as the limits and the account's history
/// decide it.
#[derive(Debug)]
pub enum CodeRequest {
    /// Send (to the account, if there is one: the page reads the same either way).
    Send {
        /// The account, when the username has one.
        account: Option<Box<AccountRow>>,
        /// Its wrong codes reached the bound: mail a link instead of a code.
        linked: bool,
        /// Its wrong codes passed the warning mark for the first time this window: tell its
        /// owner.
        warn: bool,
    },
    /// Too many requests.
    TooMany {
        /// When to come back.
        retry_after: Duration,
    },
}

/// Counts a request for an emailed code for `username` (per username and per client address)
/// and reads the account's wrong codes so far.
pub async fn request_code(
    store: &Store,
    (username, buckets): (&str, Vec<String>),
    limits: AttemptLimits,
    now: DateTime<Utc>,
) -> Result<CodeRequest, StoreError> {
    let lookup = username.to_owned();
    store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Attempt::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(CodeRequest::TooMany { retry_after });
            }
            let Some(account) = tessera_store::accounts::active_by_username(conn, &lookup)? else {
                return Ok(CodeRequest::Send {
                    account: None,
                    linked: false,
                    warn: false,
                });
            };
            let failures = tessera_store::rate_limits::current(
                conn,
                &guesses::bucket(account.account_id),
                now,
                guesses::WINDOW,
            )?;
            // Warned once per window: the first send after the count passes the mark.
            let warn = failures >= guesses::WARN_AT
                && tessera_store::rate_limits::hit(
                    conn,
                    &[format!("otp:warned:{}", account.account_id)],
                    now,
                    guesses::WINDOW,
                )?
                .first()
                .is_some_and(|c| c.hits == 1);
            Ok(CodeRequest::Send {
                account: Some(Box::new(account)),
                linked: guesses::is_locked(failures),
                warn,
            })
        })
        .await
}

/// What follows a right answer to an emailed challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The account's address is proved: it registers a passkey (enrolment, recovery).
    RegisterPasskey(Uuid),
    /// A sign-up's address is verified: its account (and first passkey) can be created.
    CreateAccount(PendingSignUp),
    /// The emailed code was the sign-in itself.
    SignedIn(Uuid),
}

/// Why an answer to an emailed challenge proved nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRefusal {
    /// Wrong; this many tries remain. Answer after `delay`.
    Wrong {
        /// Tries left.
        remaining: i32,
        /// How long to hold the answer (growing with the account's wrong codes).
        delay: Duration,
    },
    /// Expired, spent, out of tries, or past the account's bound on wrong codes: a new code
    /// is needed.
    Gone,
}

/// What a right answer for `purpose` leads to. A challenge that proves nothing (one "sent"
/// for an unknown username) or proves the wrong kind of thing leads nowhere.
pub fn after_email(purpose: Purpose, proves: Proves) -> Result<Option<Next>, DecodeError> {
    Ok(match (purpose, proves) {
        (Purpose::Enrolment, Proves::Account(account)) => Some(Next::RegisterPasskey(account)),
        (Purpose::SignIn, Proves::Account(account)) => Some(Next::SignedIn(account)),
        (Purpose::SignUp, Proves::SignUp(pending)) => {
            Some(Next::CreateAccount(PendingSignUp::decode(pending)?))
        }
        _ => None,
    })
}

/// Checks an answer to the flow's challenge of `purpose`: a `typed` code counts against the
/// account's bound on wrong codes (and is refused unchecked past it); a code that stands for
/// an emailed link does not. `Ok(Ok(None))`: right, but it leads nowhere.
pub async fn check_email_code(
    store: &Store,
    (flow_id, purpose): (Uuid, Purpose),
    (code, typed): (&str, bool),
    now: DateTime<Utc>,
) -> Result<Result<Option<Next>, CodeRefusal>, StepError> {
    let checked = email::check_code(store, (flow_id, purpose), code, typed, now).await?;
    let (attempt, failures) = match checked {
        CodeCheck::Checked { attempt, failures } => (attempt, failures),
        CodeCheck::Locked => return Ok(Err(CodeRefusal::Gone)),
    };
    Ok(match attempt {
        CodeAttempt::Matched(proves) => Ok(after_email(purpose, proves)?),
        CodeAttempt::Wrong { remaining } if remaining > 0 => Err(CodeRefusal::Wrong {
            remaining,
            delay: guesses::delay(failures),
        }),
        CodeAttempt::Wrong { .. } | CodeAttempt::NoCode => Err(CodeRefusal::Gone),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_right_answer_leads_where_its_purpose_says() {
        let account = Uuid::from_u128(7);
        assert_eq!(
            after_email(Purpose::Enrolment, Proves::Account(account)),
            Ok(Some(Next::RegisterPasskey(account)))
        );
        assert_eq!(
            after_email(Purpose::SignIn, Proves::Account(account)),
            Ok(Some(Next::SignedIn(account)))
        );
    }

    #[test]
    fn a_challenge_for_nobody_or_of_the_wrong_kind_leads_nowhere() {
        let account = Uuid::from_u128(7);
        assert_eq!(after_email(Purpose::SignIn, Proves::Nothing), Ok(None));
        assert_eq!(
            after_email(Purpose::SignUp, Proves::Account(account)),
            Ok(None)
        );
        assert_eq!(
            after_email(Purpose::Enrolment, Proves::SignUp(serde_json::json!({}))),
            Ok(None)
        );
    }

    #[test]
    fn a_damaged_pending_sign_up_is_a_decode_error_not_an_expired_code() {
        let damaged = Proves::SignUp(serde_json::json!({ "kind": "passkey" }));
        assert!(after_email(Purpose::SignUp, damaged).is_err());
    }
}
