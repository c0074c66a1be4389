//! From a checked (and merged) tree to the typed [`Configuration`], collecting every problem.

use std::time::Duration;

use super::model::*;
use super::tree::{Node, Problem, Problems};
use crate::secrets::ConfigSecrets;

/// The longest lifetime a configuration may set (one year).
pub const MAX_LIFETIME_SECONDS: u64 = 365 * 24 * 3600;

/// Shortest client secret accepted: secrets are compared by keyed digest, not a slow hash, so
/// they must be high-entropy.
pub const MIN_CLIENT_SECRET_LEN: usize = 32;

struct Ctx<'a> {
    problems: Vec<Problem>,
    secrets: &'a ConfigSecrets,
}

impl Ctx<'_> {
    fn problem(&mut self, path: &str, node: &Node, message: impl Into<String>) {
        self.problems.push(Problem::new(path, node.line, message));
    }

    fn text(&mut self, node: &Node, path: &str, name: &str) -> Option<String> {
        let child = node.child(name)?;
        let text = child.text.clone().unwrap_or_default();
        if text.is_empty() {
            self.problem(&format!("{path}/{name}"), child, "must not be empty");
            return None;
        }
        Some(text)
    }

    fn boolean(&mut self, node: &Node, path: &str, name: &str, default: bool) -> bool {
        let Some(child) = node.child(name) else {
            return default;
        };
        match child.text.as_deref() {
            Some("true") => true,
            Some("false") => false,
            other => {
                self.problem(
                    &format!("{path}/{name}"),
                    child,
                    format!("{:?} is not true or false", other.unwrap_or_default()),
                );
                default
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, node: &Node, path: &str, name: &str) -> Option<T> {
        let child = node.child(name)?;
        let text = child.text.as_deref().unwrap_or_default();
        match text.parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problem(
                    &format!("{path}/{name}"),
                    child,
                    format!("{text:?} is not a non-negative whole number"),
                );
                None
            }
        }
    }

    /// A lifetime in seconds, from 1 second to [`MAX_LIFETIME_SECONDS`]: dates computed from
    /// it on every request must never overflow.
    fn seconds(&mut self, node: &Node, path: &str, name: &str) -> Option<Duration> {
        let secs: u64 = self.number(node, path, name)?;
        if secs == 0 {
            self.problem(&format!("{path}/{name}"), node, "must be at least 1 second");
            return None;
        }
        if secs > MAX_LIFETIME_SECONDS {
            self.problem(
                &format!("{path}/{name}"),
                node,
                format!("must be at most {MAX_LIFETIME_SECONDS} seconds (one year)"),
            );
            return None;
        }
        Some(Duration::from_secs(secs))
    }

    fn values(node: &Node, name: &str) -> Vec<String> {
        node.children_named(name)
            .filter_map(|c| c.text.clone())
            .collect()
    }

    fn lifetimes(&mut self, node: &Node, path: &str) -> Lifetimes {
        Lifetimes {
            authorization_code: self.seconds(node, path, "authorization-code-ttl"),
            access_token: self.seconds(node, path, "access-token-ttl"),
            id_token: self.seconds(node, path, "id-token-ttl"),
            refresh_token: if refresh_disabled(node) {
                None
            } else {
                self.seconds(node, path, "refresh-token-ttl")
            },
            refresh_token_max_rolling_lifetime: self.seconds(
                node,
                path,
                "refresh-token-max-rolling-lifetime",
            ),
        }
    }

    /// A presence flag that older Tessera files wrote as a value: empty or `true` is on,
    /// `false` off.
    fn presence(&mut self, node: &Node, path: &str, name: &str) -> bool {
        match node
            .child(name)
            .map(|c| c.text.as_deref().unwrap_or_default())
        {
            None | Some("false") => false,
            Some("" | "true") => true,
            Some(other) => {
                self.problem(
                    &format!("{path}/{name}"),
                    node.child(name).unwrap_or(node),
                    format!("{other:?}: write the element empty to switch it on"),
                );
                false
            }
        }
    }
}

