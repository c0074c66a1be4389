//! PATCH (RFC 7644 §3.5.2) applied to a resource document: the resource as JSON with canonical
//! attribute names, extensions under their URN. The result is then read back into the typed
//! resource like any other document, so PATCH validates exactly as PUT does.

use serde_json::{Map, Value};

use crate::error::ScimError;
use crate::filter::{self, Expr, PatchPath};
use crate::schema::{self, Attribute, Mutability, ResourceSchema, Type};

/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// add
    Add,
    /// replace
    Replace,
    /// remove
    Remove,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Operation {
    /// What it does.
    pub kind: OpKind,
    /// Where, when it says.
    pub path: Option<PatchPath>,
    /// With what.
    pub value: Option<Value>,
}

fn member<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// Reads a PatchOp request body.
pub fn operations(body: &Value) -> Result<Vec<Operation>, ScimError> {
    let syntax = |detail: &str| ScimError::InvalidSyntax(detail.to_owned());
    let object = body
        .as_object()
        .ok_or_else(|| syntax("A PatchOp is a JSON object."))?;
    let schemas = member(object, "schemas").and_then(Value::as_array);
    if !schemas.is_some_and(|s| s.iter().any(|s| s == schema::PATCH_OP)) {
        return Err(syntax(&format!(
            "A PatchOp names the schema {}.",
            schema::PATCH_OP
        )));
    }
    let list = member(object, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| syntax("A PatchOp has an Operations list."))?;
    if list.len() > MAX_OPERATIONS {
        return Err(ScimError::TooMany(format!(
            "At most {MAX_OPERATIONS} operations per PATCH."
        )));
    }
    list.iter()
        .map(|operation| {
            let operation = operation
                .as_object()
                .ok_or_else(|| syntax("Each operation is a JSON object."))?;
            let kind = match member(operation, "op").and_then(Value::as_str) {
                Some(op) if op.eq_ignore_ascii_case("add") => OpKind::Add,
                Some(op) if op.eq_ignore_ascii_case("replace") => OpKind::Replace,
                Some(op) if op.eq_ignore_ascii_case("remove") => OpKind::Remove,
                _ => return Err(syntax("Each operation's op is add, replace or remove.")),
            };
            let path = match member(operation, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(path)) => Some(
                    filter::parse_patch_path(path)
                        .map_err(|e| ScimError::InvalidPath(format!("Invalid path: {}", e.0)))?,
                ),
                Some(_) => return Err(syntax("An operation's path is a string.")),
            };
            let value = member(operation, "value").cloned();
            if kind == OpKind::Remove && path.is_none() {
                return Err(ScimError::NoTarget(
                    "A remove operation needs a path.".into(),
                ));
            }
            if kind != OpKind::Remove && value.is_none() {
                return Err(ScimError::InvalidValue(
                    "An add or replace operation needs a value.".into(),
                ));
            }
            Ok(Operation { kind, path, value })
        })
        .collect()
}

/// Applies `operations` to `doc` in order.
pub fn apply(
    doc: &mut Map<String, Value>,
    schema: &ResourceSchema,
    operations: &[Operation],
) -> Result<(), ScimError> {
    for operation in operations {
        match &operation.path {
            Some(path) => apply_at(doc, schema, operation.kind, path, operation.value.clone())?,
            None => apply_object(doc, schema, operation.kind, operation.value.clone())?,
        }
    }
    Ok(())
}

/// An add or replace without a path: the value is an object of attributes (and extensions).
fn apply_object(
    doc: &mut Map<String, Value>,
    schema: &ResourceSchema,
    kind: OpKind,
    value: Option<Value>,
) -> Result<(), ScimError> {
    let Some(Value::Object(object)) = value else {
        return Err(ScimError::InvalidValue(
            "Without a path, the value is an object of attributes.".into(),
        ));
    };
    for (key, value) in object {
        if let Some(urn) = schema.extension(&key) {
            let Value::Object(inner) = value else {
                return Err(ScimError::InvalidValue(format!("{urn} holds an object.")));
            };
            // Some clients send an extension object with its own `schemas`.
            for (name, value) in inner
                .into_iter()
                .filter(|(name, _)| !name.eq_ignore_ascii_case("schemas"))
            {
                let path = filter::AttrPath {
                    schema: Some(urn.to_owned()),
                    attribute: name,
                    sub: None,
                };
                let target = PatchPath { path, values: None };
                apply_at(doc, schema, kind, &target, Some(value))?;
            }
            continue;
        }
        let path = filter::attr_path(&key).map_err(|e| ScimError::InvalidValue(e.0))?;
        apply_at(
            doc,
            schema,
            kind,
            &PatchPath { path, values: None },
            Some(value),
        )?;
    }
    Ok(())
}

