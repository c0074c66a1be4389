//! `/login`: the password sign-in page of a flow. The same answer, after the same work, for an
//! unknown username as for a wrong password.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use tera::Context;
use uuid::Uuid;

use super::{AuthnState, client_address, cookies};
use crate::flow::{self, Policy};
use crate::limits::{self, Attempt};
use tessera_store::passkeys::DeviceUse;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(page))
        .route("/login", web::post().to(submit))
        .route("/login/static/login.css", web::get().to(stylesheet));
}

fn csrf_token(state: &AuthnState, flow_id: Uuid, browser: &str) -> String {
    super::csrf_token(state, &format!("{flow_id}|{browser}"))
}

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
            tracing::error!(error = %e, "cannot render the login page");
            HttpResponse::InternalServerError().body("The page could not be rendered.")
        }
    }
}

/// A readable page for a dead end (expired flow, nothing allowed).
pub fn message(state: &AuthnState, status: StatusCode, title: &str, text: &str) -> HttpResponse {
    let mut ctx = Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("title", title);
    ctx.insert("message", text);
    render(state, status, "message.html", &ctx)
}

pub(super) fn expired(state: &AuthnState) -> HttpResponse {
    message(
        state,
        StatusCode::BAD_REQUEST,
        "This sign-in has expired",
        "Go back to the application and start signing in again.",
    )
}

/// The open flow of this browser, with its policy.
pub(super) async fn browser_flow(
    state: &AuthnState,
    req: &HttpRequest,
    flow_id: Uuid,
) -> Option<(String, Policy)> {
    let browser = req.cookie(cookies::BROWSER)?.value().to_owned();
    let now = Utc::now();
    let row = state
        .store
        .run(move |conn| tessera_store::signin::flow(conn, flow_id, now))
        .await
        .ok()??;
    if !openssl::memcmp::eq(&row.browser_hash, &flow::secret_hash(&browser))
        || row.account_id.is_some()
    {
        return None;
    }
    let policy: Policy = serde_json::from_value(row.policy).ok()?;
    Some((browser, policy))
}

pub(super) fn form(
    state: &AuthnState,
    flow_id: Uuid,
    browser: &str,
    policy: &Policy,
    username: &str,
    error: Option<&str>,
) -> Context {
    let mut ctx = Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("flow", &flow_id.to_string());
    ctx.insert("csrf", &csrf_token(state, flow_id, browser));
    ctx.insert("username", username);
    ctx.insert("audience", &policy.audience_name);
    ctx.insert("error", &error);
    let snapshot = state.config.load();
    let offer = super::passkey_login::offer(state, policy, &snapshot);
    ctx.insert(
        "password",
        &!flow::password_authenticators(policy, &snapshot).is_empty(),
    );
    ctx.insert("passkey_signin", &offer.sign_in.is_some());
    ctx.insert("passkey_enrol", &offer.enrol.is_some());
    ctx.insert(
        "passkey_create",
        &super::email_step::email_enrolment(state, policy, &snapshot).is_some(),
    );
    ctx.insert("signup", &super::signup::offered(state, policy));
    ctx
}

fn no_password(state: &AuthnState) -> HttpResponse {
    message(
        state,
        StatusCode::FORBIDDEN,
        "Password sign-in is not available",
        "This application does not allow signing in with a password.",
    )
}

/// `?flow=<id>` on a sign-in page.
#[derive(Deserialize)]
pub(super) struct FlowQuery {
    flow: Option<String>,
}

/// The open flow a page's `?flow=` names, for this browser.
pub(super) async fn queried_flow(
    state: &AuthnState,
    req: &HttpRequest,
    query: &FlowQuery,
) -> Option<(Uuid, String, Policy)> {
    let flow_id = Uuid::parse_str(query.flow.as_deref()?).ok()?;
    let (browser, policy) = browser_flow(state, req, flow_id).await?;
    Some((flow_id, browser, policy))
}

/// Why a posted form cannot go on with its flow.
pub(super) enum FlowRefusal {
    /// No open flow of this browser (unknown, expired, finished).
    Expired,
    /// The flow is open but the form's CSRF token is not its own.
    Forged,
}

/// The flow id and browser cookie of a posted form whose CSRF token is right, checked without
/// the database: the statement that then uses the flow must check that it is open and this
/// browser's (see [`tessera_store::passkeys::BrowserFlow`]).
pub(super) fn posted_flow(
    state: &AuthnState,
    req: &HttpRequest,
    flow: &str,
    csrf: &str,
) -> Option<(Uuid, String)> {
    let flow_id = Uuid::parse_str(flow).ok()?;
    let browser = req.cookie(cookies::BROWSER)?.value().to_owned();
    super::csrf_matches(&csrf_token(state, flow_id, &browser), csrf).then_some((flow_id, browser))
}

