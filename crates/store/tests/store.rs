//! Store integration tests, each on its own database on the real PostgreSQL server.
// Test and measuring code: a failure should stop it loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

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

/// The pool's connections: trusted right after use (no `SELECT 1` before every statement),
/// discarded when a statement finds them lost, tested again after sitting idle.
mod pool {
    use diesel::prelude::*;
    use diesel::sql_types::Integer;
    use std::time::Duration;
    use tessera_store::{PoolSettings, Store, StoreError};
    use tessera_testkit::TestDatabase;

    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }

    /// A pool of one connection, handed out untested after up to `trusted_idle` idle.
    fn one_connection(db: &TestDatabase, trusted_idle: Duration) -> Store {
        let settings = PoolSettings {
            url: db.url().to_owned(),
            max_size: 1,
            connect_timeout: Duration::from_secs(5),
        };
        Store::trusting_idle(&settings, trusted_idle).unwrap()
    }

    fn pid_of(conn: &mut PgConnection) -> Result<i32, StoreError> {
        Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<Pid>(conn)?
            .pid)
    }

    /// A prepared statement this connection has not run yet: when the connection is lost, it
    /// fails while being prepared (where diesel does not notice the loss).
    fn prepared_pid_of(conn: &mut PgConnection) -> Result<i32, StoreError> {
        Ok(
            tessera_store::statement::statement("SELECT pg_backend_pid() + 0 AS pid")
                .get_result::<Pid>(conn)?
                .pid,
        )
    }

    async fn backend_pid(store: &Store) -> Result<i32, StoreError> {
        store.run(|conn| pid_of(conn)).await
    }

    fn terminate(db: &TestDatabase, pid: i32) {
        let mut admin = db.connect();
        diesel::sql_query("SELECT pg_terminate_backend($1)")
            .bind::<Integer, _>(pid)
            .execute(&mut admin)
            .unwrap();
        // The backend is gone once it no longer appears among the server's processes.
        for _ in 0..100 {
            let alive: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                &format!("(SELECT count(*) FROM pg_stat_activity WHERE pid = {pid})"),
            ))
            .get_result(&mut admin)
            .unwrap();
            if alive == 0 {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("backend {pid} was not terminated");
    }

    #[tokio::test]
    async fn a_connection_lost_during_a_statement_fails_that_statement_only_and_is_replaced() {
        let db = TestDatabase::new();
        // Trusted for a minute: every checkout below is untested, as under load.
        let store = one_connection(&db, Duration::from_secs(60));
        for prepared in [false, true] {
            let first = backend_pid(&store).await.unwrap();
            assert_eq!(
                backend_pid(&store).await.unwrap(),
                first,
                "the connection is reused"
            );

            terminate(&db, first);
            // Handed out untested, so this statement finds it lost…
            let err = if prepared {
                store.run(|conn| prepared_pid_of(conn)).await.unwrap_err()
            } else {
                backend_pid(&store).await.unwrap_err()
            };
            assert!(err.is_unavailable(), "{err}");
            // …and the pool opens a new one instead of handing the dead one out again.
            let second = backend_pid(&store).await.unwrap();
            assert_ne!(second, first, "prepared: {prepared}");
            assert_eq!(store.status().connections, 1);
        }
    }

    #[tokio::test]
    async fn an_idle_connection_is_tested_and_a_dead_one_replaced_unseen() {
        let db = TestDatabase::new();
        // Nothing trusted: every checkout tests the connection, as after a second idle.
        let store = one_connection(&db, Duration::ZERO);
        let first = backend_pid(&store).await.unwrap();
        terminate(&db, first);
        let second = backend_pid(&store).await.unwrap();
        assert_ne!(second, first);
    }
}

mod rate_limits {
    use chrono::{Duration as ChronoDuration, TimeZone, Utc};
    use std::time::Duration;
    use tessera_store::rate_limits::{hit, purge, reset};
    use tessera_testkit::TestDatabase;

    const WINDOW: Duration = Duration::from_secs(900);

