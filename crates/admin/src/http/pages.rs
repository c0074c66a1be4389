//! `/admin`: sign in, Changes → Upload (Merge or Replace), review the diff, Commit with a
//! comment, history with rollback. Plain HTML forms (no JavaScript), CSRF tokens on every form.

use actix_multipart::Multipart;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::TryStreamExt;
use serde::Deserialize;
use tera::Context;

use super::session::{self, Session};
use super::view::{Message, guarded, render, see_other, signed_in_context, status_of};
use super::{AdminError, AdminState};
use crate::ConfigError;
use crate::config::{MAX_DOCUMENT_BYTES, UploadMode};

pub(super) fn templates() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates(vec![
        ("layout.html", include_str!("../../templates/layout.html")),
        ("login.html", include_str!("../../templates/login.html")),
        (
            "dashboard.html",
            include_str!("../../templates/dashboard.html"),
        ),
        ("changes.html", include_str!("../../templates/changes.html")),
        (
            "accounts.html",
            include_str!("../../templates/accounts.html"),
        ),
        ("account.html", include_str!("../../templates/account.html")),
    ])?;
    Ok(tera)
}

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(dashboard))
        .route("/", web::get().to(dashboard))
        .route("/login", web::get().to(login_page))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/upload", web::post().to(upload))
        .route("/changes", web::get().to(changes))
        .route("/commit", web::post().to(commit))
        .route("/discard", web::post().to(discard))
        .route("/rollback", web::post().to(rollback))
        .route("/static/admin.css", web::get().to(stylesheet));
}

#[derive(Deserialize)]
struct NoticeQuery {
    done: Option<String>,
}

fn notice_for(query: &NoticeQuery) -> Option<String> {
    let done = query.done.as_deref()?;
    Some(match done.split_once('-') {
        Some(("committed", v)) => {
            format!("Committed version {v}. Every instance switches to it within a second.")
        }
        Some(("rolledback", v)) => format!("Rolled back: committed version {v}."),
        _ if done == "discarded" => "The candidate was discarded.".into(),
        _ if done == "uploaded" => "Uploaded. Review the changes, then commit.".into(),
        _ => return None,
    })
}

async fn dashboard_page(
    state: &AdminState,
    session: &Session,
    status: StatusCode,
    message: Message,
) -> HttpResponse {
    let mut ctx = signed_in_context(state, session);
    let versions = match state.service.versions().await {
        Ok(v) => v,
        Err(e) => {
            return render(
                state,
                status_of(&e),
                "dashboard.html",
                ctx,
                Message::error(&e),
            );
        }
    };
    let has_candidate = matches!(state.service.candidate().await, Ok(Some(_)));
    ctx.insert("active_version", &state.service.active().version());
    ctx.insert("versions", &versions);
    ctx.insert("has_candidate", &has_candidate);
    render(state, status, "dashboard.html", ctx, message)
}

async fn dashboard(
    state: web::Data<AdminState>,
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let Some(session) = session::current(&state, &req).await else {
        return see_other("/admin/login");
    };
    let message = Message {
        notice: notice_for(&query),
        ..Message::default()
    };
    dashboard_page(&state, &session, StatusCode::OK, message).await
}

async fn login_page(state: web::Data<AdminState>, req: HttpRequest) -> HttpResponse {
    if session::current(&state, &req).await.is_some() {
        return see_other("/admin");
    }
    login_form(&state, &req, StatusCode::OK, Message::default())
}

fn login_form(
    state: &AdminState,
    req: &HttpRequest,
    status: StatusCode,
    message: Message,
) -> HttpResponse {
    let (token, cookie) = match session::login_token(state, req) {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "no randomness for the admin sign-in form");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("The admin pages are unavailable: the system has no randomness.");
        }
    };
    let mut ctx = Context::new();
    ctx.insert("signed_in", &false);
    ctx.insert("csrf", &token);
    let mut response = render(state, status, "login.html", ctx, message);
    if let Some(cookie) = cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
}

