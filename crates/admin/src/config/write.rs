//! From the typed [`Configuration`] back to a tree in the upload shape (for export, diffs and
//! merging). Secrets appear only in their stored forms (`secret-digest`, `sealed-password`).

use std::time::Duration;

use super::model::*;
use super::tree::Node;

fn opt_leaf(name: &str, value: Option<&str>) -> Option<Node> {
    value.map(|v| Node::leaf(name, v))
}

fn bool_leaf(name: &str, value: bool) -> Node {
    Node::leaf(name, if value { "true" } else { "false" })
}

fn secs(name: &str, value: Option<Duration>) -> Option<Node> {
    value.map(|d| Node::leaf(name, d.as_secs().to_string()))
}

fn leaf_list(mut node: Node, name: &str, values: &[String]) -> Node {
    for v in values {
        node = node.with(Node::leaf(name, v.clone()));
    }
    node
}

fn lifetimes(mut node: Node, l: &Lifetimes) -> Node {
    for child in [
        secs("authorization-code-ttl", l.authorization_code),
        secs("access-token-ttl", l.access_token),
        secs("id-token-ttl", l.id_token),
        secs("refresh-token-ttl", l.refresh_token),
        secs(
            "refresh-token-max-rolling-lifetime",
            l.refresh_token_max_rolling_lifetime,
        ),
    ]
    .into_iter()
    .flatten()
    {
        node = node.with(child);
    }
    node
}

/// The tree of a configuration (root element children only; the root name is chosen when
/// writing XML).
pub fn write_model(config: &Configuration) -> Node {
    let mut root = Node::new("config");
    if let Some(default) = &config.default_email_provider {
        root = root.with(
            Node::new("environments").with(Node::new("environment").with(
                Node::new("services").with(Node::new("zones").with(
                    Node::new("default-zone").with(Node::leaf("email-provider", default.clone())),
                )),
            )),
        );
    }
    if !config.email_providers.is_empty() {
        let mut providers = Node::new("email-providers");
        for p in &config.email_providers {
            let smtp = Node::new("smtp")
                .with(Node::leaf("smtp-host", p.smtp.host.clone()))
                .with(Node::leaf("smtp-port", p.smtp.port.to_string()))
                .with(Node::leaf("tls", p.smtp.tls.as_str()))
                .with(Node::leaf("default-sender", p.smtp.default_sender.clone()))
                .with_opt(opt_leaf("username", p.smtp.username.as_deref()))
                .with_opt(opt_leaf(
                    "sealed-password",
                    p.smtp.sealed_password.as_deref(),
                ))
                .with_opt(
                    p.smtp
                        .allow_insecure_transport
                        .then(|| bool_leaf("allow-insecure-transport", true)),
                );
            providers = providers.with(
                Node::new("email-provider")
                    .with(Node::leaf("id", p.id.clone()))
                    .with_opt(opt_leaf("description", p.description.as_deref()))
                    .with(smtp),
            );
        }
        root = root.with(Node::new("facilities").with(providers));
    }
    if !config.account_managers.is_empty() {
        let mut managers = Node::new("account-managers");
        for m in &config.account_managers {
            managers = managers.with(
                Node::new("account-manager")
                    .with(Node::leaf("id", m.id.clone()))
                    .with_opt(opt_leaf("description", m.description.as_deref()))
                    .with_opt(opt_leaf(
                        "account-data-source",
                        m.account_data_source.as_deref(),
                    ))
                    .with(bool_leaf("username-is-email", m.username_is_email))
                    .with_opt(m.enable_registration.then(|| {
                        Node::new("enable-registration").with(Node::leaf(
                            "account-verification-method",
                            super::read::EMAIL_VERIFICATION,
                        ))
                    })),
            );
        }
        root = root.with(Node::new("processing").with(managers));
    }
    let mut profiles = Node::new("profiles");
    if let Some(id) = &config.authentication_profile {
        let mut list = Node::new("authenticators");
        for a in &config.authenticators {
            list = list.with(write_authenticator(a));
        }
        profiles = profiles.with(
            Node::new("profile")
                .with(Node::leaf("id", id.clone()))
                .with(Node::leaf("type", "authentication-service"))
                .with(Node::new("settings").with(Node::new("authentication-service").with(list))),
        );
    }
    if let Some(id) = &config.token_profile {
        let mut clients = Node::new("config-backed");
        for c in &config.clients {
            clients = clients.with(write_client(c));
        }
        let server =
            write_authorization_server(config).with(Node::new("client-store").with(clients));
        profiles = profiles.with(
            Node::new("profile")
                .with(Node::leaf("id", id.clone()))
                .with(Node::leaf("type", "oauth-service"))
                .with(Node::new("settings").with(server)),
        );
    }
    if !profiles.children.is_empty() {
        root = root.with(profiles);
    }
    root
}

