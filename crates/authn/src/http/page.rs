//! Rendering: the one place a page becomes a response. Every sign-in page starts from the
//! same context ([`form`]: the flow, its CSRF token, what the policy offers), so that a page
//! never asks another page module what to show.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use tera::Context;

use super::AuthnState;
use super::guard::OpenFlow;
use crate::signin::Offers;

/// `template` rendered with `ctx`, never cached.
pub(super) fn render(
    state: &AuthnState,
    status: StatusCode,
    template: &str,
    ctx: &Context,
) -> HttpResponse {
    match state.templates.render(template, ctx) {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, template, "cannot render a sign-in page");
            HttpResponse::InternalServerError().body("The page could not be rendered.")
        }
    }
}

/// A readable page for a dead end (expired flow, nothing allowed).
pub(super) fn message(
    state: &AuthnState,
    status: StatusCode,
    title: &str,
    text: &str,
) -> HttpResponse {
    let mut ctx = Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("title", title);
    ctx.insert("message", text);
    render(state, status, "message.html", &ctx)
}

/// 503: the database or the system failed; the user should try again.
pub(super) fn unavailable(state: &AuthnState) -> HttpResponse {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "Signing in is temporarily unavailable.",
    )
}

/// A redirect the browser follows with a GET.
pub(super) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_owned()))
        .finish()
}

/// `response` with `Retry-After` (whole seconds, at least one).
pub(super) fn retry_after(mut response: HttpResponse, after: std::time::Duration) -> HttpResponse {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(after.as_secs().max(1)),
    );
    response
}

/// "… Try again in N minutes." for a refusal that ends after `after`.
pub(super) fn try_again_in(after: std::time::Duration) -> String {
    let minutes = after.as_secs().div_ceil(60).max(1);
    format!(
        "Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// The context every page of an open sign-in starts from: the flow, its CSRF token, who it is
/// for, what the policy offers, and the message to show (if any).
pub(super) fn form(
    state: &AuthnState,
    flow: &OpenFlow,
    username: &str,
    error: Option<&str>,
) -> Context {
    let snapshot = state.config.load();
    let offers = Offers::of(&flow.policy, &snapshot, state.capabilities());
    let mut ctx = Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("flow", &flow.id.to_string());
    ctx.insert("csrf", &flow.csrf_token(state));
    ctx.insert("username", username);
    ctx.insert("audience", &flow.policy.audience_name);
    ctx.insert("error", &error);
    ctx.insert("password", &offers.password.is_some());
    ctx.insert("passkey_signin", &offers.passkey_sign_in.is_some());
    ctx.insert("passkey_enrol", &offers.passkey_after_password.is_some());
    ctx.insert("passkey_create", &offers.passkey_by_email.is_some());
    ctx.insert("signup", &offers.sign_up());
    ctx
}

/// The first sign-in page again (the username page, identifier-first, else the password
/// page), with a message.
pub(super) fn first_page(
    state: &AuthnState,
    flow: &OpenFlow,
    (status, text): (StatusCode, &str),
) -> HttpResponse {
    let ctx = form(state, flow, "", Some(text));
    let identifier_first = Offers::of(&flow.policy, &state.config.load(), state.capabilities())
        .username_first
        .is_some();
    let page = if identifier_first {
        "username.html"
    } else {
        "login.html"
    };
    render(state, status, page, &ctx)
}

/// JSON for a `<script type="application/json">` element: no `<` may close the element early
/// (usernames and display names are the user's own text).
pub(super) fn script_json(json: &impl std::fmt::Display) -> String {
    json.to_string().replace('<', "\\u003c")
}
