//! Passkey ceremonies end to end without a browser: webauthn-rs's software authenticator
//! answers the challenges, the real PostgreSQL keeps the ceremonies and devices.

use chrono::{Duration, Utc};
use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails};
use tessera_authn::flow::secret_hash;
use tessera_authn::passkeys::{PasskeyError, Passkeys, Registrant};
use tessera_store::Store;
use tessera_store::accounts::AccountRow;
use tessera_testkit::TestDatabase;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, Url,
};

use tessera_testkit::soft_key::SoftKey;

const ISSUER: &str = "https://login.example.com";

fn origin() -> Url {
    Url::parse(ISSUER).unwrap()
}

pub async fn kim(store: &Store) -> AccountRow {
    accounts::create(
        store,
        &Passwords::new(1).unwrap(),
        AccountDetails {
            username: "kim".into(),
            email: Some("kim@example.com".into()),
            phone: None,
            given_name: Some("Kim".into()),
            family_name: Some("Anderson".into()),
        },
        None,
    )
    .await
    .unwrap();
    let mut conn = store.conn().unwrap();
    tessera_store::accounts::by_username(&mut conn, "kim")
        .unwrap()
        .unwrap()
}

/// An open sign-in flow of `browser` that allows the `passkeys` authenticator.
async fn open_flow(store: &Store, browser: &str) -> uuid::Uuid {
    open_flow_until(store, browser, Utc::now() + Duration::minutes(10)).await
}

/// Completes `flow` for `account` as a password sign-in would.
async fn sign_in_by_other_means(store: &Store, flow: uuid::Uuid, account: &AccountRow) {
    tessera_authn::flow::complete(
        store,
        flow,
        (account.account_id, None),
        (vec!["pwd".into()], tessera_authn::flow::acr_for("password")),
        tessera_authn::flow::NewSession::draw().unwrap(),
        Utc::now(),
    )
    .await
    .unwrap()
    .expect("the flow was open");
}

async fn open_flow_until(
    store: &Store,
    browser: &str,
    expires_at: chrono::DateTime<Utc>,
) -> uuid::Uuid {
    let flow = tessera_store::signin::NewFlow {
        flow_id: uuid::Uuid::new_v4(),
        browser_hash: secret_hash(browser),
        policy: serde_json::json!({ "allowed": ["passkeys"] }),
        return_to: "/done".into(),
        payload: serde_json::Value::Null,
        expires_at,
    };
    let id = flow.flow_id;
    store
        .run(move |conn| {
            let bounds = tessera_store::signin::FlowBounds {
                address_bucket: None,
                per_address: 1,
                window: std::time::Duration::from_secs(60),
                per_browser: 8,
            };
            tessera_store::signin::open_flow(conn, &flow, &bounds, Utc::now())
        })
        .await
        .unwrap();
    id
}

/// Registers a passkey held by `authenticator` for `account`.
async fn register(
    passkeys: &Passkeys,
    store: &Store,
    account: &AccountRow,
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
) -> Result<tessera_authn::passkeys::RegisteredPasskey, PasskeyError> {
    register_with(passkeys, store, account, "Laptop", |options| {
        let options: CreationChallengeResponse = serde_json::from_value(options).unwrap();
        authenticator.do_registration(origin(), options).unwrap()
    })
    .await
}