/// `refresh-token-ttl` set to `disabled`: Curity's way to give a client no refresh tokens.
fn refresh_disabled(node: &Node) -> bool {
    node.child_text("refresh-token-ttl") == Some(REFRESH_DISABLED)
}

/// The `refresh-token-ttl` value that turns refresh tokens off for a client.
pub const REFRESH_DISABLED: &str = "disabled";

fn capabilities(node: &Node) -> Capabilities {
    Capabilities {
        code: node.child("code").is_some(),
        client_credentials: node.child("client-credentials").is_some(),
        introspection: node.child("introspection").is_some(),
        refresh: false,
    }
}

fn key(node: &Node) -> String {
    node.child_text("id").unwrap_or_default().to_owned()
}

/// Builds the typed configuration from a tree. Client secrets given in clear become digests
/// and SMTP passwords are sealed here, so no clear secret outlives the upload.
pub fn read_model(root: &Node, secrets: &ConfigSecrets) -> Result<Configuration, Problems> {
    let (config, problems) = read_model_with_problems(root, secrets);
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(Problems(problems))
    }
}

/// [`read_model`] that keeps going: the configuration of everything that read well, and every
/// problem (for a validation that lists all of them at once).
pub fn read_model_with_problems(
    root: &Node,
    secrets: &ConfigSecrets,
) -> (Configuration, Vec<Problem>) {
    let mut ctx = Ctx {
        problems: Vec::new(),
        secrets,
    };
    let mut config = Configuration {
        default_email_provider: root
            .at(&[
                "environments",
                "environment",
                "services",
                "zones",
                "default-zone",
            ])
            .and_then(|zone| {
                ctx.text(
                    zone,
                    "/environments/environment/services/zones/default-zone",
                    "email-provider",
                )
            }),
        ..Configuration::default()
    };

    if let Some(providers) = root.at(&["facilities", "email-providers"]) {
        for node in providers.children_named("email-provider") {
            let path = format!("/facilities/email-providers/email-provider[{}]", key(node));
            if let Some(provider) = read_email_provider(&mut ctx, node, &path) {
                config.email_providers.push(provider);
            }
        }
    }
    if let Some(managers) = root.at(&["processing", "account-managers"]) {
        for node in managers.children_named("account-manager") {
            let path = format!(
                "/processing/account-managers/account-manager[{}]",
                key(node)
            );
            config.account_managers.push(AccountManager {
                id: key(node),
                description: node.child_text("description").map(str::to_owned),
                account_data_source: node.child_text("account-data-source").map(str::to_owned),
                username_is_email: ctx.boolean(node, &path, "username-is-email", false),
                enable_registration: read_registration(&mut ctx, node, &path),
            });
        }
    }
    if let Some(profiles) = root.child("profiles") {
        for node in profiles.children_named("profile") {
            read_profile(&mut ctx, node, &mut config);
        }
    }
    (config, ctx.problems)
}

/// `<enable-registration>`: present means on. Its verification method can only be the email
/// verification every sign-up goes through.
fn read_registration(ctx: &mut Ctx, node: &Node, path: &str) -> bool {
    let Some(block) = node.child("enable-registration") else {
        return false;
    };
    if let Some(method) = block.child_text("account-verification-method")
        && method != EMAIL_VERIFICATION
    {
        ctx.problem(
            &format!("{path}/enable-registration/account-verification-method"),
            block,
            format!(
                "{method:?}: only {EMAIL_VERIFICATION} is supported: an account is created once its email address is verified (the address is how a passwordless account signs in and recovers; `tessera config import` carries Curity's no-verification over as {EMAIL_VERIFICATION})"
            ),
        );
    }
    true
}

/// `localhost`, or an IP literal on loopback: mail that never leaves the machine.
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The one account verification method.
pub const EMAIL_VERIFICATION: &str = "email-verification";

