//! Why a sign-in page cannot go on, mapped once to a status and a readable page. Handlers
//! return `Err(SignInError)`; [`pages`] (wrapped around every sign-in route) renders it with
//! the live templates. Refusals that keep the user on a form (a wrong password, a wrong code)
//! are not errors: they are that form again, with a message.

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{HttpResponse, ResponseError, web};

use super::AuthnState;
use super::page::{message, unavailable};

/// A dead end of a sign-in page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    /// No open sign-in of this browser (unknown, expired, finished, another browser's).
    #[error("the sign-in has expired")]
    Expired,
    /// The sign-in is open but the form's CSRF token is not its own.
    #[error("the form's token does not match its sign-in")]
    Forged,
    /// The form could not be read (fields missing or malformed).
    #[error("the form could not be read")]
    BadForm,
    /// The client does not offer this step (or no longer: a commit applies at once).
    #[error("not offered: {0}")]
    NotOffered(&'static str),
    /// An emailed link that is used, replaced, too old or never was.
    #[error("the link is dead")]
    DeadLink,
    /// The database, the mail server or the system failed; the user should try again.
    #[error("temporarily unavailable")]
    Unavailable,
}

impl ResponseError for SignInError {
    fn status_code(&self) -> StatusCode {
        match self {
            // A forged form reads like a stale one: nothing in the answer helps a forger.
            SignInError::Expired
            | SignInError::Forged
            | SignInError::BadForm
            | SignInError::DeadLink => StatusCode::BAD_REQUEST,
            SignInError::NotOffered(_) => StatusCode::FORBIDDEN,
            SignInError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<tessera_store::StoreError> for SignInError {
    fn from(e: tessera_store::StoreError) -> Self {
        tracing::error!(error = %e, "the database failed during a sign-in");
        SignInError::Unavailable
    }
}

impl From<crate::signin::steps::StepError> for SignInError {
    fn from(e: crate::signin::steps::StepError) -> Self {
        tracing::error!(error = %e, "a sign-in step failed");
        SignInError::Unavailable
    }
}

impl SignInError {
    /// The page that explains it.
    fn page(self, state: &AuthnState) -> HttpResponse {
        let (title, text) = match self {
            SignInError::Unavailable => return unavailable(state),
            SignInError::Expired => (
                "This sign-in has expired",
                "Go back to the application and start signing in again.",
            ),
            SignInError::Forged => ("This form has expired", "Reload the page and try again."),
            SignInError::BadForm => (
                "This form could not be read",
                "Go back, reload the page and try again.",
            ),
            SignInError::NotOffered(text) => ("Not available here", text),
            SignInError::DeadLink => (
                "This link has expired",
                "It was used already, replaced by a newer one, or is too old. Go back to the application and start again.",
            ),
        };
        message(state, self.status_code(), title, text)
    }
}

/// Renders a [`SignInError`] as its page; any other response passes untouched.
pub(super) fn pages<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().default_handler(render)
}

fn render<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let error = res
        .response()
        .error()
        .and_then(|e| e.as_error::<SignInError>())
        .copied();
    let state = res.request().app_data::<web::Data<AuthnState>>().cloned();
    let (Some(error), Some(state)) = (error, state) else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let (req, _) = res.into_parts();
    let page: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, error.page(&state)).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(page))
}