/// The open flow a posted form belongs to, when its CSRF token matches.
pub(super) async fn checked_flow(
    state: &AuthnState,
    req: &HttpRequest,
    flow: &str,
    csrf: &str,
) -> Result<(Uuid, String, Policy), FlowRefusal> {
    let flow_id = Uuid::parse_str(flow).map_err(|_| FlowRefusal::Expired)?;
    let (browser, policy) = browser_flow(state, req, flow_id)
        .await
        .ok_or(FlowRefusal::Expired)?;
    let expected = csrf_token(state, flow_id, &browser);
    if super::csrf_matches(&expected, csrf) {
        Ok((flow_id, browser, policy))
    } else {
        Err(FlowRefusal::Forged)
    }
}

async fn page(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    query: web::Query<FlowQuery>,
) -> HttpResponse {
    let Some((flow_id, browser, policy)) = queried_flow(&state, &req, &query).await else {
        return expired(&state);
    };
    if let Some(page) = super::identify::username_page(&state, &req, (flow_id, &browser, &policy)) {
        return page;
    }
    let snapshot = state.config.load();
    if flow::password_authenticators(&policy, &snapshot).is_empty()
        && super::passkey_login::offer(&state, &policy, &snapshot)
            .sign_in
            .is_none()
    {
        return no_password(&state);
    }
    let hint = policy.login_hint.clone().unwrap_or_default();
    render(
        &state,
        StatusCode::OK,
        "login.html",
        &form(&state, flow_id, &browser, &policy, &hint, None),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    flow: String,
    csrf: String,
    username: String,
    password: String,
    /// `passkey`: create a passkey after the password is verified.
    enrol: Option<String>,
}

async fn submit(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<LoginForm>,
) -> HttpResponse {
    let (flow_id, browser, policy) =
        match checked_flow(&state, &req, &input.flow, &input.csrf).await {
            Ok(open) => open,
            Err(FlowRefusal::Expired) => return expired(&state),
            Err(FlowRefusal::Forged) => {
                return message(
                    &state,
                    StatusCode::FORBIDDEN,
                    "This form has expired",
                    "Reload the page and try again.",
                );
            }
        };
    // The policy is read from the configuration as it is now: a commit applies to the next
    // step of flows already under way.
    let snapshot = state.config.load();
    let Some(authenticator) = flow::password_authenticators(&policy, &snapshot)
        .first()
        .map(|s| (*s).to_owned())
    else {
        return no_password(&state);
    };
    let username = input.username.trim().to_owned();
    let lookup = username.clone();
    let limits = state.limits.password;
    let address = client_address(&req, &state.limits.trusted_proxies);
    let buckets = limits::password_buckets(
        &username,
        address,
        super::is_known_device(&state, &req, &username),
    );
    let now = Utc::now();
    // One connection: count the attempt, and only when it is allowed look the account up.
    let looked_up = state
        .store
        .run(move |conn| {
            let counts = limits.count(conn, &buckets, now)?;
            if let Attempt::Refused { retry_after } = limits.decide(&counts, now) {
                return Ok(Err(retry_after));
            }
            let account = tessera_store::accounts::by_username(conn, &lookup)?;
            let hash = match &account {
                Some(a) => tessera_store::accounts::password_hash(conn, a.account_id)?,
                None => None,
            };
            Ok(Ok((account, hash, limits.delay(&counts))))
        })
        .await;
    let (account, hash, delay) = match looked_up {
        Ok(Ok(found)) => found,
        Ok(Err(retry_after)) => {
            tracing::warn!("password attempts over the limit");
            return too_many_attempts(&state, flow_id, &browser, &policy, &username, retry_after);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot check a password attempt");
            return message(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again shortly",
                "Signing in is temporarily unavailable.",
            );
        }
    };
    let verified = state
        .passwords
        .verify(input.password.clone(), hash)
        .await
        .unwrap_or(false);
    let Some(account) = account.filter(|_| verified) else {
        tracing::info!("password sign-in refused");
        // Progressive delay: a refusal after repeated attempts at a username (known or not)
        // comes slower and slower, well before the limit; a right password is not held up.
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let ctx = form(
            &state,
            flow_id,
            &browser,
            &policy,
            &username,
            Some("Wrong username or password."),
        );
        return render(&state, StatusCode::UNAUTHORIZED, "login.html", &ctx);
    };
    // Earlier failures for this username no longer count against its owner (NIST counts
    // consecutive failures), and this browser is now one of its known devices.
    let cleared = limits::cleared_by_success(&username, address);
    if let Err(e) = state
        .store
        .run(move |conn| {
            cleared
                .iter()
                .try_for_each(|bucket| tessera_store::rate_limits::reset(conn, bucket))
        })
        .await
    {
        tracing::warn!(error = %e, "cannot clear the password attempt counters");
    }
    let known_device = super::known_device_cookie(&state, &browser, &username);
    // Opting into passkeys: the password has just been verified for this flow, which is the
    // prerequisite for registering one; the flow completes when the passkey is created.
    if input.enrol.as_deref() == Some("passkey")
        && let Some(mut response) = super::passkey_login::offer_registration(
            &state,
            (flow_id, &browser),
            &policy,
            &account,
            &authenticator,
        )
        .await
    {
        let _ = response.add_cookie(&known_device);
        return response;
    }
    let mut response = complete_sign_in(
        &state,
        flow_id,
        (account.account_id, None),
        vec!["pwd".into()],
        &authenticator,
    )
    .await;
    let _ = response.add_cookie(&known_device);
    response
}

/// Completes the flow with an authentication (by the account's passkey `device` with its new
/// usage, if any) and sends the browser back to the caller with the SSO session cookie.
pub(super) async fn complete_sign_in(
    state: &AuthnState,
    flow_id: Uuid,
    (account_id, device): (Uuid, Option<(Uuid, DeviceUse)>),
    amr: Vec<String>,
    authenticator: &str,
) -> HttpResponse {
    let completed = signed_in_redirect(state, flow_id, (account_id, device), amr, authenticator);
    signed_in_response(completed.await)
}

/// The redirect onwards with the SSO cookie, or the page to show instead.
pub(super) fn signed_in_response(
    completed: Result<(String, actix_web::cookie::Cookie<'static>), HttpResponse>,
) -> HttpResponse {
    match completed {
        Ok((return_to, cookie)) => {
            let mut response = HttpResponse::SeeOther()
                .insert_header((header::LOCATION, return_to))
                .finish();
            let _ = response.add_cookie(&cookie);
            response
        }
        Err(response) => response,
    }
}

/// Records the authentication on the flow; returns where the browser goes next and the SSO
/// cookie to set, or the page to show instead.
pub(super) async fn signed_in_redirect(
    state: &AuthnState,
    flow_id: Uuid,
    signed_in: (Uuid, Option<(Uuid, DeviceUse)>),
    amr: Vec<String>,
    authenticator: &str,
) -> Result<(String, actix_web::cookie::Cookie<'static>), HttpResponse> {
    let completed = flow::complete(
        &state.store,
        flow_id,
        signed_in,
        amr,
        flow::acr_for(authenticator),
        Utc::now(),
    )
    .await;
    flow_completion(state, completed)
}

/// What recording a sign-in on its flow came to: where the browser goes next and the SSO
/// cookie, the expired page when the flow was no longer open, or the 503 page.
pub(super) fn flow_completion(
    state: &AuthnState,
    completed: Result<Option<(String, String)>, tessera_store::StoreError>,
) -> Result<(String, actix_web::cookie::Cookie<'static>), HttpResponse> {
    match completed {
        Ok(Some((session_secret, return_to))) => Ok((
            return_to,
            cookies::session_cookie(session_secret, state.secure_cookies),
        )),
        Ok(None) => Err(expired(state)),
        Err(e) => {
            tracing::error!(error = %e, "cannot record the sign-in");
            Err(unavailable(state))
        }
    }
}

/// 503 page.
pub(super) fn unavailable(state: &AuthnState) -> HttpResponse {
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "Signing in is temporarily unavailable.",
    )
}

/// 429 with the form again, `Retry-After`, and the same words whether or not the account exists.
fn too_many_attempts(
    state: &AuthnState,
    flow_id: Uuid,
    browser: &str,
    policy: &Policy,
    username: &str,
    retry_after: std::time::Duration,
) -> HttpResponse {
    let minutes = retry_after.as_secs().div_ceil(60).max(1);
    let text = format!(
        "Too many sign-in attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    );
    let ctx = form(
        state,
        flow_id,
        browser,
        policy,
        username,
        Some(text.as_str()),
    );
    let mut response = render(state, StatusCode::TOO_MANY_REQUESTS, "login.html", &ctx);
    if let Ok(value) = header::HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../templates/login.css"))
}
