//! Decisions about whole objects of an imported file, and its `#{NAME}` placeholders. Each rule
//! looks at an object with its foreign (unsupported) parts still in place, because what is
//! missing decides whether the object can come over at all.

use std::collections::{HashMap, HashSet};

use super::{Outcome, Report, Staging, entry_path};
use crate::config::schema::AUTHENTICATOR_TYPES;
use crate::config::tree::{Node, Problem};
use crate::config::validate::check_redirect_uri;
use crate::secrets::ConfigSecrets;

const AUTHENTICATORS: &[&str] = &["settings", "authentication-service", "authenticators"];
const CLIENTS: &[&str] = &[
    "settings",
    "authorization-server",
    "client-store",
    "config-backed",
];

/// Ways a Curity client authenticates that Tessera does not have.
const FOREIGN_CLIENT_AUTHENTICATION: &[&str] = &[
    "asymmetric-key",
    "mutual-tls",
    "mutual-tls-by-proxy",
    "symmetric-key",
    "credential-manager",
    "client-authentication-method",
];

/// Resolves placeholders in every supported value: from the environment when it has the
/// variable; otherwise a problem (staging) or a report entry and a stand-in (dry run).
/// A client secret's placeholder is left for the reader, which resolves it and never stores it.
pub fn placeholders(
    node: &mut Node,
    path: &str,
    secrets: &ConfigSecrets,
    staging: Staging,
    report: &mut Report,
    problems: &mut Vec<Problem>,
) {
    for child in node.children.iter_mut().filter(|c| c.foreign.is_none()) {
        // List entries by key (every list of the subset is keyed by <id>, claims by <name>).
        let inner = match child.child_text("id").or(child.child_text("name")) {
            Some(key) if !child.children.is_empty() => format!("{path}/{}[{key}]", child.name),
            _ => format!("{path}/{}", child.name),
        };
        placeholders(child, &inner, secrets, staging, report, problems);
    }
    let Some(text) = node.text.clone() else {
        return;
    };
    let mut resolved = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("#{") {
        let Some(name) = rest[start..]
            .find('}')
            .map(|end| &rest[start..start + end + 1])
            .and_then(ConfigSecrets::placeholder_name)
        else {
            break;
        };
        resolved.push_str(&rest[..start]);
        let value = secrets.placeholder(name);
        let is_secret = node.name == "secret";
        match (value, staging) {
            (Some(value), _) if !is_secret => resolved.push_str(&value),
            (Some(_), _) | (None, Staging::Stage) if is_secret => {
                resolved.push_str(&format!("#{{{name}}}"));
            }
            (None, Staging::DryRun) => {
                report.add(
                    path,
                    node.line,
                    Outcome::NeedsEnvironment,
                    format!("#{{{name}}}: set {name} where the import is staged (checked here with a stand-in)"),
                );
                resolved.push_str(&stand_in(is_secret, start == 0 && resolved.is_empty()));
            }
            _ => problems.push(Problem::new(
                path,
                node.line,
                format!("is the placeholder #{{{name}}}, but the environment variable {name} is not set where this import is staged"),
            )),
        }
        rest = &rest[start + name.len() + 3..];
    }
    resolved.push_str(rest);
    node.text = Some(resolved);
}

/// What a dry run checks in place of an unset variable.
fn stand_in(secret: bool, starts_value: bool) -> String {
    if secret {
        "dry-run-stand-in-for-a-secret-from-the-environment".into()
    } else if starts_value {
        "https://localhost".into()
    } else {
        "localhost".into()
    }
}

