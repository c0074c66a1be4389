//! Liveness, readiness and metrics endpoints, served at the host root.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;
use tessera_store::{Store, migrations};

use super::metrics::metrics_endpoint;

/// How long readiness waits for a database connection before answering 503.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// State of the operations endpoints.
pub struct OpsState {
    /// The pool whose database readiness reports.
    pub store: Store,
}

/// `/healthz`, `/readyz`, and `/metrics` when `with_metrics` (it is served on the public
/// listener only when no internal one is configured: `server.metrics_listen`).
pub fn ops_routes(cfg: &mut web::ServiceConfig, with_metrics: bool) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
    if with_metrics {
        cfg.route("/metrics", web::get().to(metrics_endpoint));
    }
}

/// The process is alive (nothing else is checked, so a database outage never restarts it).
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The instance can serve: the database answers and has this build's migrations.
async fn readyz(state: web::Data<OpsState>) -> HttpResponse {
    let check = state
        .store
        .run_with_store(|store| {
            let mut conn = store.conn_within(READY_TIMEOUT)?;
            migrations::pending_count(&mut conn)
        })
        .await;
    match check {
        Ok(0) => HttpResponse::Ok().json(json!({ "status": "ready" })),
        Ok(pending) => HttpResponse::ServiceUnavailable().json(json!({
            "status": "not_ready",
            "reason": format!("{pending} database migration(s) pending"),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({
                "status": "not_ready",
                "reason": "database unreachable",
            }))
        }
    }
}
