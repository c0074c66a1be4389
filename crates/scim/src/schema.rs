//! The resource schemas Tessera serves (RFC 7643 §7), as data: the `/Schemas` endpoint renders
//! them, and attribute names in paths, filters and `attributes` are resolved against them
//! (case-insensitively, §2.1). Only what Tessera stores is described, so that every attribute a
//! client may write comes back as written.

use serde_json::{Value, json};

/// The core User schema.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Tessera's User extension: email verification, legacy subject, passkeys.
pub const TESSERA_USER: &str = "urn:ietf:params:scim:schemas:extension:tessera:2.0:User";
/// List responses.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PATCH requests.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Errors.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// An attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// Text.
    String,
    /// true or false.
    Boolean,
    /// An xsd:dateTime.
    DateTime,
    /// A reference to a resource.
    Reference,
    /// Sub-attributes.
    Complex,
}

/// Whether and how a client may change an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    /// Read and written.
    ReadWrite,
    /// Only the server sets it.
    ReadOnly,
}

/// An attribute of a schema.
#[derive(Debug)]
pub struct Attribute {
    /// Its name, as written in responses.
    pub name: &'static str,
    /// Its type.
    pub kind: Type,
    /// Holds a list.
    pub multi_valued: bool,
    /// Must be present.
    pub required: bool,
    /// Compared case-sensitively.
    pub case_exact: bool,
    /// Who may change it.
    pub mutability: Mutability,
    /// Unique across resources (`server`) or not (`none`).
    pub unique: bool,
    /// Canonical values, when there are.
    pub canonical: &'static [&'static str],
    /// Sub-attributes of a complex attribute.
    pub sub: &'static [Attribute],
    /// Read-only, yet a PATCH `remove` with a value filter may take values away.
    pub removable: bool,
    /// What it means.
    pub description: &'static str,
}

const fn text(name: &'static str, description: &'static str) -> Attribute {
    Attribute {
        name,
        kind: Type::String,
        multi_valued: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        canonical: &[],
        sub: &[],
        removable: false,
        description,
    }
}

const fn read_only(mut attribute: Attribute) -> Attribute {
    attribute.mutability = Mutability::ReadOnly;
    attribute
}

const fn typed(mut attribute: Attribute, kind: Type) -> Attribute {
    attribute.kind = kind;
    attribute
}

const fn exact(mut attribute: Attribute) -> Attribute {
    attribute.case_exact = true;
    attribute
}

const fn unique(mut attribute: Attribute) -> Attribute {
    attribute.unique = true;
    attribute
}

const fn complex(
    name: &'static str,
    multi_valued: bool,
    sub: &'static [Attribute],
    description: &'static str,
) -> Attribute {
    Attribute {
        multi_valued,
        sub,
        ..typed(text(name, description), Type::Complex)
    }
}

/// The attributes of a core User (RFC 7643 §4.1) that Tessera keeps.
pub const USER_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        required: true,
        ..unique(text(
            "userName",
            "The name the user signs in with; unique, compared case-insensitively.",
        ))
    },
    complex(
        "name",
        false,
        &[
            text("formatted", "The full name."),
            text("familyName", "The family name."),
            text("givenName", "The given name."),
        ],
        "The user's name.",
    ),
    text("displayName", "The name shown for the user."),
    complex(
        "emails",
        true,
        &[
            text(
                "value",
                "The email address; unique across users. Tessera keeps one per user.",
            ),
            Attribute {
                canonical: &["work", "home", "other"],
                ..text("type", "What the address is for.")
            },
            typed(text("primary", "The preferred address."), Type::Boolean),
        ],
        "Email addresses: at most one in Tessera.",
    ),
    typed(
        text(
            "active",
            "false: the user cannot sign in, and their sessions and refresh tokens end.",
        ),
        Type::Boolean,
    ),
];

/// Tessera's User extension.
pub const TESSERA_USER_ATTRIBUTES: &[Attribute] = &[
    typed(
        text(
            "emailVerified",
            "The email address was verified (the email_verified claim).",
        ),
        Type::Boolean,
    ),
    unique(exact(text(
        "legacySubject",
        "The `sub` relying parties already store for this user, kept after a migration \
         (public subjects only; pairwise clients get Tessera's own).",
    ))),
    Attribute {
        removable: true,
        ..read_only(complex(
            "passkeys",
            true,
            &[
                exact(read_only(text("id", "The passkey's id."))),
                read_only(text("name", "Its name.")),
                read_only(text(
                    "provider",
                    "Who made it, from its AAGUID, when known.",
                )),
                read_only(typed(
                    text("created", "When it was registered."),
                    Type::DateTime,
                )),
                read_only(typed(
                    text("lastUsed", "When it last signed in."),
                    Type::DateTime,
                )),
            ],
            "The user's passkeys. Read-only; one is removed with PATCH \
         {\"op\": \"remove\", \"path\": \"passkeys[id eq \\\"…\\\"]\"}.",
        ))
    },
];

/// The attributes of a core Group (RFC 7643 §4.2) that Tessera keeps.
pub const GROUP_ATTRIBUTES: &[Attribute] = &[
    Attribute {
        required: true,
        ..unique(text(
            "displayName",
            "The group's name; unique, compared case-insensitively.",
        ))
    },
    complex(
        "members",
        true,
        &[
            exact(text("value", "The member's id.")),
            Attribute {
                canonical: &["User"],
                ..text("type", "The member's resource type.")
            },
            typed(
                text("$ref", "The member's location (derived from value)."),
                Type::Reference,
            ),
        ],
        "The group's members: users.",
    ),
];

