//! The API's HTTP surface: one extractor that turns `Authorization: Bearer …` into
//! [`AccessClaims`] or an RFC 6750 refusal, and two resources that use it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::json;

use crate::{AccessClaims, AccessTokenValidator, Rejection};

/// The scope `GET /api/orders` needs; other routes need only a valid token.
pub const ORDERS_SCOPE: &str = "orders:read";

/// Mounts the API's routes; `validator` is shared through `web::Data`.
pub fn routes(cfg: &mut web::ServiceConfig, validator: Arc<AccessTokenValidator>) {
    cfg.app_data(web::Data::from(validator))
        .route("/api/me", web::get().to(me))
        .route("/api/orders", web::get().to(orders));
}

/// Who is calling: the claims of the caller's validated access token.
async fn me(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sub": caller.0.sub,
        "client_id": caller.0.client_id,
        "scope": caller.0.scope,
    }))
}

/// A resource that needs a scope as well as a token.
async fn orders(caller: Caller) -> Result<HttpResponse, ApiError> {
    if !caller.0.has_scope(ORDERS_SCOPE) {
        return Err(ApiError::InsufficientScope(ORDERS_SCOPE));
    }
    Ok(HttpResponse::Ok().json(json!({ "orders": [], "for": caller.0.sub })))
}

/// The caller behind a valid access token.
pub struct Caller(pub AccessClaims);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let validator = req.app_data::<web::Data<AccessTokenValidator>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let validator = validator.ok_or(ApiError::Token(Rejection::KeysUnavailable))?;
            let token = token.ok_or(ApiError::Token(Rejection::Missing))?;
            let claims = validator.validate(&token).await.map_err(ApiError::Token)?;
            Ok(Caller(claims))
        })
    }
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1; the scheme is
/// case-insensitive).
fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

/// The API's refusals, each mapped once to a status and an RFC 6750 challenge.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No token, or one that is not valid here.
    #[error("{0}")]
    Token(Rejection),
    /// A valid token without the scope the resource needs.
    #[error("the token lacks the scope {0}")]
    InsufficientScope(&'static str),
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Token(Rejection::KeysUnavailable) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Token(_) => StatusCode::UNAUTHORIZED,
            ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = self.to_string().replace('"', "'");
        let challenge = match self {
            // RFC 6750 §3.1: a request without a token gets the bare challenge.
            ApiError::Token(Rejection::Missing) => "Bearer".to_owned(),
            ApiError::Token(_) => {
                format!(r#"Bearer error="invalid_token", error_description="{description}""#)
            }
            ApiError::InsufficientScope(scope) => format!(
                r#"Bearer error="insufficient_scope", scope="{scope}", error_description="{description}""#
            ),
        };
        let mut response = HttpResponse::build(self.status_code());
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
        response.json(json!({ "error": description }))
    }
}