fn read_email_provider(ctx: &mut Ctx, node: &Node, path: &str) -> Option<EmailProvider> {
    let Some(smtp) = node.child("smtp") else {
        ctx.problem(path, node, "an email provider needs an <smtp> block");
        return None;
    };
    let spath = format!("{path}/smtp");
    let host = ctx.text(smtp, &spath, "smtp-host");
    let port = ctx.number::<u16>(smtp, &spath, "smtp-port").unwrap_or(25);
    let sender = ctx.text(smtp, &spath, "default-sender");
    if host.is_none() {
        ctx.problem(&spath, smtp, "<smtp-host> is required");
    }
    if sender.is_none() {
        ctx.problem(&spath, smtp, "<default-sender> is required");
    }
    let tls = match smtp.child("tls") {
        None => SmtpTls::default_for_port(port),
        Some(t) => match SmtpTls::parse(t.text.as_deref().unwrap_or_default()) {
            Some(tls) => tls,
            None => {
                ctx.problem(
                    &format!("{spath}/tls"),
                    t,
                    "must be none, opportunistic, starttls or tls",
                );
                SmtpTls::default_for_port(port)
            }
        },
    };
    let allow_insecure_transport = ctx.boolean(smtp, &spath, "allow-insecure-transport", false);
    if tls.is_insecure()
        && !allow_insecure_transport
        && host.as_deref().is_some_and(|h| !is_loopback_host(h))
    {
        ctx.problem(
            &format!("{spath}/tls"),
            smtp,
            format!(
                "tls {} would send the SMTP password and every sign-in code where anyone on the \
                 network path can read them; use starttls or tls, or add \
                 <allow-insecure-transport>true</allow-insecure-transport> for a network you trust",
                tls.as_str()
            ),
        );
    }
    let id = key(node);
    // A password given in clear wins over a sealed one (it is the newer upload).
    let sealed_password = match (
        smtp.child_text("password"),
        smtp.child_text("sealed-password"),
    ) {
        (Some(clear), _) => match ctx.secrets.seal(&format!("smtp:{id}"), clear) {
            Ok(sealed) => Some(sealed),
            Err(e) => {
                ctx.problem(&format!("{spath}/password"), smtp, e.to_string());
                None
            }
        },
        (None, Some(sealed)) => {
            if ctx.secrets.open(&format!("smtp:{id}"), sealed).is_err() {
                ctx.problem(
                    &format!("{spath}/sealed-password"),
                    smtp,
                    "cannot be opened with this server's key-encryption key; give <password> instead",
                );
            }
            Some(sealed.to_owned())
        }
        (None, None) => None,
    };
    Some(EmailProvider {
        description: node.child_text("description").map(str::to_owned),
        smtp: Smtp {
            host: host?,
            port,
            tls,
            default_sender: sender?,
            username: smtp.child_text("username").map(str::to_owned),
            sealed_password,
            allow_insecure_transport,
        },
        id,
    })
}

