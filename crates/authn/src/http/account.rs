//! `/account`: the signed-in user's own page. Their passkeys (rename, delete, add one) and
//! their recent sign-ins. The SSO session is the credential; adding or deleting a passkey needs
//! a sign-in from the last few minutes, and deleting the last way to sign in needs a
//! confirmation.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use tessera_store::accounts::AccountRow;
use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::page::{
    message, render, retry_after, script_json, see_other, try_again_in, unavailable,
};
use super::{AuthnState, client_address, cookies};
use crate::flow::{self, Authentication, Policy};
use crate::passkeys::Registrant;
use tessera_store::passkeys::Deletion;

/// How recent a sign-in must be to add or delete a passkey.
const RECENT: Duration = Duration::minutes(10);
/// Sign-ins listed.
const HISTORY: i64 = 10;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(page))
        .route("/sign-in", web::get().to(sign_in))
        .route("/passkeys/rename", web::post().to(rename))
        .route("/passkeys/delete", web::post().to(delete))
        .route("/passkeys/new", web::post().to(new_passkey))
        .route("/passkeys/register", web::post().to(register))
        .route("/sign-out-everywhere", web::post().to(sign_out_everywhere));
}

/// Ends the account's other SSO sessions and revokes every refresh token issued to it: what
/// was signed in elsewhere (a lost device, a shared computer, an app) stops working. The
/// caller's own session (`req`'s) stays.
async fn end_other_sessions(
    state: &AuthnState,
    req: &HttpRequest,
    account_id: Uuid,
) -> Result<(), tessera_store::StoreError> {
    let keep = cookies::session(req).map(|secret| flow::secret_hash(&secret));
    let now = Utc::now();
    let ended = state
        .store
        .run(move |conn| {
            tessera_store::signin::sign_out_everywhere(conn, account_id, keep.as_deref(), now)
        })
        .await?;
    tracing::info!(
        sessions = ended.sessions,
        refresh_tokens = ended.refresh_tokens,
        "signed out everywhere else from the account page"
    );
    Ok(())
}

/// `POST /account/sign-out-everywhere`: every other session and every app's refresh token end.
async fn sign_out_everywhere(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match poster(&state, &req, &input.csrf).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    match end_other_sessions(&state, &req, user.account.account_id).await {
        Ok(()) => see_other(&format!("{}/account", state.base_path)),
        Err(_) => unavailable(&state),
    }
}

/// The signed-in account behind the browser's SSO session.
struct SignedIn {
    auth: Authentication,
    account: AccountRow,
}

impl SignedIn {
    fn is_recent(&self, now: DateTime<Utc>) -> bool {
        now - self.auth.auth_time <= RECENT
    }
}

async fn signed_in(state: &AuthnState, req: &HttpRequest) -> Result<Option<SignedIn>, ()> {
    let Some(secret) = cookies::session(req) else {
        return Ok(None);
    };
    let Some(auth) = flow::session(&state.store, &secret, Utc::now())
        .await
        .map_err(|_| ())?
    else {
        return Ok(None);
    };
    let account_id = auth.account_id;
    let account = state
        .store
        .run(move |conn| tessera_store::accounts::by_id(conn, account_id))
        .await
        .map_err(|_| ())?;
    Ok(account.map(|account| SignedIn { auth, account }))
}

/// The account page's CSRF token: bound to the SSO session.
fn csrf_token(state: &AuthnState, sid: &str) -> String {
    state.forms.token(&format!("account|{sid}"))
}

fn csrf_matches(state: &AuthnState, user: &SignedIn, csrf: &str) -> bool {
    state
        .forms
        .verify(&format!("account|{}", user.auth.sid), csrf)
}