/// Registers for `account`, under `name`, the passkey `make` creates from the options.
async fn register_with(
    passkeys: &Passkeys,
    store: &Store,
    account: &AccountRow,
    name: &str,
    make: impl FnOnce(serde_json::Value) -> RegisterPublicKeyCredential,
) -> Result<tessera_authn::passkeys::RegisteredPasskey, PasskeyError> {
    let (ceremony, options) = passkeys
        .begin_registration(
            store,
            Registrant::Account(account),
            (None, serde_json::Value::Null),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(
        options["publicKey"]["authenticatorSelection"]["userVerification"],
        "required"
    );
    let response = make(options);
    passkeys
        .finish_registration(
            store,
            (ceremony, None, Some(account.account_id)),
            &response,
            name,
            Utc::now(),
        )
        .await
}

/// A fresh sign-in challenge for `account` and the authenticator's answer to it.
async fn answer(
    passkeys: &Passkeys,
    store: &Store,
    account: &AccountRow,
    authenticator: &mut WebauthnAuthenticator<SoftPasskey>,
    origin: Url,
) -> (uuid::Uuid, PublicKeyCredential) {
    let (ceremony, options) = passkeys
        .begin_authentication(store, Some(account.account_id), None, Utc::now())
        .await
        .unwrap();
    (
        ceremony,
        authenticator.do_authentication(origin, options).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_passkey_signs_in_and_its_counter_and_last_use_are_kept() {
    let db = TestDatabase::new();
    let store = db.store();
    let account = kim(&store).await;
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    // `true`: the software authenticator reports user verification, which the relying party
    // requires (without it, it refuses the ceremony itself).
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));

    let registered = register(&passkeys, &store, &account, &mut authenticator)
        .await
        .unwrap();
    assert_eq!(registered.account_id, account.account_id);

    for round in 1..=2 {
        let (ceremony, response) =
            answer(&passkeys, &store, &account, &mut authenticator, origin()).await;
        let signed_in = passkeys
            .finish_authentication(&store, (ceremony, None), &response, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        assert_eq!(signed_in.account_id, account.account_id);
        assert_eq!(signed_in.device_id, registered.device_id);
        assert_eq!(signed_in.amr[1], "user");
        assert!(["hwk", "swk"].contains(&signed_in.amr[0].as_str()));
        passkeys.record_use(&store, &signed_in).await.unwrap();
    }
    let devices = tessera_authn::passkeys::list(&store, account.account_id)
        .await
        .unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].name, "Laptop");
    assert_eq!(devices[0].device_type, "webauthn");
    assert!(devices[0].sign_count >= 2, "{}", devices[0].sign_count);
    assert!(devices[0].last_used_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discoverable_challenge_is_stored_only_for_an_open_unexpired_unfinished_flow_of_the_posting_browser()
 {
    let db = TestDatabase::new();
    let store = db.store();
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    let flow = open_flow(&store, "browser-a").await;
    let expired = open_flow_until(&store, "browser-a", Utc::now() - Duration::seconds(1)).await;
    let signed_in = open_flow(&store, "browser-a").await;
    sign_in_by_other_means(&store, signed_in, &kim(&store).await).await;

    for (flow, browser) in [
        (flow, "browser-b"),
        (uuid::Uuid::new_v4(), "browser-a"),
        (expired, "browser-a"),
        (signed_in, "browser-a"),
    ] {
        let refused = passkeys
            .begin_discoverable_in_flow(&store, (flow, secret_hash(browser)), Utc::now())
            .await
            .unwrap();
        assert!(refused.is_none());
    }
    assert_eq!(
        db.count_rows("passkey_ceremonies"),
        0,
        "nothing stored for a refused flow"
    );

    let challenge = passkeys
        .begin_discoverable_in_flow(&store, (flow, secret_hash("browser-a")), Utc::now())
        .await
        .unwrap()
        .expect("the flow's own browser gets a challenge");
    assert_eq!(
        challenge.flow_policy,
        serde_json::json!({ "allowed": ["passkeys"] })
    );
    assert!(challenge.options.public_key.allow_credentials.is_empty());
    assert_eq!(db.count_rows("passkey_ceremonies"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_answers_are_refused() {
    let db = TestDatabase::new();
    let store = db.store();
    let account = kim(&store).await;
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    let mut authenticator = WebauthnAuthenticator::new(SoftPasskey::new(true));
    register(&passkeys, &store, &account, &mut authenticator)
        .await
        .unwrap();

    // A replay of a good answer: the ceremony is gone once answered...
    let (ceremony, response) =
        answer(&passkeys, &store, &account, &mut authenticator, origin()).await;
    passkeys
        .finish_authentication(&store, (ceremony, None), &response, Utc::now())
        .await
        .unwrap();
    let again = passkeys
        .finish_authentication(&store, (ceremony, None), &response, Utc::now())
        .await;
    assert!(
        matches!(again, Err(PasskeyError::CeremonyGone)),
        "{again:?}"
    );
    // ... and presenting it to a new ceremony fails its challenge.
    let (fresh, _) = passkeys
        .begin_authentication(&store, Some(account.account_id), None, Utc::now())
        .await
        .unwrap();
    let replay = passkeys
        .finish_authentication(&store, (fresh, None), &response, Utc::now())
        .await;
    assert!(
        matches!(replay, Err(PasskeyError::Refused(_))),
        "{replay:?}"
    );

    // A ceremony begun by one sign-in flow cannot be finished by another flow, nor by its own
    // flow from another browser; neither attempt uses it up.
    let flow_a = open_flow(&store, "browser-a").await;
    let flow_b = open_flow(&store, "browser-b").await;
    let (ceremony, options) = passkeys
        .begin_authentication(&store, Some(account.account_id), Some(flow_a), Utc::now())
        .await
        .unwrap();
    let response = authenticator.do_authentication(origin(), options).unwrap();
    for (flow, browser) in [(flow_b, "browser-b"), (flow_a, "browser-b")] {
        let crossed = passkeys
            .finish_authentication(
                &store,
                (ceremony, Some((flow, secret_hash(browser)))),
                &response,
                Utc::now(),
            )
            .await;
        assert!(
            matches!(crossed, Err(PasskeyError::CeremonyGone)),
            "{crossed:?}"
        );
    }
    let signed_in = passkeys
        .finish_authentication(
            &store,
            (ceremony, Some((flow_a, secret_hash("browser-a")))),
            &response,
            Utc::now(),
        )
        .await
        .expect("the flow that began it finishes it, in its browser");
    assert_eq!(
        signed_in.flow_policy,
        Some(serde_json::json!({ "allowed": ["passkeys"] })),
        "the flow's policy comes back with the ceremony"
    );

    // Nor once its flow has signed in by other means meanwhile.
    let flow_c = open_flow(&store, "browser-c").await;
    let (ceremony, options) = passkeys
        .begin_authentication(&store, Some(account.account_id), Some(flow_c), Utc::now())
        .await
        .unwrap();
    let response = authenticator.do_authentication(origin(), options).unwrap();
    sign_in_by_other_means(&store, flow_c, &account).await;
    let late = passkeys
        .finish_authentication(
            &store,
            (ceremony, Some((flow_c, secret_hash("browser-c")))),
            &response,
            Utc::now(),
        )
        .await;
    assert!(matches!(late, Err(PasskeyError::CeremonyGone)), "{late:?}");

    // Another origin (a phishing site on the same domain, another port).
    let (ceremony, response) = answer(
        &passkeys,
        &store,
        &account,
        &mut authenticator,
        Url::parse("https://login.example.com:8443").unwrap(),
    )
    .await;
    let phished = passkeys
        .finish_authentication(&store, (ceremony, None), &response, Utc::now())
        .await;
    assert!(
        matches!(phished, Err(PasskeyError::Refused(_))),
        "{phished:?}"
    );

    // A tampered signature.
    let (ceremony, mut response) =
        answer(&passkeys, &store, &account, &mut authenticator, origin()).await;
    tamper_signature(&mut response);
    let tampered = passkeys
        .finish_authentication(&store, (ceremony, None), &response, Utc::now())
        .await;
    assert!(
        matches!(tampered, Err(PasskeyError::Refused(_))),
        "{tampered:?}"
    );

    // A credential nobody registered.
    let (ceremony, mut response) =
        answer(&passkeys, &store, &account, &mut authenticator, origin()).await;
    response.raw_id = vec![7u8; 32].into();
    let unknown = passkeys
        .finish_authentication(&store, (ceremony, None), &response, Utc::now())
        .await;
    assert!(
        matches!(unknown, Err(PasskeyError::UnknownCredential)),
        "{unknown:?}"
    );

    // A challenge answered after the ceremony timed out.
    let (late, options) = passkeys
        .begin_authentication(
            &store,
            Some(account.account_id),
            None,
            Utc::now() - Duration::minutes(10),
        )
        .await
        .unwrap();
    let response = authenticator.do_authentication(origin(), options).unwrap();
    let expired = passkeys
        .finish_authentication(&store, (late, None), &response, Utc::now())
        .await;
    assert!(
        matches!(expired, Err(PasskeyError::CeremonyGone)),
        "{expired:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_passkeys_gets_no_challenge_and_an_ip_issuer_no_relying_party() {
    let db = TestDatabase::new();
    let store = db.store();
    let account = kim(&store).await;
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    let none = passkeys
        .begin_authentication(&store, Some(account.account_id), None, Utc::now())
        .await;
    assert!(
        matches!(none, Err(PasskeyError::UnknownCredential)),
        "{none:?}"
    );
    assert!(matches!(
        Passkeys::new("http://127.0.0.1:8080", "Tessera"),
        Err(PasskeyError::Setup(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ed25519_security_key_registers_and_signs_in_and_a_forged_signature_is_refused() {
    let db = TestDatabase::new();
    let store = db.store();
    let account = kim(&store).await;
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    let mut key = SoftKey::ed25519(ISSUER).unwrap();

    let (registered, offered) =
        register_soft_key(&passkeys, &store, &account, &mut key, "Security key").await;
    assert_eq!(offered, [-7, -8, -257], "ES256, EdDSA, RS256 in that order");

    let (ceremony, answer) = soft_key_answer(&passkeys, &store, &account, &mut key).await;
    let signed_in = passkeys
        .finish_authentication(&store, (ceremony, None), &answer, Utc::now())
        .await
        .unwrap();
    assert_eq!(signed_in.device_id, registered.device_id);
    assert_eq!(signed_in.amr, ["hwk", "user"]);
    assert_eq!(signed_in.usage.sign_count, 1);

    let (ceremony, mut forged) = soft_key_answer(&passkeys, &store, &account, &mut key).await;
    tamper_signature(&mut forged);
    let refused = passkeys
        .finish_authentication(&store, (ceremony, None), &forged, Utc::now())
        .await;
    assert!(
        matches!(refused, Err(PasskeyError::Refused(_))),
        "{refused:?}"
    );
}

/// Registers `key` for `account`; returns the new passkey and the COSE algorithms the options
/// offered, in their order.
async fn register_soft_key(
    passkeys: &Passkeys,
    store: &Store,
    account: &AccountRow,
    key: &mut SoftKey,
    name: &str,
) -> (tessera_authn::passkeys::RegisteredPasskey, Vec<i64>) {
    let mut offered = Vec::new();
    let registered = register_with(passkeys, store, account, name, |options| {
        offered = options["publicKey"]["pubKeyCredParams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["alg"].as_i64().unwrap())
            .collect();
        serde_json::from_value(key.register(&options).unwrap()).unwrap()
    })
    .await
    .unwrap();
    (registered, offered)
}

/// A fresh sign-in challenge for `account` and `key`'s answer to it.
async fn soft_key_answer(
    passkeys: &Passkeys,
    store: &Store,
    account: &AccountRow,
    key: &mut SoftKey,
) -> (uuid::Uuid, PublicKeyCredential) {
    let (ceremony, options) = passkeys
        .begin_authentication(store, Some(account.account_id), None, Utc::now())
        .await
        .unwrap();
    let answer = key.sign(&serde_json::to_value(&options).unwrap()).unwrap();
    (ceremony, serde_json::from_value(answer).unwrap())
}

/// What the code under test logs on this thread, as text.
#[derive(Clone, Default)]
struct Log(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Logs this thread's events from now until the guard is dropped.
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let log = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(move || log.clone())
                .with_ansi(false)
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// One thread: the warning is logged where the test's future runs, and captured there.
#[tokio::test(flavor = "current_thread")]
async fn a_counter_that_goes_backwards_is_refused_as_a_possibly_cloned_key_and_logged() {
    let log = Log::default();
    let _capture = log.capture();
    let db = TestDatabase::new();
    let store = db.store();
    let account = kim(&store).await;
    let passkeys = Passkeys::new(ISSUER, "Tessera").unwrap();
    let mut key = SoftKey::p256(ISSUER).unwrap();
    register_soft_key(&passkeys, &store, &account, &mut key, "Phone").await;
    // The key counts 5 (its answer carries 5 + 1).
    sign_in_counting_from(&passkeys, &store, &account, &mut key, 5)
        .await
        .unwrap();
    let stored = tessera_authn::passkeys::list(&store, account.account_id)
        .await
        .unwrap();
    assert_eq!(stored[0].sign_count, 6);

    // A copy of it that has counted less, or as much.
    for behind in [2, 5] {
        let refused = sign_in_counting_from(&passkeys, &store, &account, &mut key, behind).await;
        assert!(
            matches!(&refused, Err(PasskeyError::Refused(why)) if why.contains("compromised")),
            "{refused:?}"
        );
    }
    let stored = tessera_authn::passkeys::list(&store, account.account_id)
        .await
        .unwrap();
    assert_eq!(stored[0].sign_count, 6, "a refused answer moves nothing");
    let log = log.text();
    assert_eq!(
        log.matches("WARN").count(),
        2,
        "one warning per refused answer: {log}"
    );
    assert!(
        log.contains("signature counter did not move forward"),
        "{log}"
    );
    assert!(log.contains(&stored[0].device_id.to_string()), "{log}");
}

/// A sign-in of `account` with `key` answering from `counter`; a success is recorded.
async fn sign_in_counting_from(
    passkeys: &Passkeys,
    store: &Store,
    account: &AccountRow,
    key: &mut SoftKey,
    counter: u32,
) -> Result<tessera_authn::passkeys::PasskeySignIn, PasskeyError> {
    key.set_counter(counter);
    let (ceremony, answer) = soft_key_answer(passkeys, store, account, key).await;
    let result = passkeys
        .finish_authentication(store, (ceremony, None), &answer, Utc::now())
        .await;
    if let Ok(signed_in) = &result {
        passkeys.record_use(store, signed_in).await.unwrap();
    }
    result
}

/// Flips a bit of the answer's signature.
fn tamper_signature(answer: &mut PublicKeyCredential) {
    let mut signature = answer.response.signature.to_vec();
    let last = signature.len() - 1;
    signature[last] ^= 0x01;
    answer.response.signature = signature.into();
}