    #[test]
    fn hits_count_per_bucket_within_a_window_and_a_new_window_starts_at_one() {
        let db = TestDatabase::new();
        let mut conn = db.connect();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let both = ["user:a".to_owned(), "addr:1".to_owned()];
        for n in 1..=3 {
            let counts = hit(&mut conn, &both, t0 + ChronoDuration::seconds(n), WINDOW).unwrap();
            assert_eq!(counts.len(), 2);
            assert!(counts.iter().all(|c| c.hits == n as i32), "{counts:?}");
            assert!(
                counts
                    .iter()
                    .all(|c| c.window_start == t0 + ChronoDuration::seconds(1))
            );
        }
        // Another bucket is counted on its own.
        let other = hit(&mut conn, &["user:b".to_owned()], t0, WINDOW).unwrap();
        assert_eq!(other[0].hits, 1);
        // Once the window has passed, counting starts again.
        let later = t0 + ChronoDuration::seconds(1 + 900);
        let counts = hit(&mut conn, &both[..1], later, WINDOW).unwrap();
        assert_eq!((counts[0].hits, counts[0].window_start), (1, later));
        // A reset forgets the bucket; a purge removes old windows.
        reset(&mut conn, "user:a").unwrap();
        assert_eq!(
            hit(&mut conn, &both[..1], later, WINDOW).unwrap()[0].hits,
            1
        );
        assert_eq!(
            purge(&mut conn, later).unwrap(),
            2,
            "addr:1 and user:b are old"
        );
    }

    #[test]
    fn a_gate_over_its_limit_is_the_only_bucket_counted_so_no_new_rows_appear() {
        use tessera_store::rate_limits::{current, hit_gated};
        let db = TestDatabase::new();
        let mut conn = db.connect();
        let t0 = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        let buckets = |user: &str| vec![format!("pair:{user}"), "addr:9".to_owned()];
        for n in 1..=2 {
            let counts = hit_gated(&mut conn, ("addr:9", 2), &buckets("kim"), t0, WINDOW).unwrap();
            assert_eq!(
                counts.len(),
                2,
                "within the gate's limit both count: {counts:?}"
            );
            assert!(counts.iter().all(|c| c.hits == n), "{counts:?}");
        }
        let counts = hit_gated(&mut conn, ("addr:9", 2), &buckets("lee"), t0, WINDOW).unwrap();
        assert_eq!(counts.len(), 1, "{counts:?}");
        assert_eq!((counts[0].bucket.as_str(), counts[0].hits), ("addr:9", 3));
        assert_eq!(current(&mut conn, "pair:lee", t0, WINDOW).unwrap(), 0);
        assert_eq!(current(&mut conn, "pair:kim", t0, WINDOW).unwrap(), 2);
        assert_eq!(
            purge(&mut conn, t0 + ChronoDuration::seconds(1)).unwrap(),
            2
        );
    }

