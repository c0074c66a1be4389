//! `/admin/accounts`: find an account, see its passkeys, sessions, sign-ins and audit log,
//! disable or enable it, end its sessions, remove a passkey. Every action is a form with a
//! CSRF token, and is recorded in the audit log in the transaction of the change.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_store::accounts::{AccountQuery, AccountRow};
use tessera_store::audit::{self, Entry};
use tessera_store::{PgConnection, StoreError};
use uuid::Uuid;

use super::AdminState;
use super::session::{self, Session};
use super::view::{Message, guarded, render, see_other, signed_in_context};

/// Accounts per page.
const PAGE: i64 = 50;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts", web::get().to(list))
        .route("/accounts/{id}", web::get().to(show))
        .route("/accounts/{id}/disable", web::post().to(disable))
        .route("/accounts/{id}/enable", web::post().to(enable))
        .route("/accounts/{id}/sign-out", web::post().to(sign_out))
        .route("/accounts/{id}/recovery", web::post().to(send_recovery))
        .route(
            "/accounts/{id}/passkeys/{passkey}/remove",
            web::post().to(remove_passkey),
        );
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn unavailable(state: &AdminState, session: &Session, e: &StoreError) -> HttpResponse {
    tracing::error!(error = %e, "admin account page failed");
    let message = Message {
        error: Some("The accounts are unavailable right now. Try again shortly.".into()),
        ..Message::default()
    };
    let mut ctx = signed_in_context(state, session);
    ctx.insert("q", "");
    ctx.insert("q_url", "");
    ctx.insert("accounts", &Vec::<Listed>::new());
    ctx.insert("total", &0);
    ctx.insert("page", &1);
    ctx.insert("pages", &1);
    render(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        "accounts.html",
        ctx,
        message,
    )
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

#[derive(Serialize)]
struct Listed {
    id: Uuid,
    username: String,
    email: String,
    status: String,
    created: String,
    active: bool,
}

impl From<&AccountRow> for Listed {
    fn from(row: &AccountRow) -> Self {
        Listed {
            id: row.account_id,
            username: row.username.clone(),
            email: row.email.clone().unwrap_or_default(),
            status: match row.disabled_at {
                Some(at) => format!("disabled since {}", day(at)),
                None => "enabled".into(),
            },
            created: day(row.created_at),
            active: row.disabled_at.is_none(),
        }
    }
}

async fn list(
    state: web::Data<AdminState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> HttpResponse {
    let Some(session) = session::current(&state, &req).await else {
        return see_other("/admin/login");
    };
    let page = query.page.unwrap_or(1).clamp(1, i64::MAX / PAGE);
    let search = AccountQuery {
        search: Some(query.q.trim().to_owned()).filter(|q| !q.is_empty()),
        offset: (page - 1) * PAGE,
        limit: PAGE,
    };
    let found = state
        .store
        .run(move |conn| tessera_store::accounts::list(conn, &search))
        .await;
    let (rows, total) = match found {
        Ok(found) => found,
        Err(e) => return unavailable(&state, &session, &e),
    };
    let pages = ((total + PAGE - 1) / PAGE).max(1);
    let mut ctx = signed_in_context(&state, &session);
    ctx.insert("q", query.q.trim());
    ctx.insert(
        "q_url",
        &url::form_urlencoded::byte_serialize(query.q.trim().as_bytes()).collect::<String>(),
    );
    ctx.insert(
        "accounts",
        &rows.iter().map(Listed::from).collect::<Vec<_>>(),
    );
    ctx.insert("total", &total);
    ctx.insert("page", &page);
    ctx.insert("pages", &pages);
    ctx.insert("previous", &(page > 1).then_some(page - 1));
    ctx.insert("next", &(page < pages).then_some(page + 1));
    render(
        &state,
        StatusCode::OK,
        "accounts.html",
        ctx,
        Message::default(),
    )
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    Some(
        match done? {
            "disabled" => {
                "Disabled: the account cannot sign in; its sessions and refresh tokens ended."
            }
            "enabled" => "Enabled: the account can sign in again.",
            "signed-out" => "Every session of the account ended; its refresh tokens were revoked.",
            "passkey-removed" => "The passkey was removed; it can no longer sign in.",
            "recovery-sent" => "A recovery email was sent to the account's address.",
            "recovery-failed" => "The recovery email could not be sent; check the email provider.",
            "unchanged" => "Nothing to change.",
            _ => return None,
        }
        .into(),
    )
}

/// Everything the account page shows.
struct Details {
    account: AccountRow,
    passkeys: Vec<tessera_store::passkeys::DeviceRow>,
    sessions: Vec<tessera_store::signin::SessionRow>,
    sign_ins: Vec<tessera_store::signin::SignInRow>,
    audit: Vec<audit::Recorded>,
}

fn details(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Details>, StoreError> {
    let Some(account) = tessera_store::accounts::by_id(conn, id)? else {
        return Ok(None);
    };
    Ok(Some(Details {
        account,
        passkeys: tessera_store::passkeys::devices_of(conn, id)?,
        sessions: tessera_store::signin::live_sessions(conn, id, now)?,
        sign_ins: tessera_store::signin::recent_sign_ins(conn, id, 10)?,
        audit: audit::recent(conn, Some(id), 20)?,
    }))
}

async fn show(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<DoneQuery>,
) -> HttpResponse {
    let Some(session) = session::current(&state, &req).await else {
        return see_other("/admin/login");
    };
    let Ok(id) = Uuid::parse_str(&id) else {
        return see_other("/admin/accounts");
    };
    let now = Utc::now();
    let found = match state.store.run(move |conn| details(conn, id, now)).await {
        Ok(Some(found)) => found,
        Ok(None) => return see_other("/admin/accounts"),
        Err(e) => return unavailable(&state, &session, &e),
    };
    let mut ctx = signed_in_context(&state, &session);
    ctx.insert("account", &Listed::from(&found.account));
    ctx.insert(
        "can_mail",
        &(state.recovery_mail.is_some() && found.account.email.is_some()),
    );
    let passkeys: Vec<_> = found
        .passkeys
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.device_id,
                "name": p.name,
                "synced": if p.backup_eligible { "yes" } else { "no" },
                "created": day(p.created_at),
                "last_used": p.last_used_at.map(day).unwrap_or_else(|| "never".into()),
            })
        })
        .collect();
    ctx.insert("passkeys", &passkeys);
    let sessions: Vec<_> = found
        .sessions
        .iter()
        .map(|s| serde_json::json!({"since": day(s.auth_time), "amr": s.amr.join(" + "), "expires": day(s.expires_at)}))
        .collect();
    ctx.insert("sessions", &sessions);
    let sign_ins: Vec<_> = found
        .sign_ins
        .iter()
        .map(|s| serde_json::json!({"at": day(s.signed_in_at), "amr": s.amr.join(" + "), "client": s.client_id.clone().unwrap_or_else(|| "account page".into())}))
        .collect();
    ctx.insert("sign_ins", &sign_ins);
    let entries: Vec<_> = found
        .audit
        .iter()
        .map(|e| serde_json::json!({"at": day(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}))
        .collect();
    ctx.insert("audit", &entries);
    let message = Message {
        notice: notice(query.done.as_deref()),
        ..Message::default()
    };
    render(&state, StatusCode::OK, "account.html", ctx, message)
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
}