fn read_profile(ctx: &mut Ctx, node: &Node, config: &mut Configuration) {
    let id = key(node);
    let path = format!("/profiles/profile[{id}]");
    let kind = node
        .child_text("type")
        .map(|t| t.rsplit(':').next().unwrap_or(t).to_owned());
    let settings = node.child("settings");
    match kind.as_deref() {
        Some("authentication-service") => {
            if let Some(other) = &config.authentication_profile {
                ctx.problem(
                    &path,
                    node,
                    format!(
                        "only one authentication-service profile is supported ({other} exists)"
                    ),
                );
                return;
            }
            if settings
                .and_then(|s| s.child("authorization-server"))
                .is_some()
            {
                ctx.problem(
                    &format!("{path}/settings/authorization-server"),
                    node,
                    "belongs in an oauth-service profile",
                );
            }
            config.authentication_profile = Some(id.clone());
            if let Some(list) =
                settings.and_then(|s| s.at(&["authentication-service", "authenticators"]))
            {
                let base = format!("{path}/settings/authentication-service/authenticators");
                for a in list.children_named("authenticator") {
                    let apath = format!("{base}/authenticator[{}]", key(a));
                    if let Some(authenticator) = read_authenticator(ctx, a, &apath) {
                        config.authenticators.push(authenticator);
                    }
                }
            }
        }
        Some("oauth-service") => {
            if let Some(other) = &config.token_profile {
                ctx.problem(
                    &path,
                    node,
                    format!("only one oauth-service profile is supported ({other} exists)"),
                );
                return;
            }
            if settings
                .and_then(|s| s.child("authentication-service"))
                .is_some()
            {
                ctx.problem(
                    &format!("{path}/settings/authentication-service"),
                    node,
                    "belongs in an authentication-service profile",
                );
            }
            config.token_profile = Some(id.clone());
            if let Some(server) = settings.and_then(|s| s.child("authorization-server")) {
                read_authorization_server(
                    ctx,
                    server,
                    &format!("{path}/settings/authorization-server"),
                    config,
                );
            }
        }
        Some(other) => ctx.problem(
            &format!("{path}/type"),
            node,
            format!("unsupported profile type {other:?} (authentication-service or oauth-service)"),
        ),
        None => ctx.problem(&path, node, "a profile needs a <type>"),
    }
}

/// The token profile's settings: lifetimes, OpenID Connect switches, capabilities, scopes,
/// claims and clients.
fn read_authorization_server(
    ctx: &mut Ctx,
    server: &Node,
    spath: &str,
    config: &mut Configuration,
) {
    let mut lifetimes = ctx.lifetimes(server, spath);
    if refresh_disabled(server) {
        ctx.problem(
            &format!("{spath}/refresh-token-ttl"),
            server,
            "disabled is a client setting: give the client <refresh-token-ttl>disabled</refresh-token-ttl>",
        );
    }
    let oidc = server.child("openid-connect");
    let opath = format!("{spath}/openid-connect");
    if let Some(oidc) = oidc
        && let Some(ttl) = ctx.seconds(oidc, &opath, "id-token-ttl")
    {
        if lifetimes.id_token.is_some() {
            ctx.problem(
                &format!("{spath}/id-token-ttl"),
                server,
                "is also set as openid-connect/id-token-ttl: set it once",
            );
        }
        lifetimes.id_token = Some(ttl);
    }
    config.token_settings = TokenSettings {
        lifetimes,
        require_pairwise_subject_identifiers: oidc
            .map(|o| ctx.presence(o, &opath, "require-pairwise-subject-identifiers"))
            .unwrap_or(false),
        // Files written before Tessera knew the switch have no <openid-connect> at all.
        expose_metadata: oidc.is_none_or(|o| o.child("expose-metadata").is_some()),
    };
    config.token_authentication_profile = server
        .at(&["authentication-service", "authentication-profile"])
        .and_then(|p| p.text.clone())
        .filter(|p| !p.is_empty());
    config.profile_capabilities = server.child("client-capabilities").map(capabilities);
    if let Some(scopes) = server.child("scopes") {
        for scope in scopes.children_named("scope") {
            config.scopes.push(ScopeDefinition {
                id: key(scope),
                description: scope.child_text("description").map(str::to_owned),
                claims: Ctx::values(scope, "claims"),
            });
        }
    }
    if let Some(claims) = server.child("claims") {
        for claim in claims.children_named("claim") {
            config.claims.push(ClaimDefinition {
                name: claim.child_text("name").unwrap_or_default().to_owned(),
                description: claim.child_text("description").map(str::to_owned),
            });
        }
    }
    if let Some(clients) = server.at(&["client-store", "config-backed"]) {
        for c in clients.children_named("client") {
            let cpath = format!("{spath}/client-store/config-backed/client[{}]", key(c));
            if let Some(client) = read_client(ctx, c, &cpath) {
                config.clients.push(client);
            }
        }
    }
}

