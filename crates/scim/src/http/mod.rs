//! The SCIM HTTP surface under `/scim/v2`: thin handlers over the documents, filters and
//! patches of the crate, every refusal a [`ScimError`] answered once as SCIM JSON.

mod access;
mod discovery;
mod groups;
mod users;
mod wire;

use actix_web::{HttpResponse, web};

pub use access::{Caller, SCIM_SCOPE};

use crate::error::ScimError;

/// Where SCIM is mounted.
pub const PREFIX: &str = "/scim/v2";

/// What the SCIM handlers share.
pub struct ScimState {
    /// The account directory.
    pub store: tessera_store::Store,
    /// The absolute URL of the SCIM root (for `meta.location` and `$ref`).
    pub base: String,
}

impl ScimState {
    /// The state for a server whose public origin is `origin` (`https://host[:port]`).
    pub fn new(store: tessera_store::Store, origin: &str) -> Self {
        ScimState {
            store,
            base: format!("{}{PREFIX}", origin.trim_end_matches('/')),
        }
    }
}

async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::NotFound("No such SCIM endpoint.".into()))
}

async fn method_not_allowed() -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::MethodNotAllowed)
}

/// `POST /.search` (RFC 7644 §3.4.3): users, then groups, paged as one list. A filter that
/// names attributes of one type only selects none of the other.
async fn search_everything(
    _: Caller,
    state: web::Data<ScimState>,
    body: web::Bytes,
) -> Result<HttpResponse, ScimError> {
    let params = wire::ListParams::from_search(&body)?;
    let users = params.check_some(&crate::schema::USERS)?;
    let mut groups = params.check_some(&crate::schema::GROUPS)?;
    let (start_index, count) = (users.start_index, users.count);
    // First the users' part of the page, then as many groups as still fit.
    let (found_users, users_total, users_filtered) = match users::page(&state, &users).await {
        Ok((found, total)) => (found, total, true),
        Err(ScimError::InvalidFilter(_) | ScimError::InvalidValue(_)) => (Vec::new(), 0, false),
        Err(e) => return Err(e),
    };
    groups.start_index = (start_index - users_total).max(1);
    groups.count = count - found_users.len() as i64;
    let (found_groups, groups_total) = match groups::page(&state, &groups).await {
        Ok(found) => found,
        Err(ScimError::InvalidFilter(_) | ScimError::InvalidValue(_)) if users_filtered => {
            (Vec::new(), 0)
        }
        Err(e) => return Err(e),
    };
    let mut resources = found_users;
    resources.extend(found_groups);
    Ok(wire::listed(
        start_index,
        (resources, users_total + groups_total),
    ))
}

/// A read-only discovery resource.
fn read_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(method_not_allowed))
}

/// Registers `/scim/v2`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX)
            .service(read_only(
                "/ServiceProviderConfig",
                discovery::service_provider_config,
            ))
            .service(read_only("/ResourceTypes", discovery::resource_types))
            .service(read_only(
                "/ResourceTypes/{id}",
                discovery::resource_type_by_id,
            ))
            .route("/.search", web::post().to(search_everything))
            .service(read_only("/Schemas", discovery::schemas))
            .service(read_only("/Schemas/{id:.+}", discovery::schema_by_id))
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .route("/Users/.search", web::post().to(users::search_post))
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::read))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::modify))
                    .route(web::delete().to(users::delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .route("/Groups/.search", web::post().to(groups::search_post))
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::read))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::modify))
                    .route(web::delete().to(groups::delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(not_found)),
    );
}
