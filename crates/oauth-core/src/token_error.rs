//! Token endpoint errors, exactly as RFC 6749 §5.2 names them, mapped once to HTTP.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// An error answer of the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct TokenError {
    /// The RFC 6749 error code.
    pub code: TokenErrorCode,
    /// Human-readable detail (never secret material).
    pub description: String,
    /// The client tried HTTP Basic: the 401 must carry `WWW-Authenticate`.
    pub basic_attempted: bool,
}

/// RFC 6749 §5.2 error codes (and RFC 6749 §4.1.2.1's `server_error` for our own failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorCode {
    /// Missing, repeated or malformed parameter.
    InvalidRequest,
    /// Client authentication failed.
    InvalidClient,
    /// The grant (code, refresh token) is invalid, expired, revoked or not for this client.
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not supported.
    UnsupportedGrantType,
    /// The requested scope is invalid or exceeds what the client may ask for.
    InvalidScope,
    /// RFC 7009: this kind of token cannot be revoked.
    UnsupportedTokenType,
    /// Something failed on our side.
    ServerError,
    /// The database is unavailable.
    TemporarilyUnavailable,
}

impl TokenErrorCode {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenErrorCode::InvalidRequest => "invalid_request",
            TokenErrorCode::InvalidClient => "invalid_client",
            TokenErrorCode::InvalidGrant => "invalid_grant",
            TokenErrorCode::UnauthorizedClient => "unauthorized_client",
            TokenErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            TokenErrorCode::InvalidScope => "invalid_scope",
            TokenErrorCode::UnsupportedTokenType => "unsupported_token_type",
            TokenErrorCode::ServerError => "server_error",
            TokenErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

impl std::fmt::Display for TokenErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TokenError {
    /// An error with a description.
    pub fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        TokenError {
            code,
            description: description.into(),
            basic_attempted: false,
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for TokenError {
    fn status_code(&self) -> StatusCode {
        match self.code {
            TokenErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            TokenErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.code == TokenErrorCode::InvalidClient && self.basic_attempted {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                "Basic realm=\"tessera\", error=\"invalid_client\"",
            ));
        }
        response.json(Body {
            error: self.code.as_str(),
            error_description: &self.description,
        })
    }
}