async fn login(
    state: web::Data<AdminState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if !session::check_login_token(&req, &form.csrf) {
        let message = Message {
            error: Some("The sign-in form expired. Please try again.".into()),
            ..Message::default()
        };
        return login_form(&state, &req, StatusCode::BAD_REQUEST, message);
    }
    match state
        .auth
        .check_password(&req, &form.username, &form.password)
        .await
    {
        Ok(username) => {
            let Some(cookie) = session::start(&state, &username).await else {
                let message = Message {
                    error: Some("Signing in is temporarily unavailable. Try again shortly.".into()),
                    ..Message::default()
                };
                return login_form(&state, &req, StatusCode::SERVICE_UNAVAILABLE, message);
            };
            let mut response = see_other("/admin");
            let _ = response.add_cookie(&cookie);
            let _ = response.add_cookie(&session::clear(&state, session::LOGIN_COOKIE));
            response
        }
        Err(AdminError::TooManyAttempts(retry_after)) => {
            let message = Message {
                error: Some(format!(
                    "Too many sign-in attempts. Try again in {} minutes.",
                    retry_after.as_secs().div_ceil(60)
                )),
                ..Message::default()
            };
            let mut response = login_form(&state, &req, StatusCode::TOO_MANY_REQUESTS, message);
            if let Ok(value) = retry_after.as_secs().to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Err(_) => {
            let message = Message {
                error: Some("Wrong username or password.".into()),
                ..Message::default()
            };
            login_form(&state, &req, StatusCode::UNAUTHORIZED, message)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
struct LogoutForm {
    csrf: String,
    /// `yes`: end every admin session, on every browser.
    #[serde(default)]
    everywhere: String,
}

/// Signing out ends the session on the server (a copy of the cookie stops working);
/// "Sign out everywhere" ends every admin session.
async fn logout(
    state: web::Data<AdminState>,
    req: HttpRequest,
    form: web::Form<LogoutForm>,
) -> HttpResponse {
    let session = match guarded(&state, &req, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let ended = if form.everywhere == "yes" {
        session::end_all(&state).await.map(|n| {
            tracing::info!(sessions = n, by = %session.username, "signed out of every admin session");
        })
    } else {
        session::end(&state, &session).await
    };
    if let Err(e) = ended {
        tracing::warn!(error = %e, "cannot end the admin session");
        return HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("Signing out is temporarily unavailable. Try again shortly.");
    }
    let mut response = see_other("/admin/login");
    let _ = response.add_cookie(&session::clear(&state, session::SESSION_COOKIE));
    response
}

async fn read_field(
    field: &mut actix_multipart::Field,
    limit: usize,
) -> Result<Vec<u8>, ConfigError> {
    let mut data = Vec::new();
    while let Some(chunk) = field
        .try_next()
        .await
        .map_err(|e| ConfigError::NotFound(format!("the upload was interrupted: {e}")))?
    {
        if data.len() + chunk.len() > limit {
            return Err(ConfigError::TooLarge);
        }
        data.extend_from_slice(&chunk);
    }
    Ok(data)
}

async fn upload(
    state: web::Data<AdminState>,
    req: HttpRequest,
    mut payload: Multipart,
) -> HttpResponse {
    // Nothing is read for a visitor without a session.
    if session::current(&state, &req).await.is_none() {
        return see_other("/admin/login");
    }
    let (mut csrf, mut mode, mut format, mut file) =
        (String::new(), String::new(), String::new(), None);
    let mut budget = MAX_DOCUMENT_BYTES + 4096; // the file plus three small fields
    loop {
        let field = match payload.try_next().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return HttpResponse::BadRequest().body("The upload could not be read."),
        };
        let mut field = field;
        let name = field.name().unwrap_or_default().to_owned();
        let data = match read_field(&mut field, budget).await {
            Ok(data) => {
                budget -= data.len();
                data
            }
            Err(e) => {
                let Some(session) = session::current(&state, &req).await else {
                    return see_other("/admin/login");
                };
                return dashboard_page(&state, &session, status_of(&e), Message::error(&e)).await;
            }
        };
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&data).into_owned(),
            "mode" => mode = String::from_utf8_lossy(&data).into_owned(),
            "format" => format = String::from_utf8_lossy(&data).into_owned(),
            "file" => file = Some(data),
            _ => {}
        }
    }
    let session = match guarded(&state, &req, &csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let mode = if mode == "replace" {
        UploadMode::Replace
    } else {
        UploadMode::Merge
    };
    let Some(file) = file.filter(|f| !f.is_empty()) else {
        let message = Message {
            error: Some("Choose a configuration file to upload.".into()),
            ..Message::default()
        };
        return dashboard_page(&state, &session, StatusCode::BAD_REQUEST, message).await;
    };
    if format == "curity" {
        return match state
            .service
            .import(file, mode, &session.username, false)
            .await
        {
            Ok(view) => {
                let message = Message {
                    notice: Some(format!(
                        "Imported. {} element(s) of the file were not carried over as written: see the migration report. Review the changes, then commit.",
                        view.report.entries.len()
                    )),
                    report: view.report.entries,
                    ..Message::default()
                };
                changes_page(&state, &session, StatusCode::OK, message).await
            }
            Err(e) => dashboard_page(&state, &session, status_of(&e), Message::error(&e)).await,
        };
    }
    match state.service.upload(file, mode, &session.username).await {
        Ok(_) => see_other("/admin/changes?done=uploaded"),
        Err(e) => dashboard_page(&state, &session, status_of(&e), Message::error(&e)).await,
    }
}

async fn changes_page(
    state: &AdminState,
    session: &Session,
    status: StatusCode,
    message: Message,
) -> HttpResponse {
    let mut ctx = signed_in_context(state, session);
    match state.service.candidate().await {
        Ok(candidate) => {
            ctx.insert("candidate", &candidate);
            render(state, status, "changes.html", ctx, message)
        }
        Err(e) => {
            ctx.insert("candidate", &Option::<()>::None);
            render(
                state,
                status_of(&e),
                "changes.html",
                ctx,
                Message::error(&e),
            )
        }
    }
}

async fn changes(
    state: web::Data<AdminState>,
    req: HttpRequest,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let Some(session) = session::current(&state, &req).await else {
        return see_other("/admin/login");
    };
    let message = Message {
        notice: notice_for(&query),
        ..Message::default()
    };
    changes_page(&state, &session, StatusCode::OK, message).await
}

#[derive(Deserialize)]
struct CommitForm {
    csrf: String,
    comment: String,
    candidate: String,
}

async fn commit(
    state: web::Data<AdminState>,
    req: HttpRequest,
    form: web::Form<CommitForm>,
) -> HttpResponse {
    let session = match guarded(&state, &req, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match state
        .service
        .commit(
            form.comment.trim(),
            &session.username,
            Some(&form.candidate),
        )
        .await
    {
        Ok(outcome) => see_other(&format!("/admin?done=committed-{}", outcome.version)),
        Err(e) => changes_page(&state, &session, status_of(&e), Message::error(&e)).await,
    }
}

async fn discard(
    state: web::Data<AdminState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = match guarded(&state, &req, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match state.service.discard().await {
        Ok(()) => see_other("/admin?done=discarded"),
        Err(e) => changes_page(&state, &session, status_of(&e), Message::error(&e)).await,
    }
}

#[derive(Deserialize)]
struct RollbackForm {
    csrf: String,
    version: i32,
}

async fn rollback(
    state: web::Data<AdminState>,
    req: HttpRequest,
    form: web::Form<RollbackForm>,
) -> HttpResponse {
    let session = match guarded(&state, &req, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    match state
        .service
        .rollback(form.version, "", &session.username)
        .await
    {
        Ok(outcome) => see_other(&format!("/admin?done=rolledback-{}", outcome.version)),
        Err(e) => dashboard_page(&state, &session, status_of(&e), Message::error(&e)).await,
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../templates/admin.css"))
}
