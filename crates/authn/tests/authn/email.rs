//! Email codes through a real SMTP sink (maildev) and the real PostgreSQL.

use std::time::Duration;

use chrono::Utc;
use tessera_admin::config::model::{EmailDelivery, EmailProvider, Smtp, SmtpTls};
use tessera_admin::secrets::{ConfigSecrets, KeyEncryptionKey};
use tessera_authn::email::{self, CodeRules, EmailError};
use tessera_store::email::{Attempt, Proves};
use tessera_testkit::{MailSink, TestDatabase};
use uuid::Uuid;

const PURPOSE: tessera_authn::signin::Purpose = tessera_authn::signin::Purpose::Enrolment;
const RULES: CodeRules = CodeRules {
    max_sends: 3,
    max_attempts: 3,
    lifetime: Duration::from_secs(300),
    delivery: EmailDelivery::Code,
};

/// Issues a code (the rules deliver codes, not links).
async fn issue_code(
    store: &tessera_store::Store,
    flow: Uuid,
    proves: Proves,
    now: chrono::DateTime<Utc>,
) -> Result<String, EmailError> {
    match email::issue(store, flow, PURPOSE, proves, RULES, now).await? {
        email::Challenge::Code(code) => Ok(code),
        email::Challenge::Link(_) => panic!("code rules issued a link"),
    }
}

fn provider(port: u16) -> EmailProvider {
    EmailProvider {
        id: "smtp".into(),
        description: None,
        smtp: Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: SmtpTls::None,
            default_sender: "noreply@login.example.com".into(),
            username: None,
            sealed_password: None,
            allow_insecure_transport: false,
        },
    }
}

fn secrets() -> ConfigSecrets {
    ConfigSecrets::new(
        KeyEncryptionKey::from_base64(&KeyEncryptionKey::generate_base64().unwrap()).unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailed_code_proves_the_account_once_and_wrong_codes_use_up_the_tries() {
    let db = TestDatabase::new();
    let store = db.store();
    let kim = super::passkeys::kim(&store).await.account_id;
    let sink = MailSink::start();
    let flow = Uuid::new_v4();

    let code = issue_code(&store, flow, Proves::Account(kim), Utc::now())
        .await
        .unwrap();
    email::send(
        &provider(sink.smtp_port),
        &secrets(),
        &email::code_mail("kim@example.com", "Tessera", &code, 5),
    )
    .await
    .unwrap();
    let mail = sink.wait_for("kim@example.com", 1).await;
    assert!(mail.subject.contains("Tessera"), "{}", mail.subject);
    assert!(mail.text.contains(&code), "{}", mail.text);
    assert!(mail.html.contains(&code), "{}", mail.html);
    let typed: String = mail
        .text
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned();

    let wrong = if typed == "000000" {
        "000001"
    } else {
        "000000"
    };
    assert_eq!(
        crate::typed(&store, flow, PURPOSE, wrong, Utc::now())
            .await
            .unwrap(),
        Attempt::Wrong { remaining: 2 }
    );
    assert_eq!(
        crate::typed(&store, flow, PURPOSE, &typed, Utc::now())
            .await
            .unwrap(),
        Attempt::Matched(Proves::Account(kim))
    );
    // Spent.
    assert_eq!(
        crate::typed(&store, flow, PURPOSE, &typed, Utc::now())
            .await
            .unwrap(),
        Attempt::NoCode
    );
    // Bound to its flow.
    let other = issue_code(&store, flow, Proves::Account(kim), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        crate::typed(&store, Uuid::new_v4(), PURPOSE, &other, Utc::now())
            .await
            .unwrap(),
        Attempt::NoCode
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_code_replaces_the_old_tries_and_sends_are_limited_and_unknown_users_never_match() {
    let db = TestDatabase::new();
    let store = db.store();
    let kim = super::passkeys::kim(&store).await.account_id;
    let flow = Uuid::new_v4();
    let now = Utc::now();

    let first = issue_code(&store, flow, Proves::Account(kim), now)
        .await
        .unwrap();
    let second = issue_code(&store, flow, Proves::Account(kim), now)
        .await
        .unwrap();
    if first != second {
        assert_eq!(
            crate::typed(&store, flow, PURPOSE, &first, now)
                .await
                .unwrap(),
            Attempt::Wrong { remaining: 2 },
            "the old code no longer works"
        );
    }
    let third = issue_code(&store, flow, Proves::Account(kim), now)
        .await
        .unwrap();
    let fourth = issue_code(&store, flow, Proves::Account(kim), now).await;
    assert!(
        matches!(fourth, Err(EmailError::TooManySends)),
        "{fourth:?}"
    );
    // Three wrong tries and the code is dead, even the right one.
    for remaining in [2, 1, 0] {
        let wrong = if third == "123456" {
            "654321"
        } else {
            "123456"
        };
        assert_eq!(
            crate::typed(&store, flow, PURPOSE, wrong, now)
                .await
                .unwrap(),
            Attempt::Wrong { remaining }
        );
    }
    assert_eq!(
        crate::typed(&store, flow, PURPOSE, &third, now)
            .await
            .unwrap(),
        Attempt::NoCode
    );

    // An unknown username gets a code row too (the flow looks the same) that never matches.
    let nobody = Uuid::new_v4();
    let code = issue_code(&store, nobody, Proves::Nothing, now)
        .await
        .unwrap();
    assert_eq!(
        crate::typed(&store, nobody, PURPOSE, &code, now)
            .await
            .unwrap(),
        Attempt::Wrong { remaining: 2 }
    );
    // An expired code is no code.
    let late = Uuid::new_v4();
    let code = issue_code(&store, late, Proves::Account(kim), now)
        .await
        .unwrap();
    assert_eq!(
        crate::typed(
            &store,
            late,
            PURPOSE,
            &code,
            now + chrono::Duration::minutes(6)
        )
        .await
        .unwrap(),
        Attempt::NoCode
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_is_a_clear_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sent = email::send(
        &provider(closed),
        &secrets(),
        &email::code_mail("kim@example.com", "Tessera", "123456", 5),
    )
    .await;
    assert!(matches!(sent, Err(EmailError::Send(_))), "{sent:?}");
}

#[test]
fn codes_are_six_digits() {
    for _ in 0..200 {
        let code = email::new_code().unwrap();
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_code_typed_twice_at_once_proves_the_account_once() {
    let db = TestDatabase::new();
    let store = db.store();
    let kim = super::passkeys::kim(&store).await.account_id;
    let flow = Uuid::new_v4();
    let issued = Utc::now();
    let code = issue_code(&store, flow, Proves::Account(kim), issued)
        .await
        .unwrap();
    // Some tries carry an earlier clock than others: a spent code must stay spent for them.
    let tries = (0..8).map(|i| {
        let (store, code) = (store.clone(), code.clone());
        let at = issued + chrono::Duration::milliseconds(if i % 2 == 0 { 20 } else { 10 });
        tokio::spawn(async move { crate::typed(&store, flow, PURPOSE, &code, at).await })
    });
    let mut matched = 0;
    for attempt in tries {
        if matches!(attempt.await.unwrap().unwrap(), Attempt::Matched(_)) {
            matched += 1;
        }
    }
    assert_eq!(matched, 1);
}