/// The attributes every resource has (RFC 7643 §3.1).
pub const COMMON_ATTRIBUTES: &[Attribute] = &[
    exact(read_only(text("id", "The resource's id."))),
    exact(text(
        "externalId",
        "What the provisioning client knows the resource by.",
    )),
];

/// Finds an attribute by name, case-insensitively.
pub fn find<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes
        .iter()
        .find(|attribute| attribute.name.eq_ignore_ascii_case(name))
}

fn render_attribute(attribute: &Attribute) -> Value {
    let kind = match attribute.kind {
        Type::String => "string",
        Type::Boolean => "boolean",
        Type::DateTime => "dateTime",
        Type::Reference => "reference",
        Type::Complex => "complex",
    };
    let mut out = json!({
        "name": attribute.name,
        "type": kind,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": match attribute.mutability {
            Mutability::ReadWrite => "readWrite",
            Mutability::ReadOnly => "readOnly",
        },
        "returned": "default",
        "uniqueness": if attribute.unique { "server" } else { "none" },
    });
    if !attribute.canonical.is_empty() {
        out["canonicalValues"] = json!(attribute.canonical);
    }
    if attribute.kind == Type::Reference {
        out["referenceTypes"] = json!(["User"]);
    }
    if !attribute.sub.is_empty() {
        out["subAttributes"] = attribute.sub.iter().map(render_attribute).collect();
    }
    out
}

/// The schemas, as `/Schemas` serves them (`location` filled in from `base`).
pub fn schemas(base: &str) -> Vec<Value> {
    [
        (USER, "User", "User Account", USER_ATTRIBUTES),
        (
            TESSERA_USER,
            "TesseraUser",
            "What Tessera adds to a user: email verification, legacy subject, passkeys.",
            TESSERA_USER_ATTRIBUTES,
        ),
        (GROUP, "Group", "Group", GROUP_ATTRIBUTES),
    ]
    .into_iter()
    .map(|(id, name, description, attributes)| {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": id,
            "name": name,
            "description": description,
            "attributes": attributes.iter().map(render_attribute).collect::<Vec<_>>(),
            "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")},
        })
    })
    .collect()
}

/// The schemas of a resource type: its core schema and attributes, and its extensions.
#[derive(Debug)]
pub struct ResourceSchema {
    /// The resource type's name.
    pub name: &'static str,
    /// Its endpoint, under the SCIM base.
    pub endpoint: &'static str,
    /// The core schema URN.
    pub core: &'static str,
    /// The core schema's attributes.
    pub attributes: &'static [Attribute],
    /// Extension schema URNs and their attributes.
    pub extensions: &'static [(&'static str, &'static [Attribute])],
}

/// Users.
pub const USERS: ResourceSchema = ResourceSchema {
    name: "User",
    endpoint: "/Users",
    core: USER,
    attributes: USER_ATTRIBUTES,
    extensions: &[(TESSERA_USER, TESSERA_USER_ATTRIBUTES)],
};

/// Groups.
pub const GROUPS: ResourceSchema = ResourceSchema {
    name: "Group",
    endpoint: "/Groups",
    core: GROUP,
    attributes: GROUP_ATTRIBUTES,
    extensions: &[],
};

/// Where an attribute path leads.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    /// The extension URN the attribute lives under, `None` for the core schema.
    pub extension: Option<&'static str>,
    /// The attribute.
    pub attribute: &'static Attribute,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'static Attribute>,
}

impl ResourceSchema {
    /// Resolves an attribute path (case-insensitively; a schema prefix must be one of the
    /// resource's schemas).
    pub fn resolve(&self, path: &crate::filter::AttrPath) -> Option<Resolved> {
        let (extension, attributes): (Option<&'static str>, &'static [Attribute]) =
            match path.schema.as_deref() {
                None => match find(self.attributes, &path.attribute)
                    .or_else(|| find(COMMON_ATTRIBUTES, &path.attribute))
                {
                    Some(_) => (None, self.attributes),
                    None => self
                        .extensions
                        .iter()
                        .find(|(_, attributes)| find(attributes, &path.attribute).is_some())
                        .map(|(urn, attributes)| (Some(*urn), *attributes))?,
                },
                Some(urn) if urn.eq_ignore_ascii_case(self.core) => (None, self.attributes),
                Some(urn) => self
                    .extensions
                    .iter()
                    .find(|(known, _)| known.eq_ignore_ascii_case(urn))
                    .map(|(known, attributes)| (Some(*known), *attributes))?,
            };
        let attribute = find(attributes, &path.attribute).or_else(|| {
            extension
                .is_none()
                .then(|| find(COMMON_ATTRIBUTES, &path.attribute))
                .flatten()
        })?;
        let sub = match &path.sub {
            Some(name) => Some(find(attribute.sub, name)?),
            None => None,
        };
        Some(Resolved {
            extension,
            attribute,
            sub,
        })
    }

    /// The extension with this URN (case-insensitively).
    pub fn extension(&self, urn: &str) -> Option<&'static str> {
        self.extensions
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(urn))
            .map(|(known, _)| *known)
    }
}
