//! authn integration tests on the real PostgreSQL server.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails, AccountError};
use tessera_testkit::TestDatabase;

mod email;
mod flows;
mod layout;
mod passkeys;
mod signup;

/// A typed code checked for `flow`'s challenge of `purpose`: what the attempt found (a test
/// never reaches the bound on wrong codes).
async fn typed(
    store: &tessera_store::Store,
    flow: uuid::Uuid,
    purpose: tessera_authn::signin::Purpose,
    code: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<tessera_store::email::Attempt, tessera_store::StoreError> {
    match tessera_authn::email::check_code(store, (flow, purpose), code, true, now).await? {
        tessera_authn::email::CodeCheck::Checked { attempt, .. } => Ok(attempt),
        tessera_authn::email::CodeCheck::Locked => panic!("the account reached the bound"),
    }
}

fn kim(username: &str, email: &str) -> AccountDetails {
    AccountDetails {
        username: username.into(),
        email: Some(email.into()),
        phone: None,
        given_name: Some("Kim".into()),
        family_name: Some("Lee".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_created_with_its_password_and_duplicates_conflict_cleanly() {
    let db = TestDatabase::new();
    let store = db.store();
    let passwords = Passwords::new(2).unwrap();
    let id = accounts::create(
        &store,
        &passwords,
        kim("kim", "kim@example.com"),
        Some("Password1".into()),
    )
    .await
    .unwrap();
    let mut conn = store.conn().unwrap();
    let row = tessera_store::accounts::by_username(&mut conn, "KIM")
        .unwrap()
        .unwrap();
    assert_eq!(row.account_id, id);
    assert_eq!(row.attributes["given_name"], "Kim");
    let hash = tessera_store::accounts::password_hash(&mut conn, id).unwrap();
    assert!(passwords.verify("Password1".into(), hash).await.unwrap());

    let again = accounts::create(&store, &passwords, kim("Kim", "other@example.com"), None).await;
    assert!(
        matches!(again, Err(AccountError::UsernameTaken)),
        "{again:?}"
    );
    let email = accounts::create(&store, &passwords, kim("kim2", "KIM@example.com"), None).await;
    assert!(matches!(email, Err(AccountError::EmailTaken)), "{email:?}");
    let bad = accounts::create(&store, &passwords, kim(" kim3", "kim3@example.com"), None).await;
    assert!(matches!(bad, Err(AccountError::Invalid(_))), "{bad:?}");
    let short = accounts::create(
        &store,
        &passwords,
        kim("kim4", "kim4@example.com"),
        Some("short".into()),
    )
    .await;
    assert!(matches!(short, Err(AccountError::Password(_))), "{short:?}");
    // Nothing half-written: the refused accounts do not exist.
    assert!(
        tessera_store::accounts::by_username(&mut conn, "kim4")
            .unwrap()
            .is_none()
    );
}
