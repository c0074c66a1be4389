//! Resource documents: a request body read into canonical attribute names, typed values read
//! out of a document, versions, and the `attributes`/`excludedAttributes` projection.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter;
use crate::patch;
use crate::schema::{self, Mutability, ResourceSchema};

/// The longest text value accepted, in characters.
pub const MAX_TEXT: usize = 1024;

/// A body read into a document: attribute names made canonical, values normalized, what the
/// server sets itself (`id`, `meta`, `schemas`, read-only attributes) left out, as RFC 7644
/// §3.5.1 says a replacement's read-only values are ignored.
pub fn from_body(schema: &ResourceSchema, body: Value) -> Result<Map<String, Value>, ScimError> {
    let Value::Object(body) = body else {
        return Err(ScimError::InvalidSyntax(
            "A resource is a JSON object.".into(),
        ));
    };
    let mut doc = Map::new();
    for (key, value) in body {
        if ["schemas", "id", "meta"]
            .iter()
            .any(|skip| skip.eq_ignore_ascii_case(&key))
        {
            continue;
        }
        if let Some(urn) = schema.extension(&key) {
            let Value::Object(inner) = value else {
                return Err(ScimError::InvalidValue(format!("{urn} holds an object.")));
            };
            let mut extension = Map::new();
            for (name, value) in inner
                .into_iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("schemas"))
            {
                let path = filter::AttrPath {
                    schema: Some(urn.to_owned()),
                    attribute: name.clone(),
                    sub: None,
                };
                put(schema, &mut extension, &path, value)?;
            }
            if !extension.is_empty() {
                doc.insert(urn.to_owned(), Value::Object(extension));
            }
            continue;
        }
        let path = filter::attr_path(&key).map_err(|e| ScimError::InvalidValue(e.0))?;
        put(schema, &mut doc, &path, value)?;
    }
    Ok(doc)
}

fn put(
    schema: &ResourceSchema,
    into: &mut Map<String, Value>,
    path: &filter::AttrPath,
    value: Value,
) -> Result<(), ScimError> {
    let resolved = schema.resolve(path).ok_or_else(|| {
        ScimError::InvalidValue(format!(
            "{} has no attribute {}.",
            schema.name, path.attribute
        ))
    })?;
    if resolved.attribute.mutability == Mutability::ReadOnly || value.is_null() {
        return Ok(());
    }
    let value = patch::normalize(resolved.attribute, value)?;
    into.insert(resolved.attribute.name.to_owned(), value);
    Ok(())
}

/// A text value of `doc` (absent or null: `None`), bounded in length.
pub fn text(doc: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() > MAX_TEXT => Err(
            ScimError::InvalidValue(format!("{name} is longer than {MAX_TEXT} characters.")),
        ),
        Some(Value::String(text)) if text.contains('\0') => Err(ScimError::InvalidValue(format!(
            "{name} contains a NUL character."
        ))),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(ScimError::InvalidValue(format!("{name} is a string."))),
    }
}

/// A boolean value of `doc`. The strings "true" and "false" (any case) are read as booleans:
/// Microsoft Entra ID sends `active` that way.
pub fn boolean(doc: &Map<String, Value>, name: &str) -> Result<Option<bool>, ScimError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(ScimError::InvalidValue(format!("{name} is true or false."))),
    }
}

/// An object value of `doc` (absent: empty).
pub fn object(doc: &Map<String, Value>, name: &str) -> Result<Map<String, Value>, ScimError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(object)) => Ok(object.clone()),
        Some(_) => Err(ScimError::InvalidValue(format!("{name} is an object."))),
    }
}

/// The list value of `doc` (absent: empty).
pub fn list(doc: &Map<String, Value>, name: &str) -> Result<Vec<Value>, ScimError> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(values)) => Ok(values.clone()),
        Some(_) => Err(ScimError::InvalidValue(format!("{name} is a list."))),
    }
}

/// A timestamp as SCIM writes it.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The version (weak ETag) of a resource last changed at `at`.
pub fn version(at: DateTime<Utc>) -> String {
    format!("W/\"{}\"", at.timestamp_micros())
}

/// A resource's `meta`.
pub fn meta(kind: &str, created: DateTime<Utc>, modified: DateTime<Utc>, location: &str) -> Value {
    serde_json::json!({
        "resourceType": kind,
        "created": timestamp(created),
        "lastModified": timestamp(modified),
        "location": location,
        "version": version(modified),
    })
}

