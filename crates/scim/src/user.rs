//! The SCIM User: an account and its passkeys rendered as a document, a document read back
//! into an account profile, and User filters translated into directory searches.
//!
//! Where things are kept: `userName`, `emails[0].value`, `externalId`, `legacySubject` and
//! `active` (as `disabled_at`) in columns; names, the email's type and primary flag,
//! `emailVerified` and whether `active` was assigned in the account's attributes.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tessera_store::accounts::AccountRow;
use tessera_store::directory::{Attribute, Filter, Profile, Value as SearchValue};
use tessera_store::passkeys::DeviceRow;

use crate::document::{self, boolean, list, object, text};
use crate::error::ScimError;
use crate::filter::{AttrPath, Expr, Literal};
use crate::schema::{TESSERA_USER, USERS};

/// The profile attributes SCIM manages; any other attribute of an account is left alone.
const MANAGED: &[&str] = &[
    "given_name",
    "family_name",
    "name",
    "display_name",
    "email_type",
    "email_primary",
    "email_verified",
    "scim_active",
];

/// An account rendered as a SCIM User, with its passkeys.
pub fn render(row: &AccountRow, passkeys: &[DeviceRow], base: &str) -> Map<String, Value> {
    let attributes = row.attributes.as_object().cloned().unwrap_or_default();
    let attribute = |name: &str| attributes.get(name).filter(|v| !v.is_null()).cloned();
    let mut doc = Map::new();
    doc.insert("id".into(), json!(row.account_id));
    if let Some(external_id) = &row.external_id {
        doc.insert("externalId".into(), json!(external_id));
    }
    doc.insert("userName".into(), json!(row.username));
    let mut name = Map::new();
    for (key, from) in [
        ("formatted", "name"),
        ("familyName", "family_name"),
        ("givenName", "given_name"),
    ] {
        if let Some(value) = attribute(from) {
            name.insert(key.into(), value);
        }
    }
    if !name.is_empty() {
        doc.insert("name".into(), Value::Object(name));
    }
    if let Some(display_name) = attribute("display_name") {
        doc.insert("displayName".into(), display_name);
    }
    if let Some(email) = &row.email {
        let mut value = Map::from_iter([("value".to_owned(), json!(email))]);
        if let Some(kind) = attribute("email_type") {
            value.insert("type".into(), kind);
        }
        if let Some(primary) = attribute("email_primary") {
            value.insert("primary".into(), primary);
        }
        doc.insert("emails".into(), json!([value]));
    }
    // Whether `active` was assigned is remembered, so that a removed `active` reads back
    // unassigned (the account then signs in: absent means active).
    if row.disabled_at.is_some() {
        doc.insert("active".into(), json!(false));
    } else if attribute("scim_active").is_some() {
        doc.insert("active".into(), json!(true));
    }
    let mut extension = Map::new();
    if let Some(verified) = attribute("email_verified") {
        extension.insert("emailVerified".into(), verified);
    }
    if let Some(subject) = &row.legacy_subject {
        extension.insert("legacySubject".into(), json!(subject));
    }
    if !passkeys.is_empty() {
        extension.insert(
            "passkeys".into(),
            passkeys.iter().map(render_passkey).collect(),
        );
    }
    if !extension.is_empty() {
        doc.insert(TESSERA_USER.into(), Value::Object(extension));
    }
    doc.insert("schemas".into(), document::schemas_of(&USERS, &doc));
    let location = format!("{base}/Users/{}", row.account_id);
    doc.insert(
        "meta".into(),
        document::meta("User", row.created_at, row.updated_at, &location),
    );
    doc
}

fn render_passkey(device: &DeviceRow) -> Value {
    let mut out = json!({
        "id": device.device_id,
        "name": device.name,
        "created": document::timestamp(device.created_at),
    });
    if let Some(provider) = device.aaguid.and_then(tessera_authn::aaguid::provider_name) {
        out["provider"] = json!(provider);
    }
    if let Some(used) = device.last_used_at {
        out["lastUsed"] = json!(document::timestamp(used));
    }
    out
}

/// What a write changes, for the audit log: the action and which attributes.
pub fn changes(
    before: &AccountRow,
    after: &Profile,
    passkeys_removed: usize,
) -> (&'static str, String) {
    let mut changed = Vec::new();
    if before.username != after.username {
        changed.push(format!("userName {} → {}", before.username, after.username));
    }
    if before.email != after.email {
        changed.push("emails".to_owned());
    }
    if before.external_id != after.external_id {
        changed.push("externalId".to_owned());
    }
    if before.legacy_subject != after.legacy_subject {
        changed.push("legacySubject".to_owned());
    }
    let managed = |attributes: &Value| {
        let mut kept = attributes.as_object().cloned().unwrap_or_default();
        kept.retain(|key, _| MANAGED.contains(&key.as_str()) && key != "scim_active");
        kept
    };
    if managed(&before.attributes) != managed(&after.attributes) {
        changed.push("profile".to_owned());
    }
    if passkeys_removed > 0 {
        changed.push(format!("{passkeys_removed} passkey(s) removed"));
    }
    let was_active = before.disabled_at.is_none();
    let action = match (was_active, after.active) {
        (true, false) => "user.disabled",
        (false, true) => "user.enabled",
        _ if passkeys_removed > 0 => "passkey.removed",
        _ => "user.changed",
    };
    (action, changed.join("; "))
}

