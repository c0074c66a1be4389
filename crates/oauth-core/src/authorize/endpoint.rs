//! `GET|POST /oauth/authorize` and `GET /oauth/authorize/resume`: validate the request, answer
//! from the SSO session when it satisfies the client's policy, otherwise hand the browser to
//! authn and, when it comes back, issue a single-use code.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use serde::Deserialize;
use tessera_admin::Snapshot;
use tessera_admin::config::model::{Client, TokenSettings};
use tessera_authn::flow::{self, Authentication, Policy};
use tessera_authn::http::{client_address, cookies};
use tessera_store::codes::CodeRow;
use uuid::Uuid;

use super::{AuthorizationRequest, AuthorizeError, Prompt, ResponseMode, error_redirect, validate};
use crate::params::Params;
use crate::state::OAuthState;

/// A readable error page (never a redirect: the request could not be trusted that far).
fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    crate::html::message(status, title, message, crate::html::Tone::Alert)
}

fn unavailable() -> HttpResponse {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "Signing in is temporarily unavailable.",
    )
}

/// Delivers authorization response parameters to the client: a 303 for `query`, an
/// auto-submitted form for `form_post`.
fn deliver(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> HttpResponse {
    match mode {
        ResponseMode::Query => {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                query.append_pair(k, v);
            }
            let separator = if redirect_uri.contains('?') { '&' } else { '?' };
            HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("{redirect_uri}{separator}{}", query.finish()),
                ))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        ResponseMode::FormPost => {
            let Ok(nonce_bytes) = tessera_admin::crypto::random_bytes::<16>() else {
                return unavailable();
            };
            let nonce = URL_SAFE_NO_PAD.encode(nonce_bytes);
            let inputs: String = params
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                        crate::html::escape(k),
                        crate::html::escape(v)
                    )
                })
                .collect();
            let target = url::Url::parse(redirect_uri)
                .map(|u| u.origin().ascii_serialization())
                .ok()
                .filter(|o| o != "null")
                .unwrap_or_else(|| "*".into());
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((
                    header::CONTENT_SECURITY_POLICY,
                    format!("default-src 'none'; script-src 'nonce-{nonce}'; form-action {target}; frame-ancestors 'none'"),
                ))
                .body(format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Continue</title></head><body><form method=\"post\" action=\"{}\">{inputs}<noscript><button type=\"submit\">Continue</button></noscript></form><script nonce=\"{nonce}\">document.forms[0].submit()</script></body></html>",
                    crate::html::escape(redirect_uri)
                ))
        }
    }
}

fn redirect_error(state: &OAuthState, e: AuthorizeError) -> HttpResponse {
    match e {
        AuthorizeError::Page { message } => error_page(
            StatusCode::BAD_REQUEST,
            "This sign-in request is not valid",
            &message,
        ),
        AuthorizeError::Redirect {
            redirect_uri,
            response_mode,
            error,
            description,
            state: client_state,
        } => match response_mode {
            ResponseMode::Query => HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    error_redirect(
                        &redirect_uri,
                        error,
                        &description,
                        client_state.as_deref(),
                        state.issuer.as_str(),
                    ),
                ))
                .finish(),
            ResponseMode::FormPost => {
                let mut params = vec![
                    ("error", error),
                    ("error_description", description.as_str()),
                ];
                if let Some(s) = client_state.as_deref() {
                    params.push(("state", s));
                }
                params.push(("iss", state.issuer.as_str()));
                deliver(&redirect_uri, response_mode, &params)
            }
        },
    }
}

fn policy_for(client: &Client, request: &AuthorizationRequest) -> Policy {
    Policy {
        allowed: client.allowed_authenticators.clone(),
        client_id: Some(client.id.clone()),
        max_age: request.max_age,
        force: request.prompt == Prompt::Login,
        login_hint: request.login_hint.clone(),
        audience_name: client.name.clone().or_else(|| Some(client.id.clone())),
    }
}