    #[test]
    fn concurrent_hits_from_many_connections_are_all_counted() {
        let db = TestDatabase::new();
        let now = Utc::now();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let url = db.url().to_owned();
                std::thread::spawn(move || {
                    use diesel::Connection;
                    let mut conn = diesel::PgConnection::establish(&url).unwrap();
                    (0..25)
                        .map(|_| hit(&mut conn, &["hot".to_owned()], now, WINDOW).unwrap()[0].hits)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut seen: Vec<i32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (1..=200).collect::<Vec<_>>(),
            "every hit got its own count"
        );
    }
}

#[test]
fn housekeeping_deletes_only_what_has_expired() {
    use chrono::{Duration, Utc};
    use tessera_store::codes::{CodeRow, insert_code};
    let db = TestDatabase::new();
    let mut conn = db.connect();
    let account_id = insert_account(&mut conn, "kim", "kim@example.com").unwrap();
    let now = Utc::now();
    let code = |hash: u8, expires_at| CodeRow {
        code_hash: vec![hash; 32],
        client_id: "c".into(),
        redirect_uri: "https://rp.example/cb".into(),
        code_challenge: None,
        nonce: None,
        scopes: vec!["openid".into()],
        account_id,
        auth_time: now,
        amr: vec!["pwd".into()],
        acr: None,
        sid: None,
        created_at: now - Duration::hours(3),
        expires_at,
        consumed_at: None,
        token_family: None,
        subject: None,
    };
    insert_code(&mut conn, &code(1, now - Duration::hours(2)), "sub-1", true).unwrap();
    insert_code(
        &mut conn,
        &code(2, now - Duration::minutes(5)),
        "sub-1",
        true,
    )
    .unwrap();
    // (Recording a jti prunes the same client's expired ones, so this one is another client's.)
    tessera_store::client_assertions::record_assertion(
        &mut conn,
        "d",
        "other-client-old",
        now - Duration::seconds(1),
        now,
    )
    .unwrap();
    tessera_store::client_assertions::record_assertion(
        &mut conn,
        "c",
        "live",
        now + Duration::seconds(60),
        now,
    )
    .unwrap();
    let window = std::time::Duration::from_secs(60);
    tessera_store::rate_limits::hit(&mut conn, &["old".into()], now - Duration::days(2), window)
        .unwrap();
    tessera_store::rate_limits::hit(&mut conn, &["new".into()], now, window).unwrap();

    let purged = tessera_store::housekeeping::purge_expired(&mut conn, now).unwrap();
    assert_eq!(
        (purged.codes, purged.assertion_jtis, purged.rate_limits),
        (1, 1, 1),
        "{purged:?}"
    );
    // What is still live survives a second pass.
    let again = tessera_store::housekeeping::purge_expired(&mut conn, now).unwrap();
    assert_eq!(again, tessera_store::housekeeping::Purged::default());
}

mod lifecycle {
    use chrono::Utc;
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Uuid as SqlUuid};
    use tessera_store::accounts::{self, AccountQuery};
    use tessera_testkit::TestDatabase;
    use uuid::Uuid;

    use super::insert_account;

