//! The SCIM Group: a group and its members rendered as a document, a document read back into
//! a group profile, and Group filters translated into directory searches.

use serde_json::{Map, Value, json};
use tessera_store::directory::{Filter, Value as SearchValue};
use tessera_store::groups::{Group, GroupAttribute, GroupProfile};
use uuid::Uuid;

use crate::document::{self, list, text};
use crate::error::ScimError;
use crate::filter::{AttrPath, Expr, Literal};
use crate::schema::GROUPS;

/// The most members one write may name.
pub const MAX_MEMBERS: usize = 10_000;

/// A group rendered as a SCIM Group.
pub fn render(group: &Group, base: &str) -> Map<String, Value> {
    let row = &group.row;
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([crate::schema::GROUP]));
    doc.insert("id".into(), json!(row.group_id));
    if let Some(external_id) = &row.external_id {
        doc.insert("externalId".into(), json!(external_id));
    }
    doc.insert("displayName".into(), json!(row.display_name));
    if !group.members.is_empty() {
        let members: Vec<Value> = group
            .members
            .iter()
            .map(|member| {
                json!({
                    "value": member.account_id,
                    "$ref": format!("{base}/Users/{}", member.account_id),
                    "type": "User",
                })
            })
            .collect();
        doc.insert("members".into(), Value::Array(members));
    }
    let location = format!("{base}/Groups/{}", row.group_id);
    doc.insert(
        "meta".into(),
        document::meta("Group", row.created_at, row.updated_at, &location),
    );
    doc
}

/// Reads a Group document into a profile.
pub fn read(doc: &Map<String, Value>) -> Result<GroupProfile, ScimError> {
    let display_name = text(doc, "displayName")?
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ScimError::InvalidValue("displayName is required.".into()))?;
    let members = list(doc, "members")?;
    if members.len() > MAX_MEMBERS {
        return Err(ScimError::TooMany(format!(
            "At most {MAX_MEMBERS} members per request."
        )));
    }
    let members = members
        .iter()
        .map(|member| {
            let member = member
                .as_object()
                .ok_or_else(|| ScimError::InvalidValue("Each member is an object.".into()))?;
            if let Some(kind) = text(member, "type")?
                && !kind.eq_ignore_ascii_case("User")
            {
                return Err(ScimError::InvalidValue(format!(
                    "Members are users, not {kind}."
                )));
            }
            let value = text(member, "value")?
                .ok_or_else(|| ScimError::InvalidValue("A member needs a value.".into()))?;
            Uuid::parse_str(&value)
                .map_err(|_| ScimError::InvalidValue(format!("{value} is not the id of a user.")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GroupProfile {
        display_name,
        external_id: text(doc, "externalId")?,
        members,
    })
}

fn attribute(path: &AttrPath) -> Result<GroupAttribute, ScimError> {
    let unknown =
        || ScimError::InvalidFilter(format!("Groups cannot be filtered on {}.", path.attribute));
    if path.attribute.eq_ignore_ascii_case("meta") {
        return match path.sub.as_deref() {
            Some(sub) if sub.eq_ignore_ascii_case("lastModified") => {
                Ok(GroupAttribute::LastModified)
            }
            Some(sub) if sub.eq_ignore_ascii_case("created") => Ok(GroupAttribute::Created),
            _ => Err(unknown()),
        };
    }
    let resolved = GROUPS.resolve(path).ok_or_else(unknown)?;
    match (resolved.attribute.name, resolved.sub) {
        ("id", None) => Ok(GroupAttribute::Id),
        ("displayName", None) => Ok(GroupAttribute::DisplayName),
        ("externalId", None) => Ok(GroupAttribute::ExternalId),
        _ => Err(unknown()),
    }
}

/// A Group filter as a directory search filter.
pub fn search_filter(expr: &Expr) -> Result<Filter<GroupAttribute>, ScimError> {
    crate::filter::to_search(expr, &mut leaf)
}

fn leaf(expr: &Expr) -> Result<Filter<GroupAttribute>, ScimError> {
    Ok(match expr {
        Expr::And(..) | Expr::Or(..) | Expr::Not(..) => search_filter(expr)?,
        Expr::Present(path) => Filter::Present(attribute(path)?),
        Expr::Compare(path, op, literal) => {
            let attribute = attribute(path)?;
            let op = *op;
            let value = match (attribute, literal) {
                (GroupAttribute::Created | GroupAttribute::LastModified, Literal::Text(text)) => {
                    chrono::DateTime::parse_from_rfc3339(text)
                        .map(|at| SearchValue::Time(at.with_timezone(&chrono::Utc)))
                        .map_err(|_| {
                            ScimError::InvalidFilter(format!("\"{text}\" is not an xsd:dateTime."))
                        })?
                }
                (_, Literal::Text(text)) => SearchValue::Text(text.clone()),
                _ => {
                    return Err(ScimError::InvalidFilter(
                        "Group attributes are compared with strings.".into(),
                    ));
                }
            };
            Filter::Compare(attribute, op, value)
        }
        Expr::Has(..) => {
            return Err(ScimError::InvalidFilter(
                "Groups take no value filters.".into(),
            ));
        }
    })
}

/// The directory attribute `sortBy` names.
pub fn sort_attribute(name: &str) -> Result<GroupAttribute, ScimError> {
    let path = crate::filter::attr_path(name).map_err(|e| ScimError::InvalidValue(e.0))?;
    attribute(&path)
        .map_err(|_| ScimError::InvalidValue(format!("Groups cannot be sorted by {name}.")))
}