fn read_authenticator(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Authenticator> {
    let typed: Vec<&Node> = node
        .children
        .iter()
        .filter(|c| super::schema::AUTHENTICATOR_TYPES.contains(&c.name.as_str()))
        .collect();
    let [block] = typed.as_slice() else {
        ctx.problem(
            path,
            node,
            format!(
                "an authenticator needs exactly one of <html-form>, <passkeys>, <email>, <username> (found {})",
                typed.len()
            ),
        );
        return None;
    };
    let bpath = format!("{path}/{}", block.name);
    let reference = |name: &str| {
        block
            .child_text(name)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let kind = match block.name.as_str() {
        "html-form" => AuthenticatorKind::HtmlForm(HtmlForm {
            account_manager: reference("account-manager"),
            credential_manager: reference("credential-manager"),
            password_only: ctx.boolean(block, &bpath, "password-only", false),
        }),
        "passkeys" => {
            let d = Passkeys::default();
            AuthenticatorKind::Passkeys(Passkeys {
                account_manager: reference("account-manager"),
                allow_registration_during_login: ctx.boolean(
                    block,
                    &bpath,
                    "allow-registration-during-login",
                    d.allow_registration_during_login,
                ),
                enable_discoverable_credentials: ctx.boolean(
                    block,
                    &bpath,
                    "enable-discoverable-credentials",
                    d.enable_discoverable_credentials,
                ),
                require_user_to_set_alias: ctx.boolean(
                    block,
                    &bpath,
                    "require-user-to-set-alias",
                    d.require_user_to_set_alias,
                ),
                user_display_name_attribute: reference("user-display-name-attribute")
                    .unwrap_or(d.user_display_name_attribute),
            })
        }
        "email" => {
            let d = Email::default();
            AuthenticatorKind::Email(Email {
                account_manager: reference("account-manager"),
                delivery: if block.child("send-otp-as-code").is_some() {
                    EmailDelivery::Code
                } else {
                    EmailDelivery::Link
                },
                email_provider: reference("email-provider"),
                max_challenges_sent: ctx
                    .number(block, &bpath, "max-challenges-sent")
                    .unwrap_or(d.max_challenges_sent),
                max_allowed_attempts: ctx
                    .number(block, &bpath, "max-allowed-attempts")
                    .unwrap_or(d.max_allowed_attempts),
                otp_lifetime: ctx
                    .seconds(block, &bpath, "otp-lifetime")
                    .unwrap_or(d.otp_lifetime),
                allow_inactive_accounts: ctx.boolean(
                    block,
                    &bpath,
                    "allow-inactive-accounts",
                    d.allow_inactive_accounts,
                ),
            })
        }
        _ => {
            let d = Username::default();
            AuthenticatorKind::Username(Username {
                auto_submit_preferred_user_name: ctx.boolean(
                    block,
                    &bpath,
                    "auto-submit-preferred-user-name",
                    d.auto_submit_preferred_user_name,
                ),
                remember_username: ctx.boolean(
                    block,
                    &bpath,
                    "remember-username",
                    d.remember_username,
                ),
            })
        }
    };
    Some(Authenticator {
        id: key(node),
        description: node.child_text("description").map(str::to_owned),
        required_for_registration: node
            .child_text("required-authenticator-for-registration")
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        kind,
    })
}

fn read_client(ctx: &mut Ctx, node: &Node, path: &str) -> Option<Client> {
    let id = key(node);
    let public = ctx.boolean(node, path, "no-authentication", false);
    if let Some(published) = node.child("jwks-uri") {
        if public
            || node.child("jwks").is_some()
            || node.child("secret").is_some()
            || node.child("secret-digest").is_some()
        {
            ctx.problem(
                path,
                node,
                "a client authenticates one way: <jwks-uri>, <jwks>, <secret> or <no-authentication>",
            );
            return None;
        }
        let uri = published.child_text("uri").unwrap_or_default();
        return match check_jwks_uri(uri) {
            Ok(()) => read_client_rest(
                ctx,
                node,
                path,
                id,
                ClientAuthentication::PrivateKeyJwtUri(uri.to_owned()),
            ),
            Err(why) => {
                ctx.problem(&format!("{path}/jwks-uri/uri"), published, why);
                None
            }
        };
    }
    if let Some(jwks) = node.child("jwks") {
        if public || node.child("secret").is_some() || node.child("secret-digest").is_some() {
            ctx.problem(
                path,
                node,
                "a client authenticates one way: <jwks>, <secret> or <no-authentication>",
            );
            return None;
        }
        return match read_jwks(jwks.text.as_deref().unwrap_or_default()) {
            Ok(normalised) => read_client_rest(
                ctx,
                node,
                path,
                id,
                ClientAuthentication::PrivateKeyJwt(normalised),
            ),
            Err(why) => {
                ctx.problem(&format!("{path}/jwks"), jwks, why);
                None
            }
        };
    }
    let authentication = match (
        public,
        node.child("secret"),
        node.child_text("secret-digest"),
    ) {
        (true, None, None) => ClientAuthentication::None,
        (true, _, _) => {
            ctx.problem(
                path,
                node,
                "a client with <no-authentication>true</no-authentication> cannot have a secret",
            );
            return None;
        }
        (false, Some(secret), _) => {
            let written = secret.text.as_deref().unwrap_or_default();
            let resolved = match ConfigSecrets::placeholder_name(written) {
                Some(name) => match ctx.secrets.placeholder(name) {
                    Some(value) => value,
                    None => {
                        ctx.problem(
                            &format!("{path}/secret"),
                            secret,
                            format!("is the placeholder #{{{name}}}, but the environment variable {name} is not set where this configuration is staged (a placeholder is never stored as the secret)"),
                        );
                        return None;
                    }
                },
                None => written.to_owned(),
            };
            let value = resolved.as_str();
            // A Curity export carries client secrets hashed; the hash is kept and checked as
            // one, never taken for the secret itself.
            if crate::crypto::legacy::scheme(value).is_some() {
                return read_client_rest(
                    ctx,
                    node,
                    path,
                    id,
                    ClientAuthentication::SecretHash(value.to_owned()),
                );
            }
            if value.chars().count() < MIN_CLIENT_SECRET_LEN {
                ctx.problem(
                    &format!("{path}/secret"),
                    secret,
                    format!("must be at least {MIN_CLIENT_SECRET_LEN} characters (it is compared by keyed digest, so it must be random)"),
                );
                return None;
            }
            match ctx.secrets.digest(&id, value) {
                Ok(digest) => ClientAuthentication::SecretDigest(digest),
                Err(e) => {
                    ctx.problem(&format!("{path}/secret"), secret, e.to_string());
                    return None;
                }
            }
        }
        (false, None, Some(digest)) => {
            if !ConfigSecrets::is_digest(digest) {
                ctx.problem(
                    &format!("{path}/secret-digest"),
                    node,
                    "is not a digest exported by Tessera",
                );
                return None;
            }
            ClientAuthentication::SecretDigest(digest.to_owned())
        }
        (false, None, None) => {
            ctx.problem(path, node, "a client needs a <secret> (confidential) or <no-authentication>true</no-authentication> (public)");
            return None;
        }
    };
    read_client_rest(ctx, node, path, id, authentication)
}

/// Where a client publishes its keys: https, or http on loopback (a key set travels in clear
/// otherwise, and anyone on the path could swap it).
fn check_jwks_uri(uri: &str) -> Result<(), String> {
    let url = url::Url::parse(uri).map_err(|e| format!("{uri:?} is not an absolute URL ({e})"))?;
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some(url::Host::Domain("localhost"))) => Ok(()),
        ("http", Some(url::Host::Ipv4(ip))) if ip.is_loopback() => Ok(()),
        ("http", Some(url::Host::Ipv6(ip))) if ip.is_loopback() => Ok(()),
        _ => Err(format!(
            "{uri:?} must be an https URL (http only on loopback)"
        )),
    }
}

