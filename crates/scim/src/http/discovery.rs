//! `/ServiceProviderConfig`, `/ResourceTypes` and `/Schemas` (RFC 7644 §4): what Tessera's
//! SCIM offers, as scim2-tester and provisioning clients read it.

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::ScimState;
use super::access::Caller;
use super::wire;
use crate::error::ScimError;
use crate::schema::{self, GROUPS, ResourceSchema, USERS};

/// `GET /ServiceProviderConfig`.
pub async fn service_provider_config(_: Caller, state: web::Data<ScimState>) -> HttpResponse {
    wire::document(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/tessera-id/tessera/blob/main/docs/users.md",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": wire::MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "An access token from this issuer with the scim scope \
                            (client_credentials grant), or the admin token.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", state.base),
        },
    }))
}

fn resource_type(resource: &ResourceSchema, base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": resource.name,
        "name": resource.name,
        "endpoint": resource.endpoint,
        "schema": resource.core,
        "schemaExtensions": resource.extensions.iter().map(|(urn, _)| json!({
            "schema": urn,
            "required": false,
        })).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{base}/ResourceTypes/{}", resource.name),
        },
    })
}

/// `GET /ResourceTypes`.
pub async fn resource_types(_: Caller, state: web::Data<ScimState>) -> HttpResponse {
    let types = vec![
        resource_type(&USERS, &state.base),
        resource_type(&GROUPS, &state.base),
    ];
    let total = types.len() as i64;
    wire::document(crate::document::list_response(types, total, 1))
}

/// `GET /ResourceTypes/{id}`.
pub async fn resource_type_by_id(
    _: Caller,
    state: web::Data<ScimState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    [&USERS, &GROUPS]
        .into_iter()
        .find(|resource| resource.name.eq_ignore_ascii_case(&id))
        .map(|resource| wire::document(resource_type(resource, &state.base)))
        .ok_or_else(|| ScimError::NotFound(format!("No resource type {id}.")))
}

/// `GET /Schemas`.
pub async fn schemas(_: Caller, state: web::Data<ScimState>) -> HttpResponse {
    let schemas = schema::schemas(&state.base);
    let total = schemas.len() as i64;
    wire::document(crate::document::list_response(schemas, total, 1))
}

/// `GET /Schemas/{id}`.
pub async fn schema_by_id(
    _: Caller,
    state: web::Data<ScimState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ScimError> {
    schema::schemas(&state.base)
        .into_iter()
        .find(|schema| {
            schema["id"]
                .as_str()
                .is_some_and(|known| known.eq_ignore_ascii_case(&id))
        })
        .map(wire::document)
        .ok_or_else(|| ScimError::NotFound(format!("No schema {id}.")))
}
