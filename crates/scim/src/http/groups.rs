//! `/Groups`: list and search, create, read, replace, patch, delete.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use serde_json::Value;
use tessera_store::audit::{self, Entry};
use tessera_store::directory::{Removal, Search};
use tessera_store::groups::{self, Group, GroupProfile, GroupWritten};
use uuid::Uuid;

use super::ScimState;
use super::access::Caller;
use super::wire::{self, ListParams, Listing};
use crate::document;
use crate::error::ScimError;
use crate::group;
use crate::patch;
use crate::schema::GROUPS;

async fn load(state: &ScimState, id: Uuid) -> Result<Group, ScimError> {
    state
        .store
        .run(move |conn| groups::by_id(conn, id))
        .await?
        .ok_or_else(|| ScimError::NotFound(format!("No group {id}.")))
}

fn written(written: GroupWritten, id: Uuid) -> Result<Group, ScimError> {
    match written {
        GroupWritten::Stored(group) => Ok(*group),
        GroupWritten::NameTaken => Err(ScimError::Uniqueness(
            "Another group has this displayName.".into(),
        )),
        GroupWritten::UnknownMember => {
            Err(ScimError::InvalidValue("A member is not a user.".into()))
        }
        GroupWritten::NotFound => Err(ScimError::NotFound(format!("No group {id}."))),
        GroupWritten::Changed => Err(ScimError::PreconditionFailed),
    }
}

/// `GET /Groups`.
pub async fn list(
    _: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let listing = ListParams::from_query(&req)?.check(&GROUPS)?;
    Ok(wire::listed(
        listing.start_index,
        page(&state, &listing).await?,
    ))
}

/// `POST /Groups/.search`.
pub async fn search_post(
    _: Caller,
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let listing = ListParams::from_search(&body)?.check(&GROUPS)?;
    Ok(wire::listed(
        listing.start_index,
        page(&state, &listing).await?,
    ))
}

/// One page of groups, as `listing` asks, and how many match in all.
pub(super) async fn page(
    state: &ScimState,
    listing: &Listing,
) -> Result<(Vec<Value>, i64), ScimError> {
    let query = Search {
        filter: listing
            .filter
            .as_ref()
            .map(group::search_filter)
            .transpose()?,
        sort_by: listing
            .sort_by
            .as_deref()
            .map(group::sort_attribute)
            .transpose()?,
        descending: listing.descending,
        offset: listing.start_index - 1,
        limit: listing.count,
    };
    let (found, total) = state
        .store
        .run(move |conn| groups::search(conn, &query))
        .await?;
    let resources = found
        .iter()
        .map(|found| {
            Value::Object(
                listing
                    .projection
                    .apply(&GROUPS, group::render(found, &state.base)),
            )
        })
        .collect();
    Ok((resources, total))
}

/// The audit entry of a change to a group.
fn entry(caller: &Caller, action: &'static str, profile: &GroupProfile) -> Entry {
    Entry {
        actor: caller.actor(),
        action,
        account_id: None,
        subject: profile.display_name.clone(),
        detail: format!("{} member(s)", profile.members.len()),
    }
}

/// `POST /Groups`.
pub async fn create(
    caller: Caller,
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let doc = document::from_body(&GROUPS, wire::json_body(&body)?)?;
    let profile = group::read(&doc)?;
    let now = Utc::now();
    let entry = entry(&caller, "group.created", &profile);
    let stored = state
        .store
        .run(move |conn| {
            let create = |conn: &mut _| groups::create(conn, &profile, now);
            audit::recorded(conn, now, create, |written| {
                matches!(written, GroupWritten::Stored(_)).then_some(entry)
            })
        })
        .await?;
    let stored = written(stored, Uuid::nil())?;
    tracing::info!(group = %stored.row.group_id, "SCIM created a group");
    Ok(wire::resource(
        StatusCode::CREATED,
        group::render(&stored, &state.base),
    ))
}

/// `GET /Groups/{id}`.
pub async fn read(
    _: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("group", &id)?;
    let projection = wire::projection(&req, &GROUPS)?;
    let found = load(&state, id).await?;
    Ok(wire::resource(
        StatusCode::OK,
        projection.apply(&GROUPS, group::render(&found, &state.base)),
    ))
}

/// `PUT /Groups/{id}`.
pub async fn replace(
    caller: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("group", &id)?;
    let body = wire::json_body(&body)?;
    let current = load(&state, id).await?;
    wire::check_if_match(&req, &document::version(current.row.updated_at))?;
    let profile = group::read(&document::from_body(&GROUPS, body)?)?;
    store(&state, &caller, id, profile, current.row.updated_at).await
}

/// `PATCH /Groups/{id}`: members added and removed one by one, as provisioning clients do.
pub async fn modify(
    caller: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("group", &id)?;
    let operations = patch::operations(&wire::json_body(&body)?)?;
    let current = load(&state, id).await?;
    wire::check_if_match(&req, &document::version(current.row.updated_at))?;
    let mut doc = group::render(&current, &state.base);
    patch::apply(&mut doc, &GROUPS, &operations)?;
    let profile = group::read(&doc)?;
    store(&state, &caller, id, profile, current.row.updated_at).await
}

async fn store(
    state: &ScimState,
    caller: &Caller,
    id: Uuid,
    profile: GroupProfile,
    read: chrono::DateTime<Utc>,
) -> Result<HttpResponse, ScimError> {
    let now = Utc::now();
    let entry = entry(caller, "group.changed", &profile);
    let stored = state
        .store
        .run(move |conn| {
            let replace = |conn: &mut _| groups::replace(conn, id, &profile, Some(read), now);
            audit::recorded(conn, now, replace, |written| {
                matches!(written, GroupWritten::Stored(_)).then_some(entry)
            })
        })
        .await?;
    let stored = written(stored, id)?;
    tracing::info!(group = %id, "SCIM changed a group");
    Ok(wire::resource(
        StatusCode::OK,
        group::render(&stored, &state.base),
    ))
}

/// `DELETE /Groups/{id}`.
pub async fn delete(
    caller: Caller,
    state: web::Data<ScimState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    let id = wire::resource_id("group", &id)?;
    let current = load(&state, id).await?;
    wire::check_if_match(&req, &document::version(current.row.updated_at))?;
    let read = wire::has_if_match(&req).then_some(current.row.updated_at);
    let entry = Entry {
        actor: caller.actor(),
        action: "group.deleted",
        account_id: None,
        subject: current.row.display_name.clone(),
        detail: String::new(),
    };
    let now = Utc::now();
    match state
        .store
        .run(move |conn| {
            let delete = |conn: &mut _| groups::delete(conn, id, read);
            audit::recorded(conn, now, delete, |removal| {
                (*removal == Removal::Removed).then_some(entry)
            })
        })
        .await?
    {
        Removal::Removed => {
            tracing::info!(group = %id, "SCIM deleted a group");
            Ok(HttpResponse::NoContent().finish())
        }
        Removal::NotFound => Err(ScimError::NotFound(format!("No group {id}."))),
        Removal::Changed => Err(ScimError::PreconditionFailed),
    }
}