/// A client's public keys for `private_key_jwt`: a JWKS with at least one public key,
/// normalised (also used for key sets fetched from a client's `jwks-uri`).
pub fn read_jwks(text: &str) -> Result<String, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("is not a JSON Web Key Set ({e})"))?;
    let keys = value
        .get("keys")
        .and_then(|k| k.as_array())
        .filter(|k| !k.is_empty())
        .ok_or("must be a JSON object with a non-empty \"keys\" array")?;
    for key in keys {
        let kty = key.get("kty").and_then(|k| k.as_str()).unwrap_or_default();
        if !matches!(kty, "EC" | "RSA") {
            return Err(format!(
                "key type {kty:?} is not supported (EC or RSA public keys)"
            ));
        }
        if key.get("d").is_some() {
            return Err("holds a private key: publish only the public keys".into());
        }
    }
    serde_json::to_string(&value).map_err(|e| e.to_string())
}

fn read_client_rest(
    ctx: &mut Ctx,
    node: &Node,
    path: &str,
    id: String,
    authentication: ClientAuthentication,
) -> Option<Client> {
    let mut capabilities = node
        .child("capabilities")
        .map(capabilities)
        .unwrap_or_default();
    // Curity's rule: a code-flow client gets refresh tokens unless its refresh-token-ttl is
    // `disabled`. (Tessera's older <refresh/> flag is still read; it adds nothing.)
    capabilities.refresh = capabilities.code && !refresh_disabled(node);
    let require_pkce = node
        .child("proof-key")
        .map(|p| ctx.boolean(p, &format!("{path}/proof-key"), "require-proof-key", true))
        .unwrap_or(true);
    let auth = node.child("user-authentication");
    let id_token_algorithm = match node.child("id-token-signing-algorithm") {
        None => IdTokenAlgorithm::default(),
        Some(alg) => match alg.text.as_deref() {
            Some("RS256") => IdTokenAlgorithm::Rs256,
            Some("ES256") => IdTokenAlgorithm::Es256,
            other => {
                ctx.problem(
                    &format!("{path}/id-token-signing-algorithm"),
                    alg,
                    format!("{:?} is not RS256 or ES256", other.unwrap_or_default()),
                );
                IdTokenAlgorithm::default()
            }
        },
    };
    Some(Client {
        name: node.child_text("client-name").map(str::to_owned),
        description: node.child_text("description").map(str::to_owned),
        authentication,
        redirect_uris: Ctx::values(node, "redirect-uris"),
        post_logout_redirect_uris: auth
            .map(|a| Ctx::values(a, "allowed-post-logout-redirect-uris"))
            .unwrap_or_default(),
        allowed_origins: Ctx::values(node, "allowed-origins"),
        scopes: Ctx::values(node, "scope"),
        audience: Ctx::values(node, "audience"),
        capabilities,
        require_pkce,
        allowed_authenticators: auth
            .map(|a| Ctx::values(a, "allowed-authenticators"))
            .unwrap_or_default(),
        // The container alone asks for pairwise subjects; its sector defaults to the client.
        sector_identifier: node.child("use-pairwise-subject-identifiers").map(|p| {
            p.child_text("sector-identifier")
                .filter(|s| !s.is_empty())
                .unwrap_or(&id)
                .to_owned()
        }),
        lifetimes: ctx.lifetimes(node, path),
        id_token_algorithm,
        validate_port_on_loopback: ctx.boolean(
            node,
            path,
            "validate-port-on-loopback-interfaces",
            false,
        ),
        id,
    })
}
