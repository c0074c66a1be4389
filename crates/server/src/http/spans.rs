//! The tracing span of a request. Unlike the default span it records the path without the
//! query string: queries may carry one-time tokens (magic links), which must never be logged.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpanBuilder};

/// Builds one span per request with its id, method, route and status.
pub struct RequestSpans;

impl RootSpanBuilder for RequestSpans {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(ToString::to_string)
            .unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            path = %request.path(),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let status = match outcome {
            Ok(res) => res.response().status(),
            Err(e) => e.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
        if status.is_server_error() {
            let _entered = span.enter();
            tracing::warn!(status = status.as_u16(), "request failed");
        } else {
            let _entered = span.enter();
            tracing::debug!(status = status.as_u16(), "request completed");
        }
    }
}
