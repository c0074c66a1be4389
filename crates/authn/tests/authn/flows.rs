//! The bounds on unauthenticated sign-in flows: per browser and per client address.

use std::net::IpAddr;

use chrono::{Duration, SubsecRound, Utc};
use tessera_authn::flow::{
    self, FLOW_WINDOW, FLOWS_PER_ADDRESS, FLOWS_PER_BROWSER, Policy, Started,
};
use tessera_store::Store;
use tessera_testkit::TestDatabase;
use uuid::Uuid;

async fn start(
    store: &Store,
    browser: &str,
    address: Option<IpAddr>,
    now: chrono::DateTime<Utc>,
) -> Started {
    flow::start(
        store,
        &Policy::default(),
        "/done?flow=".into(),
        serde_json::Value::Null,
        (browser, address),
        FLOWS_PER_ADDRESS,
        now,
    )
    .await
    .unwrap()
}

async fn is_open(store: &Store, id: Uuid) -> bool {
    let now = Utc::now();
    store
        .run(move |conn| tessera_store::signin::flow(conn, id, now))
        .await
        .unwrap()
        .is_some()
}

fn id(started: Started) -> Uuid {
    match started {
        Started::Flow(id) => id,
        Started::TooMany { .. } => panic!("the flow was refused"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_keeps_a_few_unfinished_flows_and_a_new_one_drops_the_oldest() {
    let db = TestDatabase::new();
    let store = db.store();
    let t0 = Utc::now();
    let mut ids = Vec::new();
    for i in 0..=FLOWS_PER_BROWSER {
        let at = t0 + Duration::milliseconds(i64::from(i));
        ids.push(id(start(&store, "one-browser", None, at).await));
    }
    let other = id(start(&store, "another-browser", None, t0).await);

    assert!(
        !is_open(&store, ids[0]).await,
        "the oldest flow was dropped"
    );
    for id in &ids[1..] {
        assert!(is_open(&store, *id).await, "the newer flows stay");
    }
    assert!(is_open(&store, other).await, "other browsers are untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_past_its_share_of_sign_ins_is_refused_until_its_window_ends() {
    let db = TestDatabase::new();
    let store = db.store();
    let busy: IpAddr = "198.51.100.7".parse().unwrap();
    // PostgreSQL keeps microseconds.
    let t0 = Utc::now().trunc_subsecs(6);
    for i in 0..FLOWS_PER_ADDRESS {
        id(start(&store, &format!("browser-{i}"), Some(busy), t0).await);
    }

    let later = t0 + Duration::minutes(5);
    match start(&store, "fresh-browser", Some(busy), later).await {
        Started::TooMany { retry_after } => {
            assert_eq!(
                retry_after,
                FLOW_WINDOW - std::time::Duration::from_secs(300)
            );
        }
        Started::Flow(_) => panic!("the address is over its share"),
    }
    // Purging as of tomorrow counts every flow there is.
    let tomorrow = t0 + Duration::days(1);
    let purged = store
        .run(move |conn| tessera_store::housekeeping::purge_expired(conn, tomorrow))
        .await
        .unwrap();
    assert_eq!(
        purged.flows,
        i64::from(FLOWS_PER_ADDRESS),
        "a refusal stores nothing"
    );

    let elsewhere: IpAddr = "2001:db8::1".parse().unwrap();
    id(start(&store, "fresh-browser", Some(elsewhere), later).await);
    let next_window = t0 + Duration::from_std(FLOW_WINDOW).unwrap() + Duration::seconds(1);
    id(start(&store, "fresh-browser", Some(busy), next_window).await);
}