/// Refuses or rewrites whole objects: account managers, authenticators, clients.
pub fn objects(root: &mut Node, report: &mut Report) {
    let facts = Facts::gather(root);
    let managers = account_managers(root, &facts, report);
    let mut refused = HashSet::new();
    for_each_profile(root, AUTHENTICATORS, |base, list| {
        list.children.retain(|a| {
            if a.name != "authenticator" || a.foreign.is_some() {
                return true;
            }
            let path = entry_path(base, a, "id");
            match authenticator_refusal(a, &managers, &facts) {
                Some(why) => {
                    report.add(path, a.line, Outcome::Refused, why);
                    refused.insert(a.child_text("id").unwrap_or_default().to_owned());
                    false
                }
                None => true,
            }
        });
    });
    // A passkey authenticator whose required registration authenticator is gone would let
    // anyone register: it goes too.
    for_each_profile(root, AUTHENTICATORS, |base, list| {
        list.children.retain(|a| {
            let required = a.child_text("required-authenticator-for-registration");
            match required.filter(|r| refused.contains(*r)) {
                Some(r) => {
                    report.add(
                        entry_path(base, a, "id"),
                        a.line,
                        Outcome::Refused,
                        format!(
                            "registering with it requires authenticator {r:?}, which is refused"
                        ),
                    );
                    false
                }
                None => true,
            }
        });
    });
    let verification_keys = super::keys::verification_keys(root);
    for_each_profile(root, CLIENTS, |base, list| {
        list.children.retain_mut(|c| {
            if c.name != "client" || c.foreign.is_some() {
                return true;
            }
            let path = entry_path(base, c, "id");
            super::keys::carry_asymmetric_key(c, &path, &verification_keys, report);
            match client_refusal(c, &refused, &path, report) {
                Some(why) => {
                    report.add(path, c.line, Outcome::Refused, why);
                    false
                }
                None => true,
            }
        });
    });
}

/// What the file says about things Tessera does not carry, needed to judge what it does.
struct Facts {
    /// Data source id → its type (`jdbc`, `ldap`, …).
    data_sources: HashMap<String, String>,
    /// Authentication action id → its definition.
    actions: HashMap<String, Node>,
}

impl Facts {
    fn gather(root: &Node) -> Self {
        let typed = |list: Option<&Node>, entry: &str| -> HashMap<String, Node> {
            list.map(|l| {
                l.children_named(entry)
                    .map(|e| (e.child_text("id").unwrap_or_default().to_owned(), e.clone()))
                    .collect()
            })
            .unwrap_or_default()
        };
        let data_sources = typed(root.at(&["facilities", "data-sources"]), "data-source")
            .into_iter()
            .filter_map(|(id, node)| {
                let kind = node.children.iter().find(|c| c.name != "id")?.name.clone();
                Some((id, kind))
            })
            .collect();
        let mut actions = typed(
            root.at(&["processing", "authentication-actions"]),
            "authentication-action",
        );
        for profile in root
            .child("profiles")
            .into_iter()
            .flat_map(|p| p.children_named("profile"))
        {
            actions.extend(typed(
                profile.at(&[
                    "settings",
                    "authentication-service",
                    "authentication-actions",
                ]),
                "authentication-action",
            ));
        }
        Facts {
            data_sources,
            actions,
        }
    }

    /// True when an action (or one it runs) can ask for another factor: dropping it would
    /// make sign-in weaker.
    fn adds_authentication(&self, id: &str, seen: &mut HashSet<String>) -> bool {
        if !seen.insert(id.to_owned()) {
            return false;
        }
        let Some(action) = self.actions.get(id) else {
            return false;
        };
        let mut stack = vec![action];
        while let Some(node) = stack.pop() {
            if node.name.contains("multi-factor") || node.name == "authenticator" {
                return true;
            }
            if let Some(text) = &node.text
                && text != id
                && self.actions.contains_key(text)
                && self.adds_authentication(text, seen)
            {
                return true;
            }
            stack.extend(node.children.iter());
        }
        false
    }
}

