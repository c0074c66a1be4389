//! The page of an emailed link. A link is redeemed only by a POST from its page (mail scanners
//! prefetch GETs), and only in the browser whose flow asked for it. Opened anywhere else, the
//! page shows the code the link stands for, to be typed in the first browser: whoever opens a
//! link never gets a session.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;

use super::AuthnState;
use super::error::SignInError;
use super::finish;
use super::guard::open_flow;
use super::mail;
use super::page::render;
use crate::email;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/email/link", web::get().to(link_page))
        .route("/email/link", web::post().to(redeem_link));
}

/// `?token=` of a link.
#[derive(Deserialize)]
struct LinkQuery {
    token: Option<String>,
}

/// The token a link carries, when it has the shape of one.
fn plausible(token: Option<&str>) -> Result<&str, SignInError> {
    token
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or(SignInError::DeadLink)
}

/// `GET /login/email/link`: a page whose button posts the token. A GET never redeems it.
async fn link_page(
    state: web::Data<AuthnState>,
    query: web::Query<LinkQuery>,
) -> Result<HttpResponse, SignInError> {
    let token = plausible(query.token.as_deref())?;
    let mut ctx = tera::Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("token", token);
    Ok(render(&state, StatusCode::OK, "email_link.html", &ctx))
}

#[derive(Deserialize)]
struct LinkForm {
    token: String,
}

/// `POST /login/email/link`: in the browser that asked for the link, redeems it and goes on
/// with the flow; anywhere else, shows the code to type there.
///
/// The form carries no CSRF token: the link's token is itself the secret, and a page posted
/// from elsewhere can only ever reveal the code to the browser that holds the flow.
async fn redeem_link(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<LinkForm>,
) -> Result<HttpResponse, SignInError> {
    let token = plausible(Some(&input.token))?;
    let found = email::link_flow(&state.store, token, Utc::now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "cannot look up an email link");
            SignInError::Unavailable
        })?;
    let (flow_id, purpose) = found.ok_or(SignInError::DeadLink)?;
    let code = email::code_for_link(token);
    let flow = match open_flow(&state, &req, flow_id).await {
        Ok(flow) => flow,
        Err(SignInError::Expired) => {
            tracing::info!("an email link was opened in another browser");
            let mut ctx = tera::Context::new();
            ctx.insert("base", &state.base_path);
            ctx.insert("code", &code);
            return Ok(render(&state, StatusCode::OK, "email_elsewhere.html", &ctx));
        }
        Err(e) => return Err(e),
    };
    match mail::check(&state, (flow_id, purpose), (&code, false)).await? {
        Ok(next) => finish::after_email(&state, &flow, next).await,
        Err(_) => Err(SignInError::DeadLink),
    }
}
