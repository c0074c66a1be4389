//! The supported subset of the configuration XML: element names, nesting, namespaces, which
//! elements are lists (and their keys) and which are leaf-lists. It drives validation of
//! uploads, merging and export, so the three always agree.
//!
//! Element names and namespaces follow the Curity configuration files the product grew from
//! (see `docs/configuration.md`).

/// `<config>` root of uploaded files.
pub const NS_CONFIG: &str = "http://tail-f.com/ns/config/1.0";
/// `<data>` root of RESTCONF bodies.
pub const NS_RESTCONF: &str = "urn:ietf:params:xml:ns:yang:ietf-restconf";
/// NETCONF base namespace, for the `operation` attribute.
pub const NS_NETCONF: &str = "urn:ietf:params:xml:ns:netconf:base:1.0";
/// Top-level containers.
pub const NS_BASE: &str = "https://curity.se/ns/conf/base";
/// Authentication profile settings (and the `email` authenticator).
pub const NS_AUTH: &str = "https://curity.se/ns/conf/profile/authentication";
/// OAuth profile settings.
pub const NS_OAUTH: &str = "https://curity.se/ns/conf/profile/oauth";
/// html-form authenticator.
pub const NS_HTML_FORM: &str = "https://curity.se/ns/conf/authenticators/html-form";
/// passkeys authenticator.
pub const NS_PASSKEYS: &str = "https://curity.se/ns/conf/authenticators/passkeys";
/// username authenticator.
pub const NS_USERNAME: &str = "https://curity.se/ns/ext-conf/username";