/// What a replacement (PUT) keeps that its client did not speak of: Tessera's extension when
/// the body does not name its schema (most provisioning clients do not know it, and must not
/// clear a legacy subject by not knowing it), and a disabled account's state when the body
/// has no `active`.
pub fn keep_unspoken(doc: &mut Map<String, Value>, current: &AccountRow, body_schemas: &[String]) {
    let speaks_extension = body_schemas
        .iter()
        .any(|schema| schema.eq_ignore_ascii_case(TESSERA_USER));
    if !speaks_extension {
        let mut current_doc = render(current, &[], "");
        match current_doc.remove(TESSERA_USER) {
            Some(extension) => doc.insert(TESSERA_USER.into(), extension),
            None => doc.remove(TESSERA_USER),
        };
    }
    if !doc.contains_key("active") && current.disabled_at.is_some() {
        doc.insert("active".into(), Value::Bool(false));
    }
}

/// The passkey ids a User document lists.
pub fn passkey_ids(doc: &Map<String, Value>) -> Vec<String> {
    doc.get(TESSERA_USER)
        .and_then(|extension| extension.get("passkeys"))
        .and_then(Value::as_array)
        .map(|passkeys| {
            passkeys
                .iter()
                .filter_map(|p| p.get("id").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a User document into a profile, keeping the attributes SCIM does not manage from
/// `unmanaged` (the account's current attributes).
pub fn read(doc: &Map<String, Value>, unmanaged: &Value) -> Result<Profile, ScimError> {
    let username = text(doc, "userName")?
        .ok_or_else(|| ScimError::InvalidValue("userName is required.".into()))?;
    tessera_authn::accounts::check_username(&username)
        .map_err(|e| ScimError::InvalidValue(format!("userName: {e}.")))?;
    let mut attributes = unmanaged.as_object().cloned().unwrap_or_default();
    attributes.retain(|key, _| !MANAGED.contains(&key.as_str()));
    let mut keep = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            attributes.insert(key.to_owned(), value);
        }
    };
    let name = object(doc, "name")?;
    keep("name", text(&name, "formatted")?.map(Value::from));
    keep("family_name", text(&name, "familyName")?.map(Value::from));
    keep("given_name", text(&name, "givenName")?.map(Value::from));
    keep("display_name", text(doc, "displayName")?.map(Value::from));
    let emails = list(doc, "emails")?;
    let email = match emails.as_slice() {
        [] => None,
        [one] => Some(
            one.as_object()
                .ok_or_else(|| ScimError::InvalidValue("Each email is an object.".into()))?,
        ),
        _ => {
            return Err(ScimError::InvalidValue(
                "Tessera keeps one email address per user.".into(),
            ));
        }
    };
    let address = match email {
        Some(email) => {
            let address = text(email, "value")?
                .ok_or_else(|| ScimError::InvalidValue("An email needs a value.".into()))?;
            tessera_authn::accounts::check_email(&address)
                .map_err(|e| ScimError::InvalidValue(format!("emails: {e}.")))?;
            keep("email_type", text(email, "type")?.map(Value::from));
            keep("email_primary", boolean(email, "primary")?.map(Value::from));
            Some(address)
        }
        None => None,
    };
    let active = boolean(doc, "active")?;
    keep("scim_active", active.map(|_| Value::Bool(true)));
    let extension = object(doc, TESSERA_USER)?;
    keep(
        "email_verified",
        boolean(&extension, "emailVerified")?.map(Value::from),
    );
    let legacy_subject = text(&extension, "legacySubject")?;
    if let Some(subject) = &legacy_subject {
        tessera_authn::accounts::check_legacy_subject(subject)
            .map_err(|e| ScimError::InvalidValue(format!("legacySubject: {e}.")))?;
    }
    Ok(Profile {
        username,
        email: address,
        external_id: text(doc, "externalId")?,
        legacy_subject,
        attributes: Value::Object(attributes),
        active: active.unwrap_or(true),
    })
}

/// The directory attribute a User filter path names.
fn attribute(path: &AttrPath, within: Option<&str>) -> Result<Attribute, ScimError> {
    let unknown = || {
        ScimError::InvalidFilter(format!(
            "Users cannot be filtered on {}{}.",
            path.attribute,
            path.sub
                .as_deref()
                .map(|s| format!(".{s}"))
                .unwrap_or_default()
        ))
    };
    if path.attribute.eq_ignore_ascii_case("meta") {
        return match path.sub.as_deref() {
            Some(sub) if sub.eq_ignore_ascii_case("lastModified") => Ok(Attribute::LastModified),
            Some(sub) if sub.eq_ignore_ascii_case("created") => Ok(Attribute::Created),
            _ => Err(unknown()),
        };
    }
    // Inside a value filter (`emails[value eq "…"]`) a path names a sub-attribute.
    let full = match within {
        Some(outer) => AttrPath {
            schema: None,
            attribute: outer.to_owned(),
            sub: Some(path.attribute.clone()),
        },
        None => path.clone(),
    };
    let resolved = USERS.resolve(&full).ok_or_else(unknown)?;
    Ok(
        match (resolved.attribute.name, resolved.sub.map(|s| s.name)) {
            ("id", None) => Attribute::Id,
            ("userName", None) => Attribute::UserName,
            ("externalId", None) => Attribute::ExternalId,
            ("displayName", None) => Attribute::DisplayName,
            ("active", None) => Attribute::Active,
            ("legacySubject", None) => Attribute::LegacySubject,
            ("emails", None | Some("value")) => Attribute::Email,
            ("name", Some("givenName")) => Attribute::GivenName,
            ("name", Some("familyName")) => Attribute::FamilyName,
            ("name", Some("formatted")) => Attribute::FormattedName,
            _ => return Err(unknown()),
        },
    )
}

fn value(attribute: Attribute, literal: &Literal) -> Result<SearchValue, ScimError> {
    let wrong = |expected: &str| {
        ScimError::InvalidFilter(format!("{attribute:?} is compared with {expected}."))
    };
    match (attribute, literal) {
        (Attribute::Active, Literal::Bool(flag)) => Ok(SearchValue::Bool(*flag)),
        (Attribute::Active, _) => Err(wrong("true or false")),
        (Attribute::Created | Attribute::LastModified, Literal::Text(text)) => {
            DateTime::parse_from_rfc3339(text)
                .map(|at| SearchValue::Time(at.with_timezone(&Utc)))
                .map_err(|_| wrong("an xsd:dateTime such as \"2026-12-01T00:00:00Z\""))
        }
        (Attribute::Created | Attribute::LastModified, _) => Err(wrong("a dateTime string")),
        (_, Literal::Text(text)) => Ok(SearchValue::Text(text.clone())),
        (_, _) => Err(wrong("a string")),
    }
}

/// A User filter as a directory search filter.
pub fn search_filter(expr: &Expr) -> Result<Filter, ScimError> {
    translate(expr, None)
}

fn translate(expr: &Expr, within: Option<&str>) -> Result<Filter, ScimError> {
    crate::filter::to_search(expr, &mut |leaf| translate_leaf(leaf, within))
}

fn translate_leaf(expr: &Expr, within: Option<&str>) -> Result<Filter, ScimError> {
    Ok(match expr {
        Expr::And(..) | Expr::Or(..) | Expr::Not(..) => translate(expr, within)?,
        Expr::Present(path) => Filter::Present(attribute(path, within)?),
        Expr::Compare(path, op, literal) => {
            let attribute = attribute(path, within)?;
            let op = *op;
            if *literal == Literal::Null {
                // `x eq null` is "x is not present" (RFC 7644 §3.4.2.2 leaves it open).
                let present = Filter::Present(attribute);
                return Ok(match op {
                    tessera_store::directory::Op::Ne => present,
                    _ => Filter::Not(Box::new(present)),
                });
            }
            Filter::Compare(attribute, op, value(attribute, literal)?)
        }
        Expr::Has(path, inner) if within.is_none() => {
            let resolved = USERS.resolve(path).ok_or_else(|| {
                ScimError::InvalidFilter(format!("Users cannot be filtered on {}.", path.attribute))
            })?;
            translate(inner, Some(resolved.attribute.name))?
        }
        Expr::Has(..) => {
            return Err(ScimError::InvalidFilter(
                "Value filters do not nest.".into(),
            ));
        }
    })
}

/// The directory attribute `sortBy` names.
pub fn sort_attribute(name: &str) -> Result<Attribute, ScimError> {
    let path = crate::filter::attr_path(name).map_err(|e| ScimError::InvalidValue(e.0))?;
    attribute(&path, None)
        .map_err(|_| ScimError::InvalidValue(format!("Users cannot be sorted by {name}.")))
}