/// Who may post: a signed-in user with the page's CSRF token. `Err` is the page to show.
async fn poster(
    state: &AuthnState,
    req: &HttpRequest,
    csrf: &str,
) -> Result<SignedIn, HttpResponse> {
    match signed_in(state, req).await {
        Ok(Some(user)) if csrf_matches(state, &user, csrf) => Ok(user),
        Ok(Some(_)) => Err(message(
            state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Reload your account page and try again.",
        )),
        Ok(None) => Err(see_other(&format!("{}/account", state.base_path))),
        Err(()) => Err(unavailable(state)),
    }
}

/// [`poster`], who signed in within the last few minutes (adding or deleting a passkey).
async fn recent_poster(
    state: &AuthnState,
    req: &HttpRequest,
    csrf: &str,
) -> Result<SignedIn, HttpResponse> {
    let user = poster(state, req, csrf).await?;
    if user.is_recent(Utc::now()) {
        Ok(user)
    } else {
        Err(sign_in_again(state))
    }
}

/// A passkey as the page lists it.
#[derive(Serialize)]
struct PasskeyView {
    id: String,
    name: String,
    kind: &'static str,
    provider: Option<&'static str>,
    created: String,
    last_used: String,
}

/// A past sign-in as the page lists it.
#[derive(Serialize)]
struct SignInView {
    when: String,
    how: &'static str,
    client: String,
}

/// What a set of RFC 8176 methods reads as.
fn method_name(amr: &[String]) -> &'static str {
    if amr.iter().any(|m| m == "hwk" || m == "swk") {
        "Passkey"
    } else if amr.iter().any(|m| m == "otp") {
        "Email code"
    } else if amr.iter().any(|m| m == "pwd") {
        "Password"
    } else {
        "Other"
    }
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `GET /account`.
async fn page(state: web::Data<AuthnState>, req: HttpRequest) -> HttpResponse {
    let user = match signed_in(&state, &req).await {
        Ok(Some(user)) => user,
        Ok(None) => return see_other(&format!("{}/account/sign-in", state.base_path)),
        Err(()) => return unavailable(&state),
    };
    account_page(&state, &user, (StatusCode::OK, None)).await
}

async fn account_page(
    state: &AuthnState,
    user: &SignedIn,
    (status, error): (StatusCode, Option<&str>),
) -> HttpResponse {
    let account_id = user.account.account_id;
    let loaded = state
        .store
        .run(move |conn| {
            let devices = tessera_store::passkeys::devices_of(conn, account_id)?;
            let password = tessera_store::accounts::password_hash(conn, account_id)?.is_some();
            let history = tessera_store::signin::recent_sign_ins(conn, account_id, HISTORY)?;
            Ok((devices, password, history))
        })
        .await;
    let Ok((devices, has_password, history)) = loaded else {
        return unavailable(state);
    };
    let passkeys: Vec<PasskeyView> = devices
        .iter()
        .map(|d| PasskeyView {
            id: d.device_id.to_string(),
            name: d.name.clone(),
            kind: if d.backup_eligible {
                "Synced passkey"
            } else {
                "Passkey on one device"
            },
            provider: d.aaguid.and_then(crate::aaguid::provider_name),
            created: day(d.created_at),
            last_used: d.last_used_at.map_or_else(|| "never".to_owned(), day),
        })
        .collect();
    let sign_ins: Vec<SignInView> = history
        .iter()
        .map(|s| SignInView {
            when: day(s.signed_in_at),
            how: method_name(&s.amr),
            client: s
                .client_id
                .clone()
                .unwrap_or_else(|| "this account page".into()),
        })
        .collect();
    let mut ctx = tera::Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("csrf", &csrf_token(state, &user.auth.sid));
    ctx.insert("username", &user.account.username);
    ctx.insert("email", &user.account.email);
    ctx.insert("passkeys", &passkeys);
    ctx.insert("has_password", &has_password);
    ctx.insert("sign_ins", &sign_ins);
    ctx.insert("recent", &user.is_recent(Utc::now()));
    ctx.insert("can_add", &state.passkeys.is_some());
    ctx.insert("error", &error);
    render(state, status, "account.html", &ctx)
}

