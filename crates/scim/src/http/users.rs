//! `/Users`: list and search, create, read, replace, patch, delete.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::{Map, Value};
use tessera_store::accounts::AccountRow;
use tessera_store::audit::{self, Entry};
use tessera_store::directory::{self, Removal, Search, Written};
use tessera_store::passkeys::DeviceRow;
use uuid::Uuid;

use super::ScimState;
use super::access::Caller;
use super::wire::{self, ListParams, Listing};
use crate::document;
use crate::error::ScimError;
use crate::patch;
use crate::schema::USERS;
use crate::user;

/// An account and its passkeys, as read.
type Loaded = (AccountRow, Vec<DeviceRow>);

async fn load(state: &ScimState, id: Uuid) -> Result<Loaded, ScimError> {
    state
        .store
        .run(move |conn| {
            let Some(row) = tessera_store::accounts::by_id(conn, id)? else {
                return Ok(None);
            };
            let devices = tessera_store::passkeys::devices_of(conn, id)?;
            Ok(Some((row, devices)))
        })
        .await?
        .ok_or_else(|| ScimError::NotFound(format!("No user {id}.")))
}

fn taken(which: directory::Taken) -> ScimError {
    ScimError::Uniqueness(
        match which {
            directory::Taken::Username => "Another user has this userName.",
            directory::Taken::Email => "Another user has this email address.",
            directory::Taken::LegacySubject => "Another user has this legacySubject.",
        }
        .into(),
    )
}

/// What a write came to, as the stored account or the refusal.
fn written(written: Written, id: Uuid) -> Result<AccountRow, ScimError> {
    match written {
        Written::Stored(row) => Ok(*row),
        Written::Taken(which) => Err(taken(which)),
        Written::NotFound => Err(ScimError::NotFound(format!("No user {id}."))),
        Written::Changed => Err(ScimError::PreconditionFailed),
    }
}

/// `GET /Users`.
pub async fn list(
    _: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let listing = ListParams::from_query(&req)?.check(&USERS)?;
    Ok(wire::listed(
        listing.start_index,
        page(&state, &listing).await?,
    ))
}

/// `POST /Users/.search`.
pub async fn search_post(
    _: Caller,
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let listing = ListParams::from_search(&body)?.check(&USERS)?;
    Ok(wire::listed(
        listing.start_index,
        page(&state, &listing).await?,
    ))
}

/// One page of users, as `listing` asks, and how many match in all.
pub(super) async fn page(
    state: &ScimState,
    listing: &Listing,
) -> Result<(Vec<Value>, i64), ScimError> {
    let query = Search {
        filter: listing
            .filter
            .as_ref()
            .map(user::search_filter)
            .transpose()?,
        sort_by: listing
            .sort_by
            .as_deref()
            .map(user::sort_attribute)
            .transpose()?,
        descending: listing.descending,
        offset: listing.start_index - 1,
        limit: listing.count,
    };
    let (rows, total) = state
        .store
        .run(move |conn| {
            let (rows, total) = directory::search(conn, &query)?;
            let ids: Vec<Uuid> = rows.iter().map(|row| row.account_id).collect();
            let devices = tessera_store::passkeys::devices_of_all(conn, &ids)?;
            let rows = rows
                .into_iter()
                .map(|row| {
                    let mine = devices
                        .iter()
                        .filter(|d| d.account_id == row.account_id)
                        .cloned()
                        .collect::<Vec<_>>();
                    (row, mine)
                })
                .collect::<Vec<_>>();
            Ok((rows, total))
        })
        .await?;
    let resources = rows
        .iter()
        .map(|(row, devices)| {
            Value::Object(
                listing
                    .projection
                    .apply(&USERS, user::render(row, devices, &state.base)),
            )
        })
        .collect();
    Ok((resources, total))
}

/// `POST /Users`.
pub async fn create(
    caller: Caller,
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let doc = document::from_body(&USERS, wire::json_body(&body)?)?;
    let profile = user::read(&doc, &Value::Object(Map::new()))?;
    let now = Utc::now();
    let actor = caller.actor();
    let stored = state
        .store
        .run(move |conn| {
            let create = |conn: &mut _| directory::create(conn, &profile, now);
            audit::recorded(conn, now, create, |written| match written {
                Written::Stored(row) => Some(Entry {
                    actor,
                    action: "user.created",
                    account_id: Some(row.account_id),
                    subject: row.username.clone(),
                    detail: String::new(),
                }),
                _ => None,
            })
        })
        .await?;
    let row = written(stored, Uuid::nil())?;
    tracing::info!(account = %row.account_id, "SCIM created a user");
    Ok(wire::resource(
        StatusCode::CREATED,
        user::render(&row, &[], &state.base),
    ))
}

