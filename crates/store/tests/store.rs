//! Store integration tests, each on its own database on the real PostgreSQL server.

use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use tessera_store::migrations;
use tessera_testkit::TestDatabase;

#[test]
fn migrations_apply_to_an_empty_database_and_then_nothing_is_pending() {
    let db = TestDatabase::empty();
    let mut conn = db.connect();
    assert!(migrations::pending_count(&mut conn).unwrap() > 0);
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert!(!applied.is_empty());
    assert_eq!(migrations::pending_count(&mut conn).unwrap(), 0);
    assert!(migrations::run_pending(&mut conn).unwrap().is_empty());
}

#[test]
fn instances_migrating_at_once_apply_each_migration_exactly_once() {
    let db = TestDatabase::empty();
    let url = db.url().to_owned();
    let runners: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = PgConnection::establish(&url).unwrap();
                migrations::run_pending(&mut conn).unwrap().len()
            })
        })
        .collect();
    let applied: Vec<usize> = runners.into_iter().map(|t| t.join().unwrap()).collect();
    let total = migrations::count().unwrap();
    assert_eq!(applied.iter().sum::<usize>(), total, "{applied:?}");
    assert_eq!(applied.iter().filter(|n| **n > 0).count(), 1, "{applied:?}");
}

fn insert_account(conn: &mut PgConnection, username: &str, email: &str) -> QueryResult<uuid::Uuid> {
    let id = uuid::Uuid::new_v4();
    diesel::sql_query("INSERT INTO accounts (account_id, username, email) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(id)
        .bind::<Text, _>(username)
        .bind::<Text, _>(email)
        .execute(conn)?;
    Ok(id)
}

#[test]
fn usernames_and_emails_are_unique_regardless_of_case() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    insert_account(&mut conn, "Kim", "kim@example.com").unwrap();
    assert!(insert_account(&mut conn, "kim", "other@example.com").is_err());
    assert!(insert_account(&mut conn, "dana", "KIM@example.com").is_err());
    insert_account(&mut conn, "dana", "dana@example.com").unwrap();
}

#[test]
fn deleting_an_account_deletes_its_devices() {
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let account = insert_account(&mut conn, "kim", "kim@example.com").unwrap();
    diesel::sql_query(
        "INSERT INTO devices (device_id, account_id, device_type, credential_id, credential, name)
         VALUES ($1, $2, 'passkey', '\\x0102', '{}', 'Laptop')",
    )
    .bind::<SqlUuid, _>(uuid::Uuid::new_v4())
    .bind::<SqlUuid, _>(account)
    .execute(&mut conn)
    .unwrap();
    diesel::sql_query("DELETE FROM accounts WHERE account_id = $1")
        .bind::<SqlUuid, _>(account)
        .execute(&mut conn)
        .unwrap();
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Count = diesel::sql_query("SELECT count(*) AS n FROM devices")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(left.n, 0);
}

#[tokio::test]
async fn store_run_reports_an_unreachable_database_as_unavailable() {
    let store = tessera_store::Store::new(&tessera_store::PoolSettings {
        url: "postgres://postgres@127.0.0.1:1/nothing".into(),
        max_size: 1,
        connect_timeout: std::time::Duration::from_millis(300),
    })
    .unwrap();
    let err = store
        .run(|conn| migrations::pending_count(conn))
        .await
        .unwrap_err();
    assert!(err.is_unavailable(), "{err}");
}
