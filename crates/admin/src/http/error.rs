use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::ConfigError;

/// Errors of the admin API, mapped once to HTTP with a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Missing or wrong credentials. The challenge names Bearer only, so that a browser never
    /// prompts for a password it would then send with every cross-site request.
    #[error("admin authentication required")]
    Unauthorized,
    /// HTTP Basic credentials were sent and are wrong: the challenge names Basic too.
    #[error("admin authentication required")]
    BasicRefused,
    /// Too many password attempts: come back after this long.
    #[error("too many sign-in attempts; try again in {} seconds", .0.as_secs())]
    TooManyAttempts(std::time::Duration),
    /// A browser sent the request from another site's page.
    #[error(
        "cross-site requests to the admin API are refused; use the admin pages, the CLI or a script"
    )]
    CrossSite,
    /// Too many password checks at once.
    #[error("too many sign-in attempts at once; try again shortly")]
    Busy,
    /// The request itself is wrong (bad mode, wrong content type).
    #[error("{0}")]
    BadRequest(String),
    /// The content type is not XML.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A configuration change was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Unauthorized | AdminError::BasicRefused => StatusCode::UNAUTHORIZED,
            AdminError::CrossSite => StatusCode::FORBIDDEN,
            AdminError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AdminError::Config(e) => match e {
                ConfigError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                ConfigError::NotUtf8 | ConfigError::Invalid(_) => StatusCode::BAD_REQUEST,
                ConfigError::NotImported(..) => StatusCode::UNPROCESSABLE_ENTITY,
                ConfigError::Conflict(_) => StatusCode::CONFLICT,
                ConfigError::NotFound(_) => StatusCode::NOT_FOUND,
                ConfigError::Store(s) if s.is_unavailable() => StatusCode::SERVICE_UNAVAILABLE,
                ConfigError::Store(_) | ConfigError::Secret(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = match self {
            AdminError::Unauthorized | AdminError::BasicRefused => json!({
                "error": "unauthorized",
                "error_description": "Admin credentials are required (HTTP Basic or a bearer token)."
            }),
            AdminError::Config(ConfigError::Invalid(problems)) => json!({
                "error": "invalid_configuration",
                "error_description": format!("{} problem(s) in the configuration", problems.0.len()),
                "problems": problems.0,
            }),
            AdminError::Config(ConfigError::NotImported(report, problems)) => json!({
                "error": "invalid_configuration",
                "error_description": format!("{} in-scope problem(s) in the imported file; nothing was staged", problems.0.len()),
                "problems": problems.0,
                "report": report,
            }),
            AdminError::Config(ConfigError::Store(_) | ConfigError::Secret(_)) => {
                tracing::error!(error = %self, "admin request failed");
                json!({ "error": "server_error", "error_description": "The change could not be completed; nothing was committed." })
            }
            other => json!({
                "error": match status {
                    StatusCode::CONFLICT => "conflict",
                    StatusCode::FORBIDDEN => "cross_site_request",
                    StatusCode::TOO_MANY_REQUESTS => "too_many_attempts",
                    StatusCode::NOT_FOUND => "not_found",
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
                    _ => "invalid_request",
                },
                "error_description": other.to_string(),
            }),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        match self {
            AdminError::TooManyAttempts(retry_after) => {
                response.insert_header((header::RETRY_AFTER, retry_after.as_secs().to_string()));
            }
            AdminError::Unauthorized => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tessera-admin\""));
            }
            AdminError::BasicRefused => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Basic realm=\"tessera-admin\", charset=\"UTF-8\"",
                ));
            }
            _ => {}
        }
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body)
    }
}