/// What an element is.
#[derive(Debug)]
pub enum Kind {
    /// Holds other elements.
    Container(&'static [Field]),
    /// Repeated entries identified by the text of their `key` child.
    List {
        /// Name of the key leaf.
        key: &'static str,
        /// Children of an entry.
        fields: &'static [Field],
    },
    /// One text value.
    Leaf,
    /// Repeated text values (each a sibling element of the same name).
    LeafList,
    /// An empty element whose presence means "on" (`<send-otp-as-code/>`).
    Flag,
}

/// One element of the schema.
#[derive(Debug)]
pub struct Field {
    /// Local name.
    pub name: &'static str,
    /// The namespace this element declares (children inherit it).
    pub ns: Option<&'static str>,
    /// What it is.
    pub kind: Kind,
}

const fn leaf(name: &'static str) -> Field {
    Field {
        name,
        ns: None,
        kind: Kind::Leaf,
    }
}
const fn leaf_list(name: &'static str) -> Field {
    Field {
        name,
        ns: None,
        kind: Kind::LeafList,
    }
}
const fn flag(name: &'static str) -> Field {
    Field {
        name,
        ns: None,
        kind: Kind::Flag,
    }
}
const fn container(name: &'static str, fields: &'static [Field]) -> Field {
    Field {
        name,
        ns: None,
        kind: Kind::Container(fields),
    }
}
const fn container_ns(name: &'static str, ns: &'static str, fields: &'static [Field]) -> Field {
    Field {
        name,
        ns: Some(ns),
        kind: Kind::Container(fields),
    }
}
const fn list(name: &'static str, fields: &'static [Field]) -> Field {
    list_by(name, "id", fields)
}
const fn list_by(name: &'static str, key: &'static str, fields: &'static [Field]) -> Field {
    Field {
        name,
        ns: None,
        kind: Kind::List { key, fields },
    }
}

const SMTP: &[Field] = &[
    leaf("smtp-host"),
    leaf("smtp-port"),
    leaf("tls"),
    leaf("default-sender"),
    leaf("username"),
    leaf("password"),
    leaf("sealed-password"),
    leaf("allow-insecure-transport"),
];

const EMAIL_PROVIDER: &[Field] = &[leaf("id"), leaf("description"), container("smtp", SMTP)];

const HTML_FORM: &[Field] = &[
    leaf("account-manager"),
    leaf("credential-manager"),
    leaf("password-only"),
];

const PASSKEYS: &[Field] = &[
    leaf("account-manager"),
    leaf("allow-registration-during-login"),
    leaf("enable-discoverable-credentials"),
    leaf("require-user-to-set-alias"),
    leaf("user-display-name-attribute"),
];

const EMAIL: &[Field] = &[
    leaf("account-manager"),
    flag("send-otp-as-code"),
    leaf("email-provider"),
    leaf("max-challenges-sent"),
    leaf("max-allowed-attempts"),
    leaf("otp-lifetime"),
    leaf("allow-inactive-accounts"),
];

const USERNAME: &[Field] = &[
    leaf("auto-submit-preferred-user-name"),
    leaf("remember-username"),
];

const AUTHENTICATOR: &[Field] = &[
    leaf("id"),
    leaf("description"),
    leaf("required-authenticator-for-registration"),
    container_ns("html-form", NS_HTML_FORM, HTML_FORM),
    container_ns("passkeys", NS_PASSKEYS, PASSKEYS),
    container("email", EMAIL),
    container_ns("username", NS_USERNAME, USERNAME),
];

/// The type-specific children of an authenticator; exactly one must be present.
pub const AUTHENTICATOR_TYPES: &[&str] = &["html-form", "passkeys", "email", "username"];

const AUTHENTICATION_SERVICE: &[Field] = &[container(
    "authenticators",
    &[list("authenticator", AUTHENTICATOR)],
)];

const CLIENT: &[Field] = &[
    leaf("id"),
    leaf("client-name"),
    leaf("description"),
    leaf("secret"),
    leaf("secret-digest"),
    leaf("jwks"),
    container("jwks-uri", &[leaf("uri")]),
    leaf("no-authentication"),
    leaf_list("redirect-uris"),
    leaf_list("allowed-origins"),
    leaf_list("scope"),
    leaf_list("audience"),
    container(
        "capabilities",
        &[
            flag("code"),
            flag("client-credentials"),
            flag("introspection"),
            flag("refresh"),
        ],
    ),
    container("proof-key", &[leaf("require-proof-key")]),
    container(
        "user-authentication",
        &[
            leaf_list("allowed-authenticators"),
            leaf_list("allowed-post-logout-redirect-uris"),
        ],
    ),
    container(
        "use-pairwise-subject-identifiers",
        &[leaf("sector-identifier")],
    ),
    leaf("authorization-code-ttl"),
    leaf("access-token-ttl"),
    leaf("id-token-ttl"),
    leaf("refresh-token-ttl"),
    leaf("refresh-token-max-rolling-lifetime"),
    leaf("id-token-signing-algorithm"),
    leaf("validate-port-on-loopback-interfaces"),
];

/// The capabilities a client can have, and a profile can switch on.
const CAPABILITIES: &[Field] = &[
    flag("code"),
    flag("client-credentials"),
    flag("introspection"),
];

const AUTHORIZATION_SERVER: &[Field] = &[
    container("authentication-service", &[leaf("authentication-profile")]),
    leaf("authorization-code-ttl"),
    leaf("access-token-ttl"),
    leaf("id-token-ttl"),
    leaf("refresh-token-ttl"),
    leaf("refresh-token-max-rolling-lifetime"),
    container("client-capabilities", CAPABILITIES),
    container(
        "scopes",
        &[list(
            "scope",
            &[leaf("id"), leaf("description"), leaf_list("claims")],
        )],
    ),
    container(
        "claims",
        &[list_by(
            "claim",
            "name",
            &[leaf("name"), leaf("description")],
        )],
    ),
    container(
        "openid-connect",
        &[
            flag("expose-metadata"),
            leaf("id-token-ttl"),
            leaf("require-pairwise-subject-identifiers"),
        ],
    ),
    container(
        "client-store",
        &[container("config-backed", &[list("client", CLIENT)])],
    ),
];

const PROFILE: &[Field] = &[
    leaf("id"),
    leaf("type"),
    leaf("description"),
    container(
        "settings",
        &[
            container_ns("authentication-service", NS_AUTH, AUTHENTICATION_SERVICE),
            container_ns("authorization-server", NS_OAUTH, AUTHORIZATION_SERVER),
        ],
    ),
];

const ACCOUNT_MANAGER: &[Field] = &[
    leaf("id"),
    leaf("description"),
    leaf("account-data-source"),
    leaf("username-is-email"),
    container(
        "enable-registration",
        &[leaf("account-verification-method")],
    ),
];

/// The children of the `<config>` / `<data>` root.
pub const ROOT: &[Field] = &[
    container_ns(
        "environments",
        NS_BASE,
        &[container(
            "environment",
            &[container(
                "services",
                &[container(
                    "zones",
                    &[container("default-zone", &[leaf("email-provider")])],
                )],
            )],
        )],
    ),
    container_ns(
        "facilities",
        NS_BASE,
        &[container(
            "email-providers",
            &[list("email-provider", EMAIL_PROVIDER)],
        )],
    ),
    container_ns(
        "processing",
        NS_BASE,
        &[container(
            "account-managers",
            &[list("account-manager", ACCOUNT_MANAGER)],
        )],
    ),
    container_ns("profiles", NS_BASE, &[list("profile", PROFILE)]),
];

/// The schema field named `name` among `fields`.
pub fn find<'a>(fields: &'a [Field], name: &str) -> Option<&'a Field> {
    fields.iter().find(|f| f.name == name)
}
