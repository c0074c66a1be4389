//! Commit-time validation: the whole configuration must hang together — every reference
//! resolves, every client can still authenticate, redirect URIs are safe.

use std::collections::HashSet;

use url::Url;

use super::model::*;
use super::tree::{Problem, Problems};

const AUTHN_BASE: &str = "/profiles/profile[{p}]/settings/authentication-service/authenticators";
const CLIENT_BASE: &str =
    "/profiles/profile[{p}]/settings/authorization-server/client-store/config-backed";

/// Checks `config` as a whole; lists every problem.
pub fn validate(config: &Configuration) -> Result<(), Problems> {
    let mut problems = Vec::new();
    let mut p = |path: String, message: String| problems.push(Problem::new(path, 0, message));
    let authn_base = AUTHN_BASE.replace(
        "{p}",
        config.authentication_profile.as_deref().unwrap_or("?"),
    );
    let client_base = CLIENT_BASE.replace("{p}", config.token_profile.as_deref().unwrap_or("?"));

    let providers: HashSet<&str> = config
        .email_providers
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    let managers: HashSet<&str> = config
        .account_managers
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    let authenticators: HashSet<&str> = config
        .authenticators
        .iter()
        .map(|a| a.id.as_str())
        .collect();

    if let Some(default) = &config.default_email_provider
        && !providers.contains(default.as_str())
    {
        p(
            "/environments/environment/services/zones/default-zone/email-provider".into(),
            format!("refers to email provider {default:?}, which is not defined"),
        );
    }
    for a in &config.authenticators {
        let path = format!("{authn_base}/authenticator[{}]", a.id);
        if let Some(manager) = a.kind.account_manager()
            && !managers.contains(manager)
        {
            p(
                format!("{path}/{}/account-manager", a.kind.type_name()),
                format!("refers to account manager {manager:?}, which is not defined"),
            );
        }
        if let Some(required) = &a.required_for_registration {
            if required == &a.id {
                p(
                    format!("{path}/required-authenticator-for-registration"),
                    "cannot be the authenticator itself".into(),
                );
            } else if !authenticators.contains(required.as_str()) {
                p(
                    format!("{path}/required-authenticator-for-registration"),
                    format!("refers to authenticator {required:?}, which is not defined"),
                );
            }
        }
        if let AuthenticatorKind::Email(email) = &a.kind {
            match &email.email_provider {
                Some(provider) if !providers.contains(provider.as_str()) => p(
                    format!("{path}/email/email-provider"),
                    format!("refers to email provider {provider:?}, which is not defined"),
                ),
                None if config.default_email_provider.is_none() => p(
                    format!("{path}/email"),
                    "sends email but names no <email-provider> and the zone has no default email provider".into(),
                ),
                _ => {}
            }
        }
    }
    check_token_profile(config, &mut p);
    if config.token_profile.is_some()
        && config.authentication_profile.is_none()
        && config.clients.iter().any(|c| c.capabilities.code)
    {
        p(
            "/profiles".into(),
            "clients use the code flow but there is no authentication-service profile".into(),
        );
    }
    for c in &config.clients {
        let path = format!("{client_base}/client[{}]", c.id);
        if c.is_public() && !c.require_pkce {
            p(
                format!("{path}/proof-key/require-proof-key"),
                "a public client cannot opt out of PKCE".into(),
            );
        }
        if c.is_public() && c.capabilities.client_credentials {
            p(
                format!("{path}/capabilities/client-credentials"),
                "needs a confidential client (a <secret>)".into(),
            );
        }
        let caps = c.capabilities;
        if !caps.code && !caps.client_credentials && !caps.introspection {
            p(
                format!("{path}/capabilities"),
                "grants nothing: add <code/>, <client-credentials/> and/or <introspection/>".into(),
            );
        }
        if caps.introspection && c.is_public() {
            p(
                format!("{path}/capabilities/introspection"),
                "needs a confidential client (a <secret> or <jwks>)".into(),
            );
        }
        if let Some(allowed) = config.profile_capabilities {
            for (name, has, on) in [
                ("code", caps.code, allowed.code),
                (
                    "client-credentials",
                    caps.client_credentials,
                    allowed.client_credentials,
                ),
                ("introspection", caps.introspection, allowed.introspection),
            ] {
                if has && !on {
                    p(
                        format!("{path}/capabilities/{name}"),
                        format!("the profile's client-capabilities do not switch on {name}"),
                    );
                }
            }
        }
        for id in &c.allowed_authenticators {
            if !authenticators.contains(id.as_str()) {
                p(
                    format!("{path}/user-authentication/allowed-authenticators"),
                    format!("refers to authenticator {id:?}, which is not defined"),
                );
            }
        }
        if c.capabilities.code {
            if c.redirect_uris.is_empty() {
                p(
                    format!("{path}/redirect-uris"),
                    "a client with the code capability needs at least one redirect URI".into(),
                );
            }
            if config.allowed_authenticators(c).is_empty() {
                p(
                    format!("{path}/user-authentication"),
                    "users of this client could not authenticate: no authenticator is allowed"
                        .into(),
                );
            }
        }
        for uri in &c.redirect_uris {
            if let Err(why) = check_redirect_uri(uri) {
                p(format!("{path}/redirect-uris"), format!("{uri:?}: {why}"));
            }
        }
        for uri in &c.post_logout_redirect_uris {
            if let Err(why) = check_redirect_uri(uri) {
                p(
                    format!("{path}/user-authentication/allowed-post-logout-redirect-uris"),
                    format!("{uri:?}: {why}"),
                );
            }
        }
        for origin in &c.allowed_origins {
            let ok = Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "https" | "http") && u.path() == "/" && !origin.ends_with('/')
            });
            if !ok {
                p(
                    format!("{path}/allowed-origins"),
                    format!("{origin:?} is not an origin (scheme://host[:port])"),
                );
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// The token profile's own settings: the authentication profile it names, and the claims its
/// scopes release.
fn check_token_profile(config: &Configuration, p: &mut impl FnMut(String, String)) {
    let base = format!(
        "/profiles/profile[{}]/settings/authorization-server",
        config.token_profile.as_deref().unwrap_or("?")
    );
    if let Some(named) = &config.token_authentication_profile
        && config.authentication_profile.as_ref() != Some(named)
    {
        p(
            format!("{base}/authentication-service/authentication-profile"),
            format!("refers to authentication profile {named:?}, which is not defined"),
        );
    }
    if config.claims.is_empty() {
        return; // no claim definitions: every scope claim comes from the account as named
    }
    let defined: HashSet<&str> = config.claims.iter().map(|c| c.name.as_str()).collect();
    for scope in &config.scopes {
        for claim in &scope.claims {
            if !defined.contains(claim.as_str()) {
                p(
                    format!("{base}/scopes/scope[{}]/claims", scope.id),
                    format!("refers to claim {claim:?}, which is not defined under <claims>"),
                );
            }
        }
    }
}

/// Redirect URIs (RFC 9700 §2.1, RFC 8252): absolute, no fragment; https, or http on a
/// loopback address, or a private-use scheme in reverse-domain form for native apps.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let url = Url::parse(uri).map_err(|e| format!("is not an absolute URI ({e})"))?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment".into());
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Domain("localhost")) => Ok(()),
            _ => Err("http is only allowed for loopback addresses (use https)".into()),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" => {
            Err(format!("the {} scheme is not allowed", url.scheme()))
        }
        scheme if scheme.contains('.') => Ok(()),
        scheme => Err(format!(
            "private-use scheme {scheme:?} must be a reverse domain name such as com.example.app (RFC 8252 §7.1)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::check_redirect_uri;

    #[test]
    fn redirect_uris_must_be_https_loopback_or_reverse_domain_schemes() {
        for ok in [
            "https://app.example.com/callback",
            "http://127.0.0.1:5000/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "com.example.app:/callback",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "/relative",
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "javascript:alert(1)",
            "myapp:/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