/// Account managers: refused when their accounts sit in a data source Tessera cannot read;
/// `no-verification` registration becomes Tessera's email verification. Returns the refused.
fn account_managers(root: &mut Node, facts: &Facts, report: &mut Report) -> HashSet<String> {
    let mut refused = HashSet::new();
    let Some(list) = child_mut(root, &["processing", "account-managers"]) else {
        return refused;
    };
    let base = "/processing/account-managers";
    list.children.retain_mut(|m| {
        if m.name != "account-manager" || m.foreign.is_some() {
            return true;
        }
        let path = entry_path(base, m, "id");
        let source = m.child_text("account-data-source").unwrap_or_default();
        if let Some(kind) = facts.data_sources.get(source).filter(|k| *k != "jdbc") {
            report.add(
                &path,
                m.line,
                Outcome::Refused,
                format!("its accounts are in a <{kind}> data source, which Tessera cannot read: its authenticators would find no one"),
            );
            refused.insert(m.child_text("id").unwrap_or_default().to_owned());
            return false;
        }
        if let Some(method) = child_mut(m, &["enable-registration", "account-verification-method"])
            && method.text.as_deref() == Some("no-verification")
        {
            method.text = Some(crate::config::read::EMAIL_VERIFICATION.into());
            report.add(
                format!("{path}/enable-registration/account-verification-method"),
                method.line,
                Outcome::Changed,
                "no-verification becomes email-verification: Tessera creates an account once its address is verified (the address is how a passwordless account signs in and recovers)",
            );
        }
        true
    });
    refused
}

fn authenticator_refusal(a: &Node, managers: &HashSet<String>, facts: &Facts) -> Option<String> {
    let known = a
        .children
        .iter()
        .find(|c| c.foreign.is_none() && AUTHENTICATOR_TYPES.contains(&c.name.as_str()));
    let Some(block) = known else {
        let kind = a
            .children
            .iter()
            .find(|c| {
                c.foreign.is_some()
                    && !matches!(
                        c.name.as_str(),
                        "authentication-actions" | "previous-authenticator" | "account-domain"
                    )
            })
            .map_or("unknown".to_owned(), |c| c.name.clone());
        return Some(format!(
            "<{kind}> authenticators are not supported (Tessera has html-form, passkeys, email and username)"
        ));
    };
    if let Some(previous) = a.child_text("previous-authenticator") {
        return Some(format!(
            "it runs after authenticator {previous:?} as a second step; Tessera has no authenticator chains, and alone it would be one factor"
        ));
    }
    if let Some(manager) = block
        .child_text("account-manager")
        .filter(|m| managers.contains(*m))
    {
        return Some(format!("its account manager {manager:?} is refused"));
    }
    let actions = a.child("authentication-actions");
    for id in actions
        .into_iter()
        .flat_map(|n| n.children.iter())
        .filter_map(|n| n.text.as_deref())
    {
        if facts.adds_authentication(id, &mut HashSet::new()) {
            return Some(format!(
                "its login action {id:?} can ask for another factor; without actions it would be one factor"
            ));
        }
    }
    None
}