fn container<'a>(
    doc: &'a mut Map<String, Value>,
    extension: Option<&str>,
) -> Result<&'a mut Map<String, Value>, ScimError> {
    let Some(urn) = extension else { return Ok(doc) };
    doc.entry(urn.to_owned())
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ScimError::InvalidValue(format!("{urn} holds an object.")))
}

fn apply_at(
    doc: &mut Map<String, Value>,
    schema: &ResourceSchema,
    kind: OpKind,
    target: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimError> {
    if let Some(urn) = whole_extension(schema, target) {
        return match kind {
            OpKind::Remove => {
                remove_extension(doc, schema, urn);
                Ok(())
            }
            _ => apply_object(
                doc,
                schema,
                kind,
                Some(Value::Object(Map::from_iter([(
                    urn.to_owned(),
                    value.unwrap_or(Value::Null),
                )]))),
            ),
        };
    }
    let resolved = schema.resolve(&target.path).ok_or_else(|| {
        ScimError::InvalidPath(format!(
            "{} has no attribute {}",
            schema.name,
            describe(&target.path)
        ))
    })?;
    let attribute = resolved.attribute;
    let read_only = attribute.mutability == Mutability::ReadOnly
        || resolved
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly);
    let removing_values = kind == OpKind::Remove && target.values.is_some();
    if read_only && !(attribute.removable && removing_values && resolved.sub.is_none()) {
        return Err(ScimError::Mutability(format!(
            "{} is read-only.",
            describe(&target.path)
        )));
    }
    if target.values.is_some() && !attribute.multi_valued {
        return Err(ScimError::InvalidPath(format!(
            "{} is not multi-valued; it takes no value filter.",
            attribute.name
        )));
    }
    let map = container(doc, resolved.extension)?;
    let name = attribute.name;
    match (kind, value) {
        (OpKind::Remove, Some(value)) if attribute.multi_valued && target.values.is_none() => {
            // Microsoft Entra ID removes group members as `remove members` with the members
            // as the value: only those go.
            let values = normalize(attribute, value)?;
            remove_listed(map, attribute.name, &values);
            Ok(())
        }
        (OpKind::Remove, _) => {
            remove(map, attribute, resolved.sub, target.values.as_ref());
            Ok(())
        }
        (_, None) => Err(ScimError::InvalidValue(
            "The operation needs a value.".into(),
        )),
        (kind, Some(value)) => match (&target.values, resolved.sub) {
            (Some(filter), sub) => replace_matching(map, attribute, sub, filter, value),
            (None, Some(sub)) => {
                set_sub(map, attribute, sub, kind, value);
                Ok(())
            }
            (None, None) => {
                let value = normalize(attribute, value)?;
                match (attribute.kind, attribute.multi_valued, kind) {
                    (_, true, OpKind::Add) => add_values(map, name, value),
                    (Type::Complex, false, _) => merge_complex(map, name, value),
                    _ => {
                        map.insert(name.to_owned(), value);
                    }
                }
                Ok(())
            }
        },
    }
}

/// The extension a path names as a whole (`urn:…:User` parses as schema `urn:…` and
/// attribute `User`).
fn whole_extension(schema: &ResourceSchema, target: &PatchPath) -> Option<&'static str> {
    let path = &target.path;
    if path.sub.is_some() || target.values.is_some() {
        return None;
    }
    let urn = format!("{}:{}", path.schema.as_deref()?, path.attribute);
    schema.extension(&urn)
}

/// Removes what a client may remove of an extension: its writable attributes.
fn remove_extension(doc: &mut Map<String, Value>, schema: &ResourceSchema, urn: &str) {
    let Some((_, attributes)) = schema.extensions.iter().find(|(known, _)| *known == urn) else {
        return;
    };
    if let Some(Value::Object(extension)) = doc.get_mut(urn) {
        extension.retain(|name, _| {
            schema::find(attributes, name)
                .is_some_and(|attribute| attribute.mutability == Mutability::ReadOnly)
        });
        if extension.is_empty() {
            doc.remove(urn);
        }
    }
}

fn describe(path: &filter::AttrPath) -> String {
    match &path.sub {
        Some(sub) => format!("{}.{sub}", path.attribute),
        None => path.attribute.clone(),
    }
}

/// Names of sub-attributes some clients send that Tessera derives itself.
const DERIVED_SUB_ATTRIBUTES: &[&str] = &["display"];