    /// Gives `account` a passkey, an SSO session, an unredeemed code, a refresh token and a
    /// sign-in in the history, as a signed-in user has.
    fn sign_in_everywhere(conn: &mut PgConnection, account: Uuid) {
        let statements = [
            "INSERT INTO devices (device_id, account_id, device_type, credential_id, credential, name)
             VALUES (gen_random_uuid(), $1, 'webauthn', '\\x0102', '{}', 'Laptop')",
            "INSERT INTO sso_sessions (session_hash, sid, account_id, amr, auth_time, expires_at)
             VALUES ('\\x01', 'sid-1', $1, '{pwd}', now(), now() + interval '1 hour')",
            "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, scopes, account_id,
                                              auth_time, amr, expires_at)
             VALUES ('\\x02', 'c', 'https://rp.example/cb', '{openid}', $1, now(), '{pwd}',
                     now() + interval '1 minute')",
            "INSERT INTO refresh_tokens (token_hash, family_id, client_id, account_id, scopes,
                                         auth_time, amr, expires_at, family_expires_at)
             VALUES ('\\x03', gen_random_uuid(), 'c', $1, '{openid}', now(), '{pwd}',
                     now() + interval '1 hour', now() + interval '1 day')",
            "INSERT INTO sign_ins (account_id, signed_in_at, amr) VALUES ($1, now(), '{pwd}')",
        ];
        for statement in statements {
            diesel::sql_query(statement)
                .bind::<SqlUuid, _>(account)
                .execute(conn)
                .unwrap();
        }
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    fn count(conn: &mut PgConnection, sql: &str, account: Uuid) -> i64 {
        diesel::sql_query(sql)
            .bind::<SqlUuid, _>(account)
            .get_result::<Count>(conn)
            .unwrap()
            .n
    }

    #[test]
    fn disabling_an_account_ends_its_sessions_refresh_tokens_and_codes_and_hides_it_from_sign_in() {
        let db = TestDatabase::new();
        let mut conn = db.connect();
        let kim = insert_account(&mut conn, "kim", "kim@example.com").unwrap();
        sign_in_everywhere(&mut conn, kim);
        let now = Utc::now();

        let ended = accounts::disable(&mut conn, kim, now)
            .unwrap()
            .expect("disabled");
        assert_eq!((ended.sessions, ended.refresh_tokens), (1, 1));
        let live = |conn: &mut PgConnection, sql| count(conn, sql, kim);
        assert_eq!(
            live(
                &mut conn,
                "SELECT count(*) AS n FROM sso_sessions WHERE account_id = $1 AND ended_at IS NULL"
            ),
            0
        );
        assert_eq!(
            live(
                &mut conn,
                "SELECT count(*) AS n FROM refresh_tokens WHERE account_id = $1 AND revoked_at IS NULL"
            ),
            0
        );
        assert_eq!(
            live(
                &mut conn,
                "SELECT count(*) AS n FROM authorization_codes WHERE account_id = $1 AND consumed_at IS NULL"
            ),
            0
        );
        assert!(
            accounts::active_by_username(&mut conn, "KIM")
                .unwrap()
                .is_none()
        );
        assert!(
            accounts::by_username_with_passkeys(&mut conn, "kim")
                .unwrap()
                .is_none()
        );
        let row = accounts::by_username(&mut conn, "kim").unwrap().unwrap();
        assert!(row.disabled_at.is_some(), "the account itself is kept");
        assert_eq!(
            accounts::disable(&mut conn, kim, now).unwrap(),
            None,
            "once"
        );

        assert!(accounts::enable(&mut conn, kim, now).unwrap());
        assert!(
            accounts::active_by_username(&mut conn, "kim")
                .unwrap()
                .is_some()
        );
        assert!(!accounts::enable(&mut conn, kim, now).unwrap(), "once");
    }

    #[test]
    fn deleting_an_account_leaves_no_row_of_it_behind() {
        let db = TestDatabase::new();
        let mut conn = db.connect();
        let kim = insert_account(&mut conn, "kim", "kim@example.com").unwrap();
        let dana = insert_account(&mut conn, "dana", "dana@example.com").unwrap();
        sign_in_everywhere(&mut conn, kim);

        assert!(accounts::delete(&mut conn, kim).unwrap());
        for table in [
            "accounts",
            "devices",
            "sso_sessions",
            "authorization_codes",
            "refresh_tokens",
            "sign_ins",
            "password_credentials",
            "account_subjects",
        ] {
            let sql = format!("SELECT count(*) AS n FROM {table} WHERE account_id = $1");
            assert_eq!(count(&mut conn, &sql, kim), 0, "{table}");
        }
        assert!(!accounts::delete(&mut conn, kim).unwrap(), "gone already");
        assert!(
            accounts::by_id(&mut conn, dana).unwrap().is_some(),
            "others untouched"
        );
    }

    #[test]
    fn accounts_list_by_username_with_search_and_paging() {
        let db = TestDatabase::new();
        let mut conn = db.connect();
        for (name, email) in [
            ("kim", "kim@example.com"),
            ("Dana", "dana@corp.example"),
            ("robin", "robin@example.com"),
            ("zed_", "zed@example.com"),
        ] {
            insert_account(&mut conn, name, email).unwrap();
        }
        let page = |search: Option<&str>, offset, limit| {
            let query = AccountQuery {
                search: search.map(str::to_owned),
                offset,
                limit,
            };
            let (rows, total) = accounts::list(&mut db.connect(), &query).unwrap();
            (
                rows.into_iter().map(|a| a.username).collect::<Vec<_>>(),
                total,
            )
        };
        assert_eq!(
            page(None, 0, 10),
            (
                vec!["Dana".into(), "kim".into(), "robin".into(), "zed_".into()],
                4
            )
        );
        assert_eq!(page(None, 1, 2), (vec!["kim".into(), "robin".into()], 4));
        assert_eq!(page(Some("DAN"), 0, 10).1, 1);
        assert_eq!(
            page(Some("corp"), 0, 10),
            (vec!["Dana".into()], 1),
            "email matches"
        );
        assert_eq!(
            page(Some("_"), 0, 10),
            (vec!["zed_".into()], 1),
            "wildcards are literal"
        );
    }
}