/// Issues a code for `auth` and sends it to the client.
async fn issue_code(
    state: &OAuthState,
    snapshot: &Snapshot,
    client: &Client,
    request: &AuthorizationRequest,
    auth: &Authentication,
) -> HttpResponse {
    let Ok(code) = tessera_admin::crypto::random_token() else {
        return unavailable();
    };
    let now = Utc::now();
    let ttl = client
        .lifetimes
        .authorization_code
        .or(snapshot.config.token_settings.lifetimes.authorization_code)
        .unwrap_or(TokenSettings::CODE);
    let row = CodeRow {
        code_hash: flow::secret_hash(&code),
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        account_id: auth.account_id,
        auth_time: auth.auth_time,
        amr: auth.amr.clone(),
        acr: auth.acr.clone(),
        sid: Some(auth.sid.clone()),
        created_at: now,
        expires_at: crate::access_token::expiry(
            now,
            Duration::from_std(ttl).unwrap_or(Duration::MAX),
        ),
        consumed_at: None,
        token_family: None,
        subject: None,
    };
    let subject =
        state
            .subjects
            .for_client(auth.account_id, client, &snapshot.config.token_settings);
    let legacy = crate::subject::Subjects::takes_legacy(client, &snapshot.config.token_settings);
    if let Err(e) = state
        .store
        .run(move |conn| tessera_store::codes::insert_code(conn, &row, &subject, legacy))
        .await
    {
        tracing::error!(error = %e, "cannot store an authorization code");
        return unavailable();
    }
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = request.state.as_deref() {
        params.push(("state", s));
    }
    params.push(("iss", state.issuer.as_str()));
    deliver(&request.redirect_uri, request.response_mode, &params)
}

/// What an authorization request (or a sign-in coming back to it) comes to.
enum Outcome<'a> {
    /// A code goes back to the client: the SSO session or the sign-in satisfies its policy.
    Code {
        client: &'a Client,
        request: AuthorizationRequest,
        auth: Authentication,
    },
    /// The browser signs in first, in this flow (with a new browser cookie, if it had none).
    SignIn {
        flow_id: Uuid,
        cookie: Option<actix_web::cookie::Cookie<'static>>,
    },
    /// An error goes back to the client's redirect URI, or is shown when that is not trusted.
    Refused(AuthorizeError),
    /// A page for the user: the request cannot be trusted enough to go back.
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
    /// The client's address started too many sign-ins.
    TooManySignIns { retry_after: std::time::Duration },
    /// The database or the system failed.
    Unavailable,
}

impl Outcome<'_> {
    /// The one place an outcome becomes a response.
    async fn respond(self, state: &OAuthState, snapshot: &Snapshot) -> HttpResponse {
        match self {
            Outcome::Code {
                client,
                request,
                auth,
            } => issue_code(state, snapshot, client, &request, &auth).await,
            Outcome::SignIn { flow_id, cookie } => {
                let base = state.issuer.path();
                let mut response = HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, format!("{base}/login?flow={flow_id}")))
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .finish();
                if let Some(cookie) = cookie {
                    let _ = response.add_cookie(&cookie);
                }
                response
            }
            Outcome::Refused(e) => redirect_error(state, e),
            Outcome::Page {
                status,
                title,
                message,
            } => error_page(status, title, &message),
            Outcome::TooManySignIns { retry_after } => {
                let minutes = retry_after.as_secs().div_ceil(60).max(1);
                let text = format!(
                    "Too many sign-ins were started from your network. Try again in {minutes} minutes."
                );
                let mut page =
                    error_page(StatusCode::TOO_MANY_REQUESTS, "Too many sign-ins", &text);
                page.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(retry_after.as_secs().max(1)),
                );
                page
            }
            Outcome::Unavailable => unavailable(),
        }
    }
}

fn invalid_request_page(message: &str) -> Outcome<'static> {
    Outcome::Page {
        status: StatusCode::BAD_REQUEST,
        title: "This sign-in request is not valid",
        message: message.to_owned(),
    }
}

fn expired_page() -> Outcome<'static> {
    Outcome::Page {
        status: StatusCode::BAD_REQUEST,
        title: "This sign-in has expired",
        message: "Go back to the application and start signing in again.".into(),
    }
}

/// `GET|POST /oauth/authorize`.
pub async fn authorize(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let raw: &[u8] = if req.method() == actix_web::http::Method::POST {
        &body
    } else {
        req.query_string().as_bytes()
    };
    let snapshot = state.config.load();
    let outcome = match Params::parse(raw) {
        Ok(params) => decide(&state, &req, &params, &snapshot).await,
        Err(e) => invalid_request_page(&e.description),
    };
    outcome.respond(&state, &snapshot).await
}

