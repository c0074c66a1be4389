//! Sign-up's account and first passkey stored together, and emailed links, at the level of
//! the authenticators: webauthn-rs's software authenticator, the real PostgreSQL.

use std::time::Duration;

use chrono::Utc;
use tessera_admin::config::model::EmailDelivery;
use tessera_authn::email::{self, Challenge, CodeRules};
use tessera_authn::passkeys::{PasskeyError, Passkeys, Registrant, SignUp};
use tessera_store::Store;
use tessera_store::email::{Attempt, Proves};
use tessera_testkit::TestDatabase;
use uuid::Uuid;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{CreationChallengeResponse, Url};

const ISSUER: &str = "https://login.example.com";

fn robin(username: &str) -> SignUp {
    SignUp {
        account_id: Uuid::new_v4(),
        username: username.into(),
        email: format!("{}@example.com", username.to_lowercase()),
        phone: None,
        given_name: "Robin".into(),
        family_name: "Reyes".into(),
    }
}

/// Runs a sign-up's registration ceremony with a software authenticator.
async fn sign_up(
    store: &Store,
    sign_up: &SignUp,
) -> Result<tessera_authn::passkeys::RegisteredPasskey, PasskeyError> {
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    let (ceremony, options) = passkeys
        .begin_registration(
            store,
            Registrant::SignUp(sign_up),
            (None, serde_json::Value::Null),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(options["publicKey"]["user"]["name"], sign_up.username);
    assert_eq!(options["publicKey"]["user"]["displayName"], "Robin Reyes");
    let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
    let response = WebauthnAuthenticator::new(SoftPasskey::new(true))
        .do_registration(Url::parse(ISSUER).unwrap(), options)
        .unwrap();
    passkeys
        .finish_registration(store, (ceremony, None, None), &response, "", Utc::now())
        .await
}

fn account_exists(store: &Store, id: Uuid) -> bool {
    let mut conn = store.conn().unwrap();
    tessera_store::accounts::by_id(&mut conn, id)
        .unwrap()
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_creates_the_account_only_together_with_its_first_passkey() {
    let db = TestDatabase::new();
    let store = db.store();
    let robin = robin("robin");

    let registered = sign_up(&store, &robin).await.unwrap();
    assert_eq!(registered.account_id, robin.account_id);
    let mut conn = store.conn().unwrap();
    let account = tessera_store::accounts::by_id(&mut conn, robin.account_id)
        .unwrap()
        .unwrap();
    assert_eq!(account.username, "robin");
    assert_eq!(account.email.as_deref(), Some("robin@example.com"));
    assert_eq!(account.attributes["family_name"], "Reyes");
    let devices = tessera_store::passkeys::devices_of(&mut conn, robin.account_id).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].device_id, registered.device_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_whose_username_or_address_was_taken_meanwhile_stores_nothing() {
    let db = TestDatabase::new();
    let store = db.store();
    super::passkeys::kim(&store).await;

    // Someone took the username between the form and the passkey.
    let late = robin("KIM");
    let refused = sign_up(&store, &late).await;
    assert!(
        matches!(refused, Err(PasskeyError::Taken("username"))),
        "{refused:?}"
    );
    assert!(!account_exists(&store, late.account_id));

    let mut same_address = robin("robin");
    same_address.email = "Kim@Example.com".into();
    let refused = sign_up(&store, &same_address).await;
    assert!(
        matches!(refused, Err(PasskeyError::Taken("email address"))),
        "{refused:?}"
    );
    assert!(!account_exists(&store, same_address.account_id));
    let mut conn = store.conn().unwrap();
    for id in [late.account_id, same_address.account_id] {
        assert!(
            tessera_store::passkeys::devices_of(&mut conn, id)
                .unwrap()
                .is_empty(),
            "no passkey without its account"
        );
    }
}

const LINKS: CodeRules = CodeRules {
    max_sends: 3,
    max_attempts: 3,
    lifetime: Duration::from_secs(300),
    delivery: EmailDelivery::Link,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_stands_for_a_code_that_proves_the_pending_sign_up_once() {
    let db = TestDatabase::new();
    let store = db.store();
    let flow = Uuid::new_v4();
    let pending = serde_json::to_value(robin("robin")).unwrap();
    let now = Utc::now();
    let Challenge::Link(token) = email::issue(
        &store,
        flow,
        tessera_authn::signin::Purpose::SignUp,
        Proves::SignUp(pending.clone()),
        LINKS,
        now,
    )
    .await
    .unwrap() else {
        panic!("link rules issue a link");
    };
    assert_eq!(token.len(), 43, "256 bits, base64url");
    assert_eq!(
        email::link_flow(&store, &token, now).await.unwrap(),
        Some((flow, tessera_authn::signin::Purpose::SignUp))
    );
    assert_eq!(
        email::link_flow(&store, &format!("{token}x"), now)
            .await
            .unwrap(),
        None
    );
    let code = email::code_for_link(&token);
    assert_eq!(code.len(), 6);
    // The code belongs to this flow only.
    assert_eq!(
        crate::typed(
            &store,
            Uuid::new_v4(),
            tessera_authn::signin::Purpose::SignUp,
            &code,
            now
        )
        .await
        .unwrap(),
        Attempt::NoCode
    );
    assert_eq!(
        crate::typed(
            &store,
            flow,
            tessera_authn::signin::Purpose::SignUp,
            &code,
            now
        )
        .await
        .unwrap(),
        Attempt::Matched(Proves::SignUp(pending))
    );
    // Spent: neither the link nor its code works again.
    assert_eq!(email::link_flow(&store, &token, now).await.unwrap(), None);
    assert_eq!(
        crate::typed(
            &store,
            flow,
            tessera_authn::signin::Purpose::SignUp,
            &code,
            now
        )
        .await
        .unwrap(),
        Attempt::NoCode
    );
    // A new link replaces the old one.
    let Challenge::Link(first) = email::issue(
        &store,
        flow,
        tessera_authn::signin::Purpose::SignUp,
        Proves::Nothing,
        LINKS,
        now,
    )
    .await
    .unwrap() else {
        panic!("a link");
    };
    let Challenge::Link(second) = email::issue(
        &store,
        flow,
        tessera_authn::signin::Purpose::SignUp,
        Proves::Nothing,
        LINKS,
        now,
    )
    .await
    .unwrap() else {
        panic!("a link");
    };
    assert_eq!(email::link_flow(&store, &first, now).await.unwrap(), None);
    assert!(
        email::link_flow(&store, &second, now)
            .await
            .unwrap()
            .is_some()
    );
    // A link that proves nothing (an unknown address) never matches.
    assert!(matches!(
        crate::typed(
            &store,
            flow,
            tessera_authn::signin::Purpose::SignUp,
            &email::code_for_link(&second),
            now
        )
        .await
        .unwrap(),
        Attempt::Wrong { .. }
    ));
}
