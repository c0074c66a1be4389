//! Liveness, readiness (through a database outage) and metrics.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{Options, eventually, spawn_app, spawn_app_with};

/// A TCP proxy in front of PostgreSQL that the test can cut and restore, to simulate the
/// database going away and coming back without touching the shared server.
struct DbProxy {
    port: u16,
    up: Arc<watch::Sender<bool>>,
}

impl DbProxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let accept_up = Arc::clone(&up);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*accept_up.borrow() {
                    drop(inbound); // refuse while "down"
                    continue;
                }
                let mut down = accept_up.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect("127.0.0.1:5432").await else {
                        return;
                    };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = down.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        DbProxy { port, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

#[tokio::test]
async fn healthz_answers_while_the_process_lives() {
    let app = spawn_app().await;
    let res = app.get_root("/healthz").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_while_the_database_is_unreachable_and_recovers_without_restart() {
    let proxy = DbProxy::start().await;
    let db = tessera_testkit::TestDatabase::new();
    let via_proxy = tessera_testkit::url_for_database(
        &format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port),
        db.name(),
    );
    let app = spawn_app_with(Options {
        database_url: Some(via_proxy),
        db: Some(db),
        env: vec![("TESSERA_DATABASE_CONNECT_TIMEOUT", "1s".into())],
        ..Options::default()
    })
    .await;
    assert_eq!(app.get_root("/readyz").await.status(), 200);

    proxy.set_up(false);
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.get_root("/readyz").await.status() == 503
        })
        .await,
        "readyz never reported the outage"
    );
    let res = app.get_root("/readyz").await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["reason"], "database unreachable");
    // The process keeps serving what needs no database.
    assert_eq!(app.get_root("/healthz").await.status(), 200);
    assert_eq!(app.get("/oauth/jwks").await.status(), 200);

    proxy.set_up(true);
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.get_root("/readyz").await.status() == 200
        })
        .await,
        "readyz did not recover when the database returned"
    );
}

#[tokio::test]
async fn readyz_reports_pending_migrations() {
    let db = tessera_testkit::TestDatabase::new();
    let app = spawn_app_with(Options {
        db: Some(db),
        ..Options::default()
    })
    .await;
    // Simulate an older schema: forget the last migration.
    {
        use diesel::RunQueryDsl;
        let mut conn = app.db.connect();
        diesel::sql_query(
            "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
        )
        .execute(&mut conn)
        .unwrap();
    }
    let res = app.get_root("/readyz").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("pending"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.get("/oauth/jwks").await;
    }
    app.get("/nothing-here").await;
    let text = app.get_root("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(
            r#"tessera_http_requests_total{method="GET",route="/oauth/jwks",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("tessera_http_request_duration_seconds_bucket"));
    assert!(text.contains("tessera_db_pool_connections_in_use"));
}

#[tokio::test]
async fn invented_methods_and_paths_share_one_metrics_series_each() {
    let app = spawn_app().await;
    for i in 0..5 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        app.client
            .request(method, format!("{}/nowhere-{i}", app.origin))
            .send()
            .await
            .unwrap();
    }
    let text = app.get_root("/metrics").await.text().await.unwrap();
    assert!(!text.contains("INVENTED"), "{text}");
    assert!(!text.contains("nowhere"), "{text}");
    assert!(
        text.contains(
            r#"tessera_http_requests_total{method="other",route="unmatched",status="404"} 5"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn with_an_internal_metrics_listener_metrics_leave_the_public_one() {
    let internal = crate::helpers::free_port();
    let app = crate::helpers::spawn_app_with(crate::helpers::Options {
        env: vec![(
            "TESSERA_SERVER_METRICS_LISTEN",
            format!("127.0.0.1:{internal}"),
        )],
        ..Default::default()
    })
    .await;
    app.get("/oauth/jwks").await;
    assert_eq!(app.get_root("/metrics").await.status(), 404);
    let text = app
        .client
        .get(format!("http://127.0.0.1:{internal}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#"route="/oauth/jwks""#), "{text}");
    let ready = app
        .client
        .get(format!("http://127.0.0.1:{internal}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}