/// An authorization request answered from the SSO session when it satisfies the client's
/// policy, else by starting a sign-in (unless the client asked for `prompt=none`).
async fn decide<'a>(
    state: &OAuthState,
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a Snapshot,
) -> Outcome<'a> {
    let request = match validate(params, snapshot) {
        Ok(request) => request,
        Err(e) => return Outcome::Refused(e),
    };
    let Some(client) = snapshot.client(&request.client_id) else {
        return invalid_request_page("Unknown client.");
    };
    let policy = policy_for(client, &request);
    let now = Utc::now();
    if request.prompt != Prompt::Login
        && let Some(secret) = cookies::session(req)
    {
        match flow::session(&state.store, &secret, now).await {
            Ok(Some(auth)) if flow::satisfies(&auth, &policy, snapshot, now) => {
                return Outcome::Code {
                    client,
                    request,
                    auth,
                };
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the SSO session");
                return Outcome::Unavailable;
            }
        }
    }
    if request.prompt == Prompt::None {
        return Outcome::Refused(AuthorizeError::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            response_mode: request.response_mode,
            error: "login_required",
            description: "The user must sign in.".into(),
            state: request.state.clone(),
        });
    }
    start_sign_in(state, req, &request, &policy, now).await
}

/// Hands the browser to authn: a flow that comes back to [`resume`].
async fn start_sign_in(
    state: &OAuthState,
    req: &HttpRequest,
    request: &AuthorizationRequest,
    policy: &Policy,
    now: chrono::DateTime<Utc>,
) -> Outcome<'static> {
    let Ok((browser, cookie)) = cookies::browser(req, state.secure_cookies) else {
        return Outcome::Unavailable;
    };
    let Ok(payload) = serde_json::to_value(request) else {
        return Outcome::Unavailable;
    };
    let started = flow::start(
        &state.store,
        policy,
        format!("{}/oauth/authorize/resume?flow=", state.issuer.path()),
        payload,
        (&browser, client_address(req, &state.trusted_proxies)),
        state.sign_ins_per_address,
        now,
    )
    .await;
    match started {
        Ok(flow::Started::Flow(flow_id)) => Outcome::SignIn { flow_id, cookie },
        Ok(flow::Started::TooMany { retry_after }) => Outcome::TooManySignIns { retry_after },
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a sign-in flow");
            Outcome::Unavailable
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct ResumeQuery {
    flow: Option<String>,
}

/// `GET /oauth/authorize/resume?flow=…`: authn sends the browser back here.
pub async fn resume(
    state: web::Data<OAuthState>,
    req: HttpRequest,
    query: web::Query<ResumeQuery>,
) -> HttpResponse {
    let snapshot = state.config.load();
    let outcome = resumed(&state, &req, query.flow.as_deref(), &snapshot).await;
    outcome.respond(&state, &snapshot).await
}

/// A completed sign-in, taken once from its flow by the browser that started it: a code, if
/// the client's policy as configured now accepts how the user signed in.
async fn resumed<'a>(
    state: &OAuthState,
    req: &HttpRequest,
    flow: Option<&str>,
    snapshot: &'a Snapshot,
) -> Outcome<'a> {
    let Some(flow_id) = flow.and_then(|f| Uuid::parse_str(f).ok()) else {
        return expired_page();
    };
    let Some(browser) = req.cookie(cookies::BROWSER).map(|c| c.value().to_owned()) else {
        return expired_page();
    };
    let (payload, auth) = match flow::take(&state.store, flow_id, &browser, Utc::now()).await {
        Ok(Some(taken)) => taken,
        Ok(None) => return expired_page(),
        Err(_) => return Outcome::Unavailable,
    };
    let Ok(request) = serde_json::from_value::<AuthorizationRequest>(payload) else {
        tracing::error!("a completed sign-in's authorization request cannot be read");
        return Outcome::Unavailable;
    };
    // The client's policy as configured now (a commit may have changed it meanwhile).
    let Some(client) = snapshot.client(&request.client_id) else {
        return expired_page();
    };
    let mut policy = policy_for(client, &request);
    policy.force = false;
    policy.max_age = None;
    if !flow::satisfies(&auth, &policy, snapshot, Utc::now()) {
        return Outcome::Refused(AuthorizeError::Redirect {
            redirect_uri: request.redirect_uri.clone(),
            response_mode: request.response_mode,
            error: "access_denied",
            description: "The authentication method used is not allowed for this application."
                .into(),
            state: request.state.clone(),
        });
    }
    Outcome::Code {
        client,
        request,
        auth,
    }
}