#[derive(Deserialize)]
struct SignInQuery {
    again: Option<String>,
}

/// `GET /account/sign-in`: a sign-in (a fresh one with `?again=1`) that comes back here.
async fn sign_in(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    query: web::Query<SignInQuery>,
) -> HttpResponse {
    let Ok((browser, new_cookie)) = cookies::browser(&req, state.secure_cookies) else {
        return unavailable(&state);
    };
    let policy = Policy {
        force: query.again.is_some(),
        audience_name: Some("your account".into()),
        ..Policy::default()
    };
    let started = flow::start(
        &state.store,
        &policy,
        format!("{}/account?signed-in=", state.base_path),
        serde_json::Value::Null,
        (
            &browser,
            client_address(&req, &state.limits.trusted_proxies),
        ),
        state.limits.sign_ins_per_address,
        Utc::now(),
    )
    .await;
    let flow_id = match started {
        Ok(flow::Started::Flow(id)) => id,
        Ok(flow::Started::TooMany { retry_after }) => {
            return too_many_sign_ins(&state, retry_after);
        }
        Err(_) => return unavailable(&state),
    };
    let mut response = see_other(&format!("{}/login?flow={flow_id}", state.base_path));
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The answer when the client's address has started too many sign-ins.
fn too_many_sign_ins(state: &AuthnState, after: std::time::Duration) -> HttpResponse {
    let text = format!(
        "Too many sign-ins were started from your network. {}",
        try_again_in(after)
    );
    let page = message(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many sign-ins",
        &text,
    );
    retry_after(page, after)
}

#[derive(Deserialize)]
struct DeviceForm {
    csrf: String,
    device: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    confirm: String,
    /// `yes`: also sign out everywhere else (deleting a lost device's passkey).
    #[serde(default)]
    everywhere: String,
}

impl DeviceForm {
    fn device_id(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.device).ok()
    }
}

/// `POST /account/passkeys/rename`.
async fn rename(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<DeviceForm>,
) -> HttpResponse {
    let user = match poster(&state, &req, &input.csrf).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let name: String = input
        .name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>()
        .trim()
        .to_owned();
    let (Some(device_id), false) = (input.device_id(), name.is_empty()) else {
        let error = (StatusCode::BAD_REQUEST, Some("Give the passkey a name."));
        return account_page(&state, &user, error).await;
    };
    let account_id = user.account.account_id;
    let renamed = state
        .store
        .run(move |conn| tessera_store::passkeys::rename_device(conn, account_id, device_id, &name))
        .await;
    match renamed {
        Ok(true) => see_other(&format!("{}/account", state.base_path)),
        Ok(false) => {
            let error = (
                StatusCode::NOT_FOUND,
                Some("That passkey is not on your account."),
            );
            account_page(&state, &user, error).await
        }
        Err(_) => unavailable(&state),
    }
}

/// `POST /account/passkeys/delete`: the last way to sign in goes only with `confirm=yes`.
async fn delete(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<DeviceForm>,
) -> HttpResponse {
    let user = match recent_poster(&state, &req, &input.csrf).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Some(device_id) = input.device_id() else {
        let error = (
            StatusCode::BAD_REQUEST,
            Some("That passkey is not on your account."),
        );
        return account_page(&state, &user, error).await;
    };
    let account_id = user.account.account_id;
    let confirmed = input.confirm == "yes";
    let now = Utc::now();
    let deleted = state
        .store
        .run(move |conn| {
            tessera_store::passkeys::delete_device(conn, account_id, device_id, confirmed, now)
        })
        .await;
    match deleted {
        Ok(Deletion::Deleted) => {
            tracing::info!("a passkey was deleted from its account page");
            if input.everywhere == "yes"
                && end_other_sessions(&state, &req, account_id).await.is_err()
            {
                return unavailable(&state);
            }
            see_other(&format!("{}/account", state.base_path))
        }
        Ok(Deletion::NotFound) => {
            let error = (
                StatusCode::NOT_FOUND,
                Some("That passkey is not on your account."),
            );
            account_page(&state, &user, error).await
        }
        Ok(Deletion::LastWay(name)) => {
            let mut ctx = tera::Context::new();
            ctx.insert("base", &state.base_path);
            ctx.insert("csrf", &input.csrf);
            ctx.insert("device", &device_id.to_string());
            ctx.insert("name", &name);
            ctx.insert("email", &user.account.email);
            render(&state, StatusCode::OK, "account_delete.html", &ctx)
        }
        Err(_) => unavailable(&state),
    }
}