/// The token profile's settings except its clients, in schema order.
fn write_authorization_server(config: &Configuration) -> Node {
    let settings = &config.token_settings;
    let mut server = Node::new("authorization-server").with_opt(
        config.token_authentication_profile.as_ref().map(|p| {
            Node::new("authentication-service")
                .with(Node::leaf("authentication-profile", p.clone()))
        }),
    );
    // The ID token's lifetime is written where Curity keeps it, under <openid-connect>.
    server = lifetimes(
        server,
        &Lifetimes {
            id_token: None,
            ..settings.lifetimes
        },
    );
    if let Some(caps) = &config.profile_capabilities {
        server = server.with(write_capabilities(Node::new("client-capabilities"), caps));
    }
    if !config.scopes.is_empty() {
        let mut scopes = Node::new("scopes");
        for scope in &config.scopes {
            let entry = Node::new("scope")
                .with(Node::leaf("id", scope.id.clone()))
                .with_opt(opt_leaf("description", scope.description.as_deref()));
            scopes = scopes.with(leaf_list(entry, "claims", &scope.claims));
        }
        server = server.with(scopes);
    }
    if !config.claims.is_empty() {
        let mut claims = Node::new("claims");
        for claim in &config.claims {
            claims = claims.with(
                Node::new("claim")
                    .with(Node::leaf("name", claim.name.clone()))
                    .with_opt(opt_leaf("description", claim.description.as_deref())),
            );
        }
        server = server.with(claims);
    }
    // An <openid-connect> without <expose-metadata/> is what hides the discovery document.
    server.with(
        Node::new("openid-connect")
            .with_opt(
                settings
                    .expose_metadata
                    .then(|| Node::new("expose-metadata")),
            )
            .with_opt(secs("id-token-ttl", settings.lifetimes.id_token))
            .with_opt(
                settings
                    .require_pairwise_subject_identifiers
                    .then(|| Node::leaf("require-pairwise-subject-identifiers", "")),
            ),
    )
}

fn write_capabilities(node: Node, caps: &Capabilities) -> Node {
    node.with_opt(caps.code.then(|| Node::new("code")))
        .with_opt(
            caps.client_credentials
                .then(|| Node::new("client-credentials")),
        )
        .with_opt(caps.introspection.then(|| Node::new("introspection")))
}

