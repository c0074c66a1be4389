//! The few pages the token service writes without a template (error and confirmation pages,
//! an auto-submitted `form_post`): one page shape, and [`escape`] for what they interpolate.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};

/// How a page's message is announced to assistive technology.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tone {
    /// Something went wrong (`role="alert"`).
    Alert,
    /// News (`role="status"`).
    Status,
}

/// A page, never cached, with `title` as its heading and `body` (HTML, already escaped) below.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title></head><body><main><h1>{t}</h1>{body}</main></body></html>",
            t = escape(title),
        ))
}

/// A page saying one thing.
pub(crate) fn message(status: StatusCode, title: &str, text: &str, tone: Tone) -> HttpResponse {
    let role = match tone {
        Tone::Alert => "alert",
        Tone::Status => "status",
    };
    page(
        status,
        title,
        &format!("<p role=\"{role}\">{}</p>", escape(text)),
    )
}

/// `text` safe inside HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