/// A value with canonical names for the attribute: a complex value's sub-attributes renamed
/// (unknown ones refused), a single complex value made a list for a multi-valued attribute.
pub fn normalize(attribute: &Attribute, value: Value) -> Result<Value, ScimError> {
    if attribute.kind != Type::Complex {
        return match (attribute.multi_valued, value) {
            (true, Value::Array(values)) => Ok(Value::Array(values)),
            (true, single) => Ok(Value::Array(vec![single])),
            (false, value) => Ok(value),
        };
    }
    let one = |value: Value| -> Result<Value, ScimError> {
        let Value::Object(object) = value else {
            return Err(ScimError::InvalidValue(format!(
                "Each value of {} is an object.",
                attribute.name
            )));
        };
        let mut out = Map::new();
        for (key, value) in object {
            if DERIVED_SUB_ATTRIBUTES
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&key))
            {
                continue;
            }
            let sub = schema::find(attribute.sub, &key).ok_or_else(|| {
                ScimError::InvalidValue(format!("{} has no sub-attribute {key}.", attribute.name))
            })?;
            if !value.is_null() {
                out.insert(sub.name.to_owned(), value);
            }
        }
        Ok(Value::Object(out))
    };
    match (attribute.multi_valued, value) {
        (true, Value::Array(values)) => values
            .into_iter()
            .map(one)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (true, Value::Null) => Ok(Value::Array(Vec::new())),
        (true, single) => Ok(Value::Array(vec![one(single)?])),
        (false, value) => one(value),
    }
}

fn add_values(map: &mut Map<String, Value>, name: &str, value: Value) {
    let Value::Array(new) = value else { return };
    let slot = map
        .entry(name.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    if let Value::Array(existing) = slot {
        for value in new {
            if !existing.contains(&value) {
                existing.push(value);
            }
        }
    }
}

fn merge_complex(map: &mut Map<String, Value>, name: &str, value: Value) {
    let Value::Object(new) = value else { return };
    let slot = map
        .entry(name.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(existing) = slot {
        existing.extend(new);
    }
}

fn set_sub(
    map: &mut Map<String, Value>,
    attribute: &Attribute,
    sub: &Attribute,
    kind: OpKind,
    value: Value,
) {
    if attribute.multi_valued {
        let slot = map
            .entry(attribute.name.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = slot {
            if values.is_empty() && kind == OpKind::Add {
                values.push(Value::Object(Map::new()));
            }
            for element in values.iter_mut() {
                if let Value::Object(element) = element {
                    element.insert(sub.name.to_owned(), value.clone());
                }
            }
        }
    } else {
        merge_complex(
            map,
            attribute.name,
            Value::Object(Map::from_iter([(sub.name.to_owned(), value)])),
        );
    }
}

fn replace_matching(
    map: &mut Map<String, Value>,
    attribute: &Attribute,
    sub: Option<&Attribute>,
    filter: &Expr,
    value: Value,
) -> Result<(), ScimError> {
    let replacement = match sub {
        Some(sub) => Map::from_iter([(sub.name.to_owned(), value)]),
        None => match normalize(&single(attribute), value)? {
            Value::Object(object) => object,
            _ => Map::new(),
        },
    };
    let mut matched = false;
    if let Some(Value::Array(values)) = map.get_mut(attribute.name) {
        for element in values.iter_mut() {
            if let Value::Object(element) = element
                && filter::matches(filter, element)
            {
                element.extend(replacement.clone());
                matched = true;
            }
        }
    }
    if matched {
        Ok(())
    } else {
        Err(ScimError::NoTarget(format!(
            "No value of {} matches the path's filter.",
            attribute.name
        )))
    }
}

/// The attribute as if it held one value (to normalize one element of a list).
fn single(attribute: &Attribute) -> Attribute {
    Attribute {
        multi_valued: false,
        ..*attribute
    }
}

/// Removes the values `listed` names from a multi-valued attribute: complex values by their
/// `value` sub-attribute when they have one, others when equal.
fn remove_listed(map: &mut Map<String, Value>, name: &str, listed: &Value) {
    let Value::Array(listed) = listed else { return };
    let key = |v: &Value| v.get("value").cloned().unwrap_or_else(|| v.clone());
    let gone: Vec<Value> = listed.iter().map(key).collect();
    if let Some(Value::Array(values)) = map.get_mut(name) {
        values.retain(|v| !gone.contains(&key(v)));
        if values.is_empty() {
            map.remove(name);
        }
    }
}

fn remove(
    map: &mut Map<String, Value>,
    attribute: &Attribute,
    sub: Option<&Attribute>,
    filter: Option<&Expr>,
) {
    let name = attribute.name;
    match (map.get_mut(name), filter, sub) {
        (Some(Value::Array(values)), Some(filter), None) => {
            values.retain(|element| {
                !element
                    .as_object()
                    .is_some_and(|element| filter::matches(filter, element))
            });
        }
        (Some(Value::Array(values)), filter, Some(sub)) => {
            for element in values.iter_mut() {
                if let Value::Object(element) = element
                    && filter.is_none_or(|filter| filter::matches(filter, element))
                {
                    element.remove(sub.name);
                }
            }
        }
        (Some(Value::Object(object)), None, Some(sub)) => {
            object.remove(sub.name);
        }
        _ => {
            map.remove(name);
        }
    }
    let empty = match map.get(name) {
        Some(Value::Array(values)) => values.is_empty(),
        Some(Value::Object(object)) => object.is_empty(),
        _ => false,
    };
    if empty {
        map.remove(name);
    }
}