/// Which attributes a response carries (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default)]
pub struct Projection {
    /// Only these (and `id`, `schemas`).
    pub attributes: Vec<filter::AttrPath>,
    /// All but these.
    pub excluded: Vec<filter::AttrPath>,
}

impl Projection {
    /// Reads the comma-separated `attributes` and `excludedAttributes` parameters; names the
    /// schema does not have are refused when `strict`, skipped otherwise.
    pub fn parse(
        schema: &ResourceSchema,
        attributes: Option<&str>,
        excluded: Option<&str>,
        strict: bool,
    ) -> Result<Self, ScimError> {
        let paths = |list: Option<&str>| -> Result<Vec<filter::AttrPath>, ScimError> {
            list.unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .filter_map(|name| {
                    let path = match filter::attr_path(name) {
                        Ok(path) => path,
                        Err(e) => {
                            return Some(Err(ScimError::InvalidValue(format!(
                                "Invalid attribute name: {}",
                                e.0
                            ))));
                        }
                    };
                    let known = path.attribute.eq_ignore_ascii_case("meta")
                        || schema.resolve(&path).is_some();
                    match (known, strict) {
                        (true, _) => Some(Ok(path)),
                        (false, false) => None,
                        (false, true) => Some(Err(ScimError::InvalidValue(format!(
                            "{} has no attribute {name}.",
                            schema.name
                        )))),
                    }
                })
                .collect()
        };
        Ok(Projection {
            attributes: paths(attributes)?,
            excluded: paths(excluded)?,
        })
    }

    /// `doc` with only what the projection asks for.
    pub fn apply(
        &self,
        schema: &ResourceSchema,
        mut doc: Map<String, Value>,
    ) -> Map<String, Value> {
        let slot = |path: &filter::AttrPath| -> (Option<&'static str>, String) {
            match schema.resolve(path) {
                Some(resolved) => (resolved.extension, resolved.attribute.name.to_owned()),
                None => (None, "meta".to_owned()),
            }
        };
        if !self.attributes.is_empty() {
            let mut kept = Map::new();
            for key in ["schemas", "id"] {
                if let Some(value) = doc.get(key) {
                    kept.insert(key.to_owned(), value.clone());
                }
            }
            for path in &self.attributes {
                let (extension, name) = slot(path);
                let source = match extension {
                    Some(urn) => doc.get(urn).and_then(Value::as_object),
                    None => Some(&doc),
                };
                let Some(value) = source.and_then(|source| source.get(&name)) else {
                    continue;
                };
                let value = match (&path.sub, value) {
                    (Some(sub), Value::Object(object)) => object
                        .iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case(sub))
                        .map(|(key, v)| Value::Object(Map::from_iter([(key.clone(), v.clone())]))),
                    _ => Some(value.clone()),
                };
                let Some(value) = value else { continue };
                let target = match extension {
                    Some(urn) => kept
                        .entry(urn.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()))
                        .as_object_mut(),
                    None => Some(&mut kept),
                };
                if let Some(target) = target {
                    match (target.get_mut(&name), value) {
                        (Some(Value::Object(existing)), Value::Object(more)) => {
                            existing.extend(more)
                        }
                        (_, value) => {
                            target.insert(name, value);
                        }
                    }
                }
            }
            doc = kept;
        }
        for path in &self.excluded {
            let (extension, name) = slot(path);
            let target = match extension {
                Some(urn) => doc.get_mut(urn).and_then(Value::as_object_mut),
                None => Some(&mut doc),
            };
            if let Some(target) = target
                && name != "id"
            {
                match (&path.sub, target.get_mut(&name)) {
                    (Some(sub), Some(Value::Object(object))) => {
                        object.retain(|key, _| !key.eq_ignore_ascii_case(sub));
                    }
                    _ => {
                        target.remove(&name);
                    }
                }
            }
        }
        doc
    }
}

/// The schemas a document names: the core one, and each extension it holds.
pub fn schemas_of(schema: &ResourceSchema, doc: &Map<String, Value>) -> Value {
    let mut schemas = vec![Value::from(schema.core)];
    for (urn, _) in schema.extensions {
        if doc
            .get(*urn)
            .and_then(Value::as_object)
            .is_some_and(|o| !o.is_empty())
        {
            schemas.push(Value::from(*urn));
        }
    }
    Value::Array(schemas)
}

/// The list response of `resources` (RFC 7644 §3.4.2).
pub fn list_response(resources: Vec<Value>, total: i64, start_index: i64) -> Value {
    serde_json::json!({
        "schemas": [schema::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}