/// A change to an account made from its page: run in one transaction with its audit entry
/// when it changed something, then back to the page with what happened.
async fn act<F>(
    state: &AdminState,
    req: &HttpRequest,
    form: &ActionForm,
    id: &str,
    (action, done): (&'static str, &'static str),
    change: F,
) -> HttpResponse
where
    F: FnOnce(&mut PgConnection, Uuid, DateTime<Utc>) -> Result<Option<String>, StoreError>
        + Send
        + 'static,
{
    let session = match guarded(state, req, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let Ok(id) = Uuid::parse_str(id) else {
        return see_other("/admin/accounts");
    };
    let actor = format!("admin:{}", session.username);
    let now = Utc::now();
    let outcome = state
        .store
        .run(move |conn| {
            // The account's name, and what the change did (`None`: nothing to change).
            let named_change = |conn: &mut PgConnection| {
                let Some(account) = tessera_store::accounts::by_id(conn, id)? else {
                    return Ok(None);
                };
                Ok(Some((account.username, change(conn, id, now)?)))
            };
            audit::recorded(conn, now, named_change, |outcome| match outcome {
                Some((username, Some(detail))) => Some(Entry {
                    actor,
                    action,
                    account_id: Some(id),
                    subject: username.clone(),
                    detail: detail.clone(),
                }),
                _ => None,
            })
            .map(|outcome| outcome.map(|(_, changed)| changed.is_some()))
        })
        .await;
    match outcome {
        Ok(Some(true)) => {
            tracing::info!(account = %id, action, "admin changed an account");
            see_other(&format!("/admin/accounts/{id}?done={done}"))
        }
        Ok(Some(false)) => see_other(&format!("/admin/accounts/{id}?done=unchanged")),
        Ok(None) => see_other("/admin/accounts"),
        Err(e) => unavailable(state, &session, &e),
    }
}

async fn disable(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    act(
        &state,
        &req,
        &form,
        &id,
        ("user.disabled", "disabled"),
        |conn, id, now| {
            Ok(
                tessera_store::accounts::disable(conn, id, now)?.map(|ended| {
                    format!(
                        "{} session(s) ended, {} refresh token(s) revoked",
                        ended.sessions, ended.refresh_tokens
                    )
                }),
            )
        },
    )
    .await
}

async fn enable(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    act(
        &state,
        &req,
        &form,
        &id,
        ("user.enabled", "enabled"),
        |conn, id, now| Ok(tessera_store::accounts::enable(conn, id, now)?.then(String::new)),
    )
    .await
}

async fn sign_out(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    act(
        &state,
        &req,
        &form,
        &id,
        ("sessions.ended", "signed-out"),
        |conn, id, now| {
            let ended = tessera_store::signin::sign_out_everywhere(conn, id, None, now)?;
            Ok(Some(format!(
                "{} session(s) ended, {} refresh token(s) revoked",
                ended.sessions, ended.refresh_tokens
            )))
        },
    )
    .await
}

async fn remove_passkey(
    state: web::Data<AdminState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let (id, passkey) = path.into_inner();
    let Ok(passkey) = Uuid::parse_str(&passkey) else {
        return see_other(&format!("/admin/accounts/{id}"));
    };
    act(
        &state,
        &req,
        &form,
        &id,
        ("passkey.removed", "passkey-removed"),
        move |conn, id, now| {
            // An operator removing the last way in has decided to: the user recovers by email.
            let deleted = tessera_store::passkeys::delete_device(conn, id, passkey, true, now)?;
            Ok((deleted == tessera_store::passkeys::Deletion::Deleted)
                .then(|| format!("passkey {passkey}")))
        },
    )
    .await
}

/// Mails the account's owner the way back in (the recovery path they would start
/// themselves), and records that it was sent.
async fn send_recovery(
    state: web::Data<AdminState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let session = match guarded(&state, &req, &form.csrf).await {
        Ok(session) => session,
        Err(response) => return response,
    };
    let (Ok(id), Some(mail)) = (Uuid::parse_str(&id), state.recovery_mail.clone()) else {
        return see_other("/admin/accounts");
    };
    let account = match state
        .store
        .run(move |conn| tessera_store::accounts::by_id(conn, id))
        .await
    {
        Ok(Some(account)) => account,
        Ok(None) => return see_other("/admin/accounts"),
        Err(e) => return unavailable(&state, &session, &e),
    };
    let Some(to) = account.email.clone() else {
        return see_other(&format!("/admin/accounts/{id}"));
    };
    if let Err(e) = mail.send(&to, &account.username).await {
        tracing::error!(error = %e, account = %id, "cannot send a recovery email");
        return see_other(&format!("/admin/accounts/{id}?done=recovery-failed"));
    }
    let entry = Entry {
        actor: format!("admin:{}", session.username),
        action: "recovery.sent",
        account_id: Some(id),
        subject: account.username,
        detail: String::new(),
    };
    let now = Utc::now();
    let recorded = state
        .store
        .run(move |conn| audit::record(conn, &entry, now))
        .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "cannot record a sent recovery email");
    }
    see_other(&format!("/admin/accounts/{id}?done=recovery-sent"))
}
