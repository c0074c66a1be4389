//! Which of the requested scopes are granted (RFC 6749 §3.3).
//!
//! The server may grant less than was asked and say so in the token response's `scope`.
//! Tessera grants the requested scopes the client is registered for and drops the rest, as
//! Keycloak and oidc-provider do: a relying party that asks for `openid profile email address
//! phone` from a client registered for fewer scopes signs in with what it may have. A request
//! is refused (`invalid_scope`) only when nothing usable is left, or when it asks for an ID
//! token (`openid`) that the client may not receive.

/// The scopes Tessera itself knows how to fill (claims in the ID token and UserInfo), listed in
/// discovery. Clients may be registered for other scopes (API permissions), granted as asked.
pub const STANDARD_SCOPES: &[&str] = &["openid", "profile", "email", "phone", "groups"];

/// The scope that puts the user's group names in the `groups` claim.
pub const GROUPS: &str = "groups";

/// Why a scope request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeRefusal {
    /// None of the requested scopes is one the client may have.
    NothingGrantable,
    /// `openid` was requested by a client that is not registered for it.
    OpenIdNotAllowed,
    /// A refresh asked only for scopes that were not granted originally.
    NotOriginallyGranted,
}

impl ScopeRefusal {
    /// The sentence sent as `error_description`.
    pub fn description(&self) -> &'static str {
        match self {
            ScopeRefusal::NothingGrantable => {
                "None of the requested scopes is allowed for this client."
            }
            ScopeRefusal::OpenIdNotAllowed => {
                "This client is not registered for the openid scope, so it cannot receive an ID token."
            }
            ScopeRefusal::NotOriginallyGranted => {
                "None of the requested scopes was granted to this refresh token."
            }
        }
    }
}

/// The distinct scopes of a space-separated `scope` value, in request order.
pub fn parse(value: &str) -> Vec<&str> {
    let mut scopes: Vec<&str> = Vec::new();
    for scope in value.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes
}

/// The requested scopes that `allowed` contains, in request order.
pub fn grant(requested: &str, allowed: &[String]) -> Result<Vec<String>, ScopeRefusal> {
    let requested = parse(requested);
    let is_allowed = |scope: &str| allowed.iter().any(|a| a == scope);
    if requested.contains(&"openid") && !is_allowed("openid") {
        return Err(ScopeRefusal::OpenIdNotAllowed);
    }
    let granted: Vec<String> = requested
        .into_iter()
        .filter(|s| is_allowed(s))
        .map(str::to_owned)
        .collect();
    if granted.is_empty() {
        return Err(ScopeRefusal::NothingGrantable);
    }
    Ok(granted)
}

/// The scopes of a refreshed token: those requested that the original grant holds, or the
/// whole original grant when none are requested (RFC 6749 §6).
pub fn narrow(requested: Option<&str>, granted: &[String]) -> Result<Vec<String>, ScopeRefusal> {
    match requested {
        None => Ok(granted.to_vec()),
        Some(requested) => {
            grant(requested, granted).map_err(|_| ScopeRefusal::NotOriginallyGranted)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scopes_the_client_may_not_have_are_dropped_and_the_rest_kept_in_order() {
        let granted = grant(
            "openid profile email address phone",
            &allowed(&["openid", "profile", "email"]),
        );
        assert_eq!(granted.unwrap(), ["openid", "profile", "email"]);
    }

    #[test]
    fn repeated_and_extra_spaces_are_ignored() {
        let granted = grant("  email openid  email ", &allowed(&["openid", "email"]));
        assert_eq!(granted.unwrap(), ["email", "openid"]);
    }

    #[test]
    fn only_unknown_scopes_are_refused() {
        assert_eq!(
            grant("address admin", &allowed(&["openid", "profile"])),
            Err(ScopeRefusal::NothingGrantable)
        );
        assert_eq!(
            grant("   ", &allowed(&["openid"])),
            Err(ScopeRefusal::NothingGrantable)
        );
    }

    #[test]
    fn openid_for_a_client_without_it_is_refused_rather_than_silently_dropped() {
        assert_eq!(
            grant("openid read", &allowed(&["read"])),
            Err(ScopeRefusal::OpenIdNotAllowed)
        );
    }

    #[test]
    fn a_refresh_narrows_to_what_was_granted_and_never_widens() {
        let original = allowed(&["openid", "profile"]);
        assert_eq!(narrow(None, &original).unwrap(), original);
        assert_eq!(
            narrow(Some("profile email"), &original).unwrap(),
            ["profile"]
        );
        assert_eq!(
            narrow(Some("email"), &original),
            Err(ScopeRefusal::NotOriginallyGranted)
        );
    }
}
