//! What every admin page shares: rendering a template with its messages, redirects, the
//! signed-in context and the guard of state-changing forms (session and CSRF token).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use tera::Context;

use super::AdminState;
use super::session::{self, Session};
use crate::ConfigError;
use crate::config::Problem;
use crate::config::import::Entry;

/// What a page shows besides its own data.
#[derive(Default)]
pub(super) struct Message {
    pub(super) notice: Option<String>,
    pub(super) error: Option<String>,
    pub(super) problems: Vec<Problem>,
    /// An import's migration report.
    pub(super) report: Vec<Entry>,
}

impl Message {
    pub(super) fn error(e: &ConfigError) -> Self {
        match e {
            ConfigError::Invalid(problems) => Message {
                error: Some(format!(
                    "The configuration has {} problem(s); nothing was changed.",
                    problems.0.len()
                )),
                problems: problems.0.clone(),
                ..Message::default()
            },
            ConfigError::NotImported(report, problems) => Message {
                error: Some(format!(
                    "The import has {} problem(s) in what it carries over; nothing was staged.",
                    problems.0.len()
                )),
                problems: problems.0.clone(),
                report: report.entries.clone(),
                ..Message::default()
            },
            ConfigError::Store(_) | ConfigError::Secret(_) => {
                tracing::error!(error = %e, "admin page action failed");
                Message {
                    error: Some(
                        "The change could not be completed; nothing was committed. Try again."
                            .into(),
                    ),
                    ..Message::default()
                }
            }
            other => Message {
                error: Some(other.to_string()),
                ..Message::default()
            },
        }
    }
}

pub(super) fn status_of(e: &ConfigError) -> StatusCode {
    match e {
        ConfigError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ConfigError::Conflict(_) => StatusCode::CONFLICT,
        ConfigError::NotFound(_) => StatusCode::NOT_FOUND,
        ConfigError::Store(_) | ConfigError::Secret(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConfigError::Invalid(_) | ConfigError::NotUtf8 => StatusCode::BAD_REQUEST,
        ConfigError::NotImported(..) => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

pub(super) fn render(
    state: &AdminState,
    status: StatusCode,
    template: &str,
    mut ctx: Context,
    message: Message,
) -> HttpResponse {
    ctx.insert("notice", &message.notice);
    ctx.insert("error", &message.error);
    ctx.insert("problems", &message.problems);
    ctx.insert("report", &message.report);
    match state.templates.render(template, &ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            // Tera's own message names only the template; the cause is in its source chain.
            let mut cause = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(inner) = source {
                cause.push_str(": ");
                cause.push_str(&inner.to_string());
                source = inner.source();
            }
            tracing::error!(error = %cause, template, "cannot render admin page");
            HttpResponse::InternalServerError().body("The page could not be rendered.")
        }
    }
}

pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

pub(super) fn signed_in_context(state: &AdminState, session: &Session) -> Context {
    let mut ctx = Context::new();
    ctx.insert("signed_in", &true);
    ctx.insert("csrf", &session.csrf(state));
    ctx.insert("username", &session.username);
    ctx
}

/// The session of a state-changing request, if signed in and its CSRF token is right.
pub(super) async fn guarded(
    state: &AdminState,
    req: &HttpRequest,
    csrf: &str,
) -> Result<Session, HttpResponse> {
    let Some(session) = session::current(state, req).await else {
        return Err(see_other("/admin/login"));
    };
    if !session.check_csrf(state, csrf) {
        return Err(HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("This form has expired or did not come from this site. Go back, reload and try again."));
    }
    Ok(session)
}
