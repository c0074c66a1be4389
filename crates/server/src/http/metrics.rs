//! Prometheus metrics: requests by route and status, a latency histogram, pool usage.
//! The registry belongs to the application state (no global registry), so two servers in one
//! process (tests) keep separate counts.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use tessera_store::Store;

/// The metrics of one application.
pub struct AppMetrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_in_use: IntGauge,
    pool_open: IntGauge,
    pool_max: IntGauge,
    store: Store,
}

impl AppMetrics {
    /// Registers the metrics.
    pub fn new(store: Store) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "tessera_http_requests_total",
                "HTTP requests by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tessera_http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )?;
        let pool_in_use = IntGauge::new(
            "tessera_db_pool_connections_in_use",
            "Database connections checked out",
        )?;
        let pool_open = IntGauge::new(
            "tessera_db_pool_connections_open",
            "Open database connections",
        )?;
        let pool_max = IntGauge::new("tessera_db_pool_connections_max", "Pool size limit")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_in_use.clone()))?;
        registry.register(Box::new(pool_open.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        Ok(AppMetrics {
            registry,
            requests,
            latency,
            pool_in_use,
            pool_open,
            pool_max,
            store,
        })
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, status_str(status)])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The text exposition.
    fn render(&self) -> Result<String, prometheus::Error> {
        let pool = self.store.status();
        self.pool_in_use.set(i64::from(pool.in_use));
        self.pool_open.set(i64::from(pool.connections));
        self.pool_max.set(i64::from(pool.max_size));
        let mut buf = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Status codes as static strings, avoiding an allocation per request.
fn status_str(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        302 => "302",
        303 => "303",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

/// The method label: the methods Tessera serves, and `other` for anything else. A client may
/// send any token as a method, and each distinct label value would be a series kept for ever.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware recording every request. Labels have bounded cardinality: the route is the
/// matched pattern (`unmatched` for every other path), never the raw path, and the method one
/// of a fixed set.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<AppMetrics>>().cloned();
    let method = method_label(req.method());
    let start = Instant::now();
    let res = next.call(req).await;
    if let Some(metrics) = metrics {
        let elapsed = start.elapsed().as_secs_f64();
        match &res {
            Ok(res) => {
                let route = res.request().match_pattern();
                let route = route.as_deref().unwrap_or("unmatched");
                metrics.observe(method, route, res.status().as_u16(), elapsed);
            }
            Err(e) => {
                let status = e.as_response_error().status_code().as_u16();
                metrics.observe(method, "unmatched", status, elapsed);
            }
        }
    }
    res
}

/// `GET /metrics`
pub async fn metrics_endpoint(metrics: web::Data<AppMetrics>) -> HttpResponse {
    match metrics.render() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "cannot render metrics");
            HttpResponse::InternalServerError().finish()
        }
    }
}
