use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use thiserror::Error;

use crate::keys::KeyError;

/// Errors of the token service, mapped once to HTTP.
#[derive(Debug, Error)]
pub enum OAuthError {
    /// The signing keys could not be loaded or used.
    #[error(transparent)]
    Keys(#[from] KeyError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        match self {
            OAuthError::Keys(KeyError::Store(e)) if e.is_unavailable() => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            OAuthError::Keys(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // Internal details go to the log, never to the client.
        tracing::error!(error = %self, "token service error");
        let status = self.status_code();
        let (error, description) = if status == StatusCode::SERVICE_UNAVAILABLE {
            (
                "temporarily_unavailable",
                "The service is temporarily unavailable.",
            )
        } else {
            ("server_error", "The server could not complete the request.")
        };
        HttpResponse::build(status).json(ErrorBody {
            error,
            error_description: description,
        })
    }
}