/// Why a client cannot come over, if it cannot. Also drops refused authenticators from its
/// list (reported) when others remain.
fn client_refusal(
    c: &mut Node,
    refused_authenticators: &HashSet<String>,
    path: &str,
    report: &mut Report,
) -> Option<String> {
    short_secret_as_hash(c, path, report);
    let has = |name: &str| {
        c.children
            .iter()
            .any(|n| n.name == name && n.foreign.is_none())
    };
    let capabilities = c.child("capabilities");
    if c.child("attestation").is_some()
        || capabilities.is_some_and(|caps| caps.child("haapi").is_some())
    {
        return Some("a HAAPI client proves its app with attestation; Tessera has no HAAPI, and without it the client would be weaker".into());
    }
    if !has("secret") && !has("no-authentication") && !has("jwks") && !has("jwks-uri") {
        let methods: Vec<String> = c
            .children
            .iter()
            .filter(|n| FOREIGN_CLIENT_AUTHENTICATION.contains(&n.name.as_str()))
            .map(|n| format!("<{}>", n.name))
            .collect();
        if !methods.is_empty() {
            return Some(format!(
                "it authenticates only with {}, which Tessera does not support (it has client secrets, private_key_jwt with <jwks> or <jwks-uri>, and public clients)",
                methods.join(", ")
            ));
        }
    }
    if let Some(caps) = capabilities {
        let known = caps.children.iter().any(|n| n.foreign.is_none());
        if !known && !caps.children.is_empty() {
            let names: Vec<String> = caps
                .children
                .iter()
                .map(|n| format!("<{}>", n.name))
                .collect();
            return Some(format!(
                "its only capabilities, {}, are not supported",
                names.join(", ")
            ));
        }
    }
    if capabilities.is_some_and(|caps| caps.child("code").is_some_and(|n| n.foreign.is_none())) {
        for uri in c
            .children_named("redirect-uris")
            .filter_map(|n| n.text.as_deref())
        {
            if let Err(why) = check_redirect_uri(uri) {
                return Some(format!("redirect URI {uri:?} {why} (RFC 9700 §2.1)"));
            }
        }
    }
    let auth = c
        .children
        .iter_mut()
        .find(|n| n.name == "user-authentication")?;
    let listed = auth.children_named("allowed-authenticators").count();
    let mut dropped = Vec::new();
    auth.children.retain(|n| {
        let gone = n.name == "allowed-authenticators"
            && n.text
                .as_deref()
                .is_some_and(|id| refused_authenticators.contains(id));
        if gone {
            dropped.push((n.line, n.text.clone().unwrap_or_default()));
        }
        !gone
    });
    if listed > 0 && dropped.len() == listed {
        return Some(
            "every authenticator it allows is refused (an empty list would allow all)".into(),
        );
    }
    for (line, id) in dropped {
        report.add(
            format!("{path}/user-authentication/allowed-authenticators"),
            line,
            Outcome::Changed,
            format!("authenticator {id:?} is refused, so this client no longer lists it"),
        );
    }
    None
}

/// A literal secret too short for Tessera's keyed digest (Curity takes any) still works after
/// the import: it is kept hashed as Curity itself stores client secrets (SHA-256-crypt, 5,000
/// rounds), and reported.
fn short_secret_as_hash(c: &mut Node, path: &str, report: &mut Report) {
    let Some(secret) = c
        .children
        .iter_mut()
        .find(|n| n.name == "secret" && n.foreign.is_none())
    else {
        return;
    };
    let value = secret.text.clone().unwrap_or_default();
    if value.is_empty()
        || value.chars().count() >= crate::config::MIN_CLIENT_SECRET_LEN
        || ConfigSecrets::placeholder_name(&value).is_some()
        || crate::crypto::legacy::scheme(&value).is_some()
    {
        return;
    }
    let hash = sha_crypt::Sha256Params::new(sha_crypt::ROUNDS_DEFAULT)
        .ok()
        .and_then(|params| sha_crypt::sha256_simple(&value, &params).ok());
    let Some(hash) = hash else {
        return; // left as it is: the reader reports the short secret
    };
    secret.text = Some(hash);
    report.add(
        format!("{path}/secret"),
        secret.line,
        Outcome::Changed,
        format!(
            "shorter than {} characters: kept hashed as Curity stores it (SHA-256-crypt) so it still works; replace it with a long random secret",
            crate::config::MIN_CLIENT_SECRET_LEN
        ),
    );
}

/// Runs `f` on the list container at `inner` of every profile, with its path.
fn for_each_profile(root: &mut Node, inner: &[&str], mut f: impl FnMut(&str, &mut Node)) {
    let Some(profiles) = child_mut(root, &["profiles"]) else {
        return;
    };
    for profile in profiles
        .children
        .iter_mut()
        .filter(|p| p.name == "profile" && p.foreign.is_none())
    {
        let base = format!(
            "/profiles/profile[{}]/{}",
            profile.child_text("id").unwrap_or_default(),
            inner.join("/")
        );
        if let Some(list) = child_mut(profile, inner) {
            f(&base, list);
        }
    }
}

fn child_mut<'a>(node: &'a mut Node, path: &[&str]) -> Option<&'a mut Node> {
    path.iter().try_fold(node, |n, name| {
        n.children
            .iter_mut()
            .find(|c| c.name == *name && c.foreign.is_none())
    })
}