fn sign_in_again(state: &AuthnState) -> HttpResponse {
    let mut ctx = tera::Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("title", "Sign in again");
    ctx.insert(
        "message",
        "For your security, adding or deleting a passkey needs a sign-in from the last few minutes.",
    );
    ctx.insert(
        "continue_to",
        &format!("{}/account/sign-in?again=1", state.base_path),
    );
    ctx.insert("continue_label", "Sign in again");
    render(state, StatusCode::FORBIDDEN, "message.html", &ctx)
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// `POST /account/passkeys/new`: the page that creates another passkey.
async fn new_passkey(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<CsrfForm>,
) -> HttpResponse {
    let user = match recent_poster(&state, &req, &input.csrf).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let Some(passkeys) = &state.passkeys else {
        let error = (
            StatusCode::CONFLICT,
            Some("Passkeys are not available on this server."),
        );
        return account_page(&state, &user, error).await;
    };
    let begun = passkeys
        .begin_registration(
            &state.store,
            Registrant::Account(&user.account),
            (None, serde_json::Value::Null),
            Utc::now(),
        )
        .await;
    let Ok((ceremony, options)) = begun else {
        return unavailable(&state);
    };
    let mut ctx = tera::Context::new();
    ctx.insert("base", &state.base_path);
    ctx.insert("flow", "");
    ctx.insert("csrf", &input.csrf);
    ctx.insert("username", &user.account.username);
    ctx.insert("ceremony", &ceremony.to_string());
    ctx.insert("options", &script_json(&options));
    ctx.insert("proved", "Add a passkey to your account.");
    ctx.insert("register_action", "/account/passkeys/register");
    ctx.insert("error", &None::<String>);
    render(&state, StatusCode::OK, "passkey_register.html", &ctx)
}

#[derive(Deserialize)]
struct RegisterForm {
    csrf: String,
    ceremony: String,
    credential: String,
    #[serde(default)]
    name: String,
}

/// `POST /account/passkeys/register`: stores the new passkey (begun for this account, by a
/// recent sign-in).
async fn register(
    state: web::Data<AuthnState>,
    req: HttpRequest,
    input: web::Form<RegisterForm>,
) -> HttpResponse {
    let user = match recent_poster(&state, &req, &input.csrf).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let (Some(passkeys), Ok(ceremony), Ok(credential)) = (
        &state.passkeys,
        Uuid::parse_str(&input.ceremony),
        serde_json::from_str::<RegisterPublicKeyCredential>(&input.credential),
    ) else {
        let error = (
            StatusCode::BAD_REQUEST,
            Some("The new passkey was not understood. Try again."),
        );
        return account_page(&state, &user, error).await;
    };
    let finished = passkeys
        .finish_registration(
            &state.store,
            (ceremony, None, Some(user.account.account_id)),
            &credential,
            &input.name,
            Utc::now(),
        )
        .await;
    match finished {
        Ok(_) => see_other(&format!("{}/account", state.base_path)),
        Err(e) => {
            tracing::info!(error = %e, "passkey registration refused on the account page");
            let error = (
                StatusCode::BAD_REQUEST,
                Some("The passkey could not be added. Try again."),
            );
            account_page(&state, &user, error).await
        }
    }
}