fn write_authenticator(a: &Authenticator) -> Node {
    let block = match &a.kind {
        AuthenticatorKind::HtmlForm(h) => Node::new("html-form")
            .with_opt(opt_leaf("account-manager", h.account_manager.as_deref()))
            .with_opt(opt_leaf(
                "credential-manager",
                h.credential_manager.as_deref(),
            ))
            .with(bool_leaf("password-only", h.password_only)),
        AuthenticatorKind::Passkeys(p) => Node::new("passkeys")
            .with_opt(opt_leaf("account-manager", p.account_manager.as_deref()))
            .with(bool_leaf(
                "allow-registration-during-login",
                p.allow_registration_during_login,
            ))
            .with(bool_leaf(
                "enable-discoverable-credentials",
                p.enable_discoverable_credentials,
            ))
            .with(bool_leaf(
                "require-user-to-set-alias",
                p.require_user_to_set_alias,
            ))
            .with(Node::leaf(
                "user-display-name-attribute",
                p.user_display_name_attribute.clone(),
            )),
        AuthenticatorKind::Email(e) => Node::new("email")
            .with_opt(opt_leaf("account-manager", e.account_manager.as_deref()))
            .with_opt((e.delivery == EmailDelivery::Code).then(|| Node::new("send-otp-as-code")))
            .with_opt(opt_leaf("email-provider", e.email_provider.as_deref()))
            .with(Node::leaf(
                "max-challenges-sent",
                e.max_challenges_sent.to_string(),
            ))
            .with(Node::leaf(
                "max-allowed-attempts",
                e.max_allowed_attempts.to_string(),
            ))
            .with(Node::leaf(
                "otp-lifetime",
                e.otp_lifetime.as_secs().to_string(),
            ))
            .with(bool_leaf(
                "allow-inactive-accounts",
                e.allow_inactive_accounts,
            )),
        AuthenticatorKind::Username(u) => Node::new("username")
            .with(bool_leaf(
                "auto-submit-preferred-user-name",
                u.auto_submit_preferred_user_name,
            ))
            .with(bool_leaf("remember-username", u.remember_username)),
    };
    Node::new("authenticator")
        .with(Node::leaf("id", a.id.clone()))
        .with_opt(opt_leaf("description", a.description.as_deref()))
        .with_opt(opt_leaf(
            "required-authenticator-for-registration",
            a.required_for_registration.as_deref(),
        ))
        .with(block)
}

fn write_client(c: &Client) -> Node {
    let mut node = Node::new("client")
        .with(Node::leaf("id", c.id.clone()))
        .with_opt(opt_leaf("client-name", c.name.as_deref()))
        .with_opt(opt_leaf("description", c.description.as_deref()));
    node = match &c.authentication {
        ClientAuthentication::None => node.with(bool_leaf("no-authentication", true)),
        ClientAuthentication::SecretDigest(d) => node.with(Node::leaf("secret-digest", d.clone())),
        // Curity's own form: the hash in <secret>, read back as a hash.
        ClientAuthentication::SecretHash(h) => node.with(Node::leaf("secret", h.clone())),
        ClientAuthentication::PrivateKeyJwt(jwks) => node.with(Node::leaf("jwks", jwks.clone())),
        ClientAuthentication::PrivateKeyJwtUri(uri) => {
            node.with(Node::new("jwks-uri").with(Node::leaf("uri", uri.clone())))
        }
    };
    node = leaf_list(node, "redirect-uris", &c.redirect_uris);
    node = leaf_list(node, "allowed-origins", &c.allowed_origins);
    node = leaf_list(node, "scope", &c.scopes);
    node = leaf_list(node, "audience", &c.audience);
    let caps = write_capabilities(Node::new("capabilities"), &c.capabilities);
    node = node
        .with(caps)
        .with(Node::new("proof-key").with(bool_leaf("require-proof-key", c.require_pkce)));
    let mut auth = Node::new("user-authentication");
    auth = leaf_list(auth, "allowed-authenticators", &c.allowed_authenticators);
    auth = leaf_list(
        auth,
        "allowed-post-logout-redirect-uris",
        &c.post_logout_redirect_uris,
    );
    node = node.with(auth);
    if let Some(sector) = &c.sector_identifier {
        node = node.with(
            Node::new("use-pairwise-subject-identifiers")
                .with(Node::leaf("sector-identifier", sector.clone())),
        );
    }
    let refresh_off = c.capabilities.code && !c.capabilities.refresh;
    node = lifetimes(
        node,
        &Lifetimes {
            refresh_token: c.lifetimes.refresh_token.filter(|_| !refresh_off),
            ..c.lifetimes
        },
    );
    // Curity's form of "no refresh tokens" (refresh is otherwise implied by the code flow).
    if refresh_off {
        node = node.with(Node::leaf(
            "refresh-token-ttl",
            super::read::REFRESH_DISABLED,
        ));
    }
    node.with(Node::leaf(
        "id-token-signing-algorithm",
        c.id_token_algorithm.as_str(),
    ))
    .with(bool_leaf(
        "validate-port-on-loopback-interfaces",
        c.validate_port_on_loopback,
    ))
}
