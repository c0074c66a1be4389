//! What every SCIM endpoint shares on the wire: reading JSON bodies, `If-Match`, list
//! parameters, and answering with `application/scim+json`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::document::Projection;
use crate::error::{SCIM_JSON, ScimError};
use crate::schema::ResourceSchema;

/// The most resources one list response holds.
pub const MAX_PAGE: i64 = 1000;
/// How many a list response holds when the client does not say.
pub const DEFAULT_PAGE: i64 = 100;

/// A request body as JSON.
pub fn json_body(body: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::InvalidSyntax(format!("The body is not valid JSON: {e}.")))
}

/// Refuses the request when `If-Match` names another version than `current`.
pub fn check_if_match(req: &HttpRequest, current: &str) -> Result<(), ScimError> {
    let Some(wanted) = req.headers().get(header::IF_MATCH) else {
        return Ok(());
    };
    let wanted = wanted.to_str().unwrap_or_default();
    let strip = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
    let matches = wanted
        .split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == strip(current));
    if matches {
        Ok(())
    } else {
        Err(ScimError::PreconditionFailed)
    }
}

/// Whether the request carried `If-Match` (so a concurrent change is the client's to resolve).
pub fn has_if_match(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::IF_MATCH)
}

/// A resource answer with its version as the ETag.
pub fn resource(status: StatusCode, doc: Map<String, Value>) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_JSON));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    let meta = doc.get("meta");
    if let Some(version) = meta.and_then(|m| m.get("version")).and_then(Value::as_str) {
        response.insert_header((header::ETAG, version.to_owned()));
    }
    if status == StatusCode::CREATED
        && let Some(location) = meta.and_then(|m| m.get("location")).and_then(Value::as_str)
    {
        response.insert_header((header::LOCATION, location.to_owned()));
    }
    response.body(Value::Object(doc).to_string())
}

/// A JSON answer (lists, discovery documents).
pub fn document(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body.to_string())
}

/// A list response: one page of resources from `start_index`, and how many there are in all.
pub fn listed(start_index: i64, (resources, total): (Vec<Value>, i64)) -> HttpResponse {
    document(crate::document::list_response(
        resources,
        total,
        start_index,
    ))
}

/// The parameters of a list request, from the query or a `.search` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    #[serde(default, deserialize_with = "names")]
    attributes: Option<String>,
    #[serde(default, deserialize_with = "names")]
    excluded_attributes: Option<String>,
}

/// Attribute names, as a comma-separated string (query) or a list (`.search` body).
fn names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Names {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<Names>::deserialize(d)?.map(|names| match names {
        Names::One(one) => one,
        Names::Many(many) => many.join(","),
    }))
}

/// What a list request asks for, checked.
#[derive(Debug)]
pub struct Listing {
    /// Parsed filter.
    pub filter: Option<crate::filter::Expr>,
    /// 1-based index of the first result.
    pub start_index: i64,
    /// How many at most.
    pub count: i64,
    /// Sort attribute name.
    pub sort_by: Option<String>,
    /// Descending.
    pub descending: bool,
    /// Projection.
    pub projection: Projection,
}

impl ListParams {
    /// From the query string.
    pub fn from_query(req: &HttpRequest) -> Result<Self, ScimError> {
        actix_web::web::Query::<ListParams>::from_query(req.query_string())
            .map(actix_web::web::Query::into_inner)
            .map_err(|e| ScimError::InvalidValue(format!("Invalid list parameters: {e}.")))
    }

    /// From a `.search` body.
    pub fn from_search(body: &[u8]) -> Result<Self, ScimError> {
        serde_json::from_slice(body)
            .map_err(|e| ScimError::InvalidSyntax(format!("Invalid SearchRequest: {e}.")))
    }

    /// Checks the parameters against `schema`.
    pub fn check(&self, schema: &ResourceSchema) -> Result<Listing, ScimError> {
        self.listing(schema, true)
    }

    /// Checks the parameters against `schema`, ignoring attribute names it does not have (a
    /// search of every resource type names attributes of some).
    pub fn check_some(&self, schema: &ResourceSchema) -> Result<Listing, ScimError> {
        self.listing(schema, false)
    }

    fn listing(&self, schema: &ResourceSchema, strict: bool) -> Result<Listing, ScimError> {
        let filter = match self.filter.as_deref().map(str::trim) {
            Some(filter) if !filter.is_empty() => Some(crate::filter::parse(filter)?),
            _ => None,
        };
        let descending = match self.sort_order.as_deref() {
            None => false,
            Some(order) if order.eq_ignore_ascii_case("ascending") => false,
            Some(order) if order.eq_ignore_ascii_case("descending") => true,
            Some(order) => {
                return Err(ScimError::InvalidValue(format!(
                    "sortOrder is ascending or descending, not {order}."
                )));
            }
        };
        Ok(Listing {
            filter,
            start_index: self.start_index.unwrap_or(1).max(1),
            count: self.count.unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE),
            sort_by: self.sort_by.clone(),
            descending,
            projection: Projection::parse(
                schema,
                self.attributes.as_deref(),
                self.excluded_attributes.as_deref(),
                strict,
            )?,
        })
    }
}

/// The `attributes`/`excludedAttributes` of a single-resource request.
pub fn projection(req: &HttpRequest, schema: &ResourceSchema) -> Result<Projection, ScimError> {
    let params = ListParams::from_query(req)?;
    Projection::parse(
        schema,
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
        true,
    )
}

/// The resource id in a path; anything that is not one is a resource that does not exist.
pub fn resource_id(kind: &str, id: &str) -> Result<uuid::Uuid, ScimError> {
    uuid::Uuid::parse_str(id).map_err(|_| ScimError::NotFound(format!("No {kind} {id}.")))
}