/// `GET /Users/{id}`.
pub async fn read(
    _: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("user", &id)?;
    let projection = wire::projection(&req, &USERS)?;
    let (row, devices) = load(&state, id).await?;
    let doc = user::render(&row, &devices, &state.base);
    Ok(wire::resource(
        StatusCode::OK,
        projection.apply(&USERS, doc),
    ))
}

/// `PUT /Users/{id}`.
pub async fn replace(
    caller: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("user", &id)?;
    let body = wire::json_body(&body)?;
    let (current, _) = load(&state, id).await?;
    wire::check_if_match(&req, &document::version(current.updated_at))?;
    let schemas: Vec<String> = body
        .get("schemas")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let mut doc = document::from_body(&USERS, body)?;
    user::keep_unspoken(&mut doc, &current, &schemas);
    let profile = user::read(&doc, &current.attributes)?;
    store(&state, &caller, &current, profile, Vec::new()).await
}

/// `PATCH /Users/{id}`.
pub async fn modify(
    caller: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("user", &id)?;
    let operations = patch::operations(&wire::json_body(&body)?)?;
    let (current, devices) = load(&state, id).await?;
    wire::check_if_match(&req, &document::version(current.updated_at))?;
    let mut doc = user::render(&current, &devices, &state.base);
    let before = user::passkey_ids(&doc);
    patch::apply(&mut doc, &USERS, &operations)?;
    let after = user::passkey_ids(&doc);
    let removed: Vec<Uuid> = before
        .iter()
        .filter(|id| !after.contains(id))
        .filter_map(|id| Uuid::parse_str(id).ok())
        .collect();
    let profile = user::read(&doc, &current.attributes)?;
    store(&state, &caller, &current, profile, removed).await
}

/// Writes a replacement of `current` (at the version read), records it in the audit log, and
/// answers with the user as now stored.
async fn store(
    state: &ScimState,
    caller: &Caller,
    current: &AccountRow,
    profile: directory::Profile,
    remove_passkeys: Vec<Uuid>,
) -> Result<HttpResponse, ScimError> {
    let now = Utc::now();
    let (id, read) = (current.account_id, current.updated_at);
    let removed = remove_passkeys.len();
    let (action, detail) = user::changes(current, &profile, removed);
    let entry = Entry {
        actor: caller.actor(),
        action,
        account_id: Some(id),
        subject: profile.username.clone(),
        detail,
    };
    let stored = state
        .store
        .run(move |conn| {
            let replace = |conn: &mut _| {
                directory::replace(conn, id, &profile, &remove_passkeys, Some(read), now)
            };
            let written = audit::recorded(conn, now, replace, |written| {
                matches!(written, Written::Stored(_)).then_some(entry)
            })?;
            let devices = tessera_store::passkeys::devices_of(conn, id)?;
            Ok((written, devices))
        })
        .await?;
    let row = written(stored.0, id)?;
    tracing::info!(account = %id, passkeys_removed = removed, "SCIM changed a user");
    Ok(wire::resource(
        StatusCode::OK,
        user::render(&row, &stored.1, &state.base),
    ))
}

/// `DELETE /Users/{id}`.
pub async fn delete(
    caller: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("user", &id)?;
    let (current, _) = load(&state, id).await?;
    wire::check_if_match(&req, &document::version(current.updated_at))?;
    let read = wire::has_if_match(&req).then_some(current.updated_at);
    let entry = Entry {
        actor: caller.actor(),
        action: "user.deleted",
        account_id: Some(id),
        subject: current.username.clone(),
        detail: String::new(),
    };
    let now = Utc::now();
    match state
        .store
        .run(move |conn| {
            let delete = |conn: &mut _| directory::delete(conn, id, read);
            audit::recorded(conn, now, delete, |removal| {
                (*removal == Removal::Removed).then_some(entry)
            })
        })
        .await?
    {
        Removal::Removed => {
            tracing::info!(account = %id, "SCIM deleted a user");
            Ok(HttpResponse::NoContent().finish())
        }
        Removal::NotFound => Err(ScimError::NotFound(format!("No user {id}."))),
        Removal::Changed => Err(ScimError::PreconditionFailed),
    }
}
