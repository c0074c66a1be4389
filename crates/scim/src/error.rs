//! SCIM error responses (RFC 7644 §3.12), mapped to HTTP in one place.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::filter::FilterError;
use crate::schema;

/// The `application/scim+json` media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// Why a SCIM request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// No or a wrong credential.
    #[error("A bearer token with the scim scope, or the admin token, is required.")]
    Unauthorized,
    /// The token is valid but not for SCIM.
    #[error("The token was not issued with the scim scope.")]
    Forbidden,
    /// A filter that does not parse or names something unknown (`invalidFilter`).
    #[error("{0}")]
    InvalidFilter(String),
    /// A PATCH path that does not parse or names something unknown (`invalidPath`).
    #[error("{0}")]
    InvalidPath(String),
    /// A PATCH path that selects nothing (`noTarget`).
    #[error("{0}")]
    NoTarget(String),
    /// A value of the wrong type or shape, or a missing required one (`invalidValue`).
    #[error("{0}")]
    InvalidValue(String),
    /// A body that is not the JSON SCIM expects (`invalidSyntax`).
    #[error("{0}")]
    InvalidSyntax(String),
    /// An attempt to change a read-only or immutable attribute (`mutability`).
    #[error("{0}")]
    Mutability(String),
    /// A unique value that another resource has (`uniqueness`).
    #[error("{0}")]
    Uniqueness(String),
    /// The request is too large (`tooMany`).
    #[error("{0}")]
    TooMany(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// `If-Match` named another version.
    #[error("The resource changed since the version in If-Match; read it again.")]
    PreconditionFailed,
    /// A method or feature Tessera does not offer.
    #[error("{0}")]
    NotImplemented(String),
    /// A method the endpoint does not take.
    #[error("This endpoint does not take this method.")]
    MethodNotAllowed,
    /// The database is unreachable.
    #[error("The directory is unavailable; try again shortly.")]
    Unavailable,
    /// Something failed that the client cannot fix.
    #[error("The request could not be completed.")]
    Internal,
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::InvalidFilter(format!("Invalid filter: {}", e.0))
    }
}

impl From<tessera_store::StoreError> for ScimError {
    fn from(e: tessera_store::StoreError) -> Self {
        if e.is_unavailable() {
            ScimError::Unavailable
        } else {
            tracing::error!(error = %e, "SCIM request failed in the store");
            ScimError::Internal
        }
    }
}

impl ScimError {
    fn scim_type(&self) -> Option<&'static str> {
        match self {
            ScimError::InvalidFilter(_) => Some("invalidFilter"),
            ScimError::InvalidPath(_) => Some("invalidPath"),
            ScimError::NoTarget(_) => Some("noTarget"),
            ScimError::InvalidValue(_) => Some("invalidValue"),
            ScimError::InvalidSyntax(_) => Some("invalidSyntax"),
            ScimError::Mutability(_) => Some("mutability"),
            ScimError::Uniqueness(_) => Some("uniqueness"),
            ScimError::TooMany(_) => Some("tooMany"),
            _ => None,
        }
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        match self {
            ScimError::Unauthorized => StatusCode::UNAUTHORIZED,
            ScimError::Forbidden => StatusCode::FORBIDDEN,
            ScimError::NotFound(_) => StatusCode::NOT_FOUND,
            ScimError::Uniqueness(_) => StatusCode::CONFLICT,
            ScimError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ScimError::TooMany(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ScimError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ScimError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ScimError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ScimError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut body = json!({
            "schemas": [schema::ERROR],
            "status": status.as_u16().to_string(),
            "detail": self.to_string(),
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = json!(scim_type);
        }
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, SCIM_JSON));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ScimError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
            }
            ScimError::Forbidden => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"scim\", error=\"insufficient_scope\", scope=\"scim\"",
                ));
            }
            ScimError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, "5"));
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}
