//! Redirect URI matching (exact, RFC 9700 §4.1.3) with the RFC 8252 §7.3 exception for native
//! apps: on a loopback IP literal any port is accepted, since the app picks one at run time.

use url::Url;

fn is_loopback_literal(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// True when `presented` is `registered`, character for character — or, for a loopback IP
/// literal and unless `validate_port` is set, the same URI on another port.
pub fn redirect_uri_matches(registered: &str, presented: &str, validate_port: bool) -> bool {
    if registered == presented {
        return true;
    }
    if validate_port {
        return false;
    }
    let (Ok(r), Ok(p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    // Compared as written, port removed, so that no URL normalisation can make two different
    // strings match.
    is_loopback_literal(&r)
        && is_loopback_literal(&p)
        && strip_port(registered) == strip_port(presented)
}

/// `uri` as written, without its port.
fn strip_port(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    };
    let tail = if tail.is_empty() { "/" } else { tail };
    format!("{scheme}://{host}{tail}")
}

/// The redirect carrying an authorization error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub fn error_redirect(
    redirect_uri: &str,
    error: &str,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    pairs.append_pair("error", error);
    // RFC 6749 §4.1.2.1 limits the description's characters.
    let safe: String = description
        .chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect();
    pairs.append_pair("error_description", &safe);
    if let Some(state) = state {
        pairs.append_pair("state", state);
    }
    pairs.append_pair("iss", issuer);
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", pairs.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_redirect_uris_match_exactly() {
        let r = "https://app.example.com/callback";
        assert!(redirect_uri_matches(r, r, false));
        for other in [
            "https://app.example.com/callback/",
            "https://app.example.com/Callback",
            "https://app.example.com:443/callback",
            "https://app.example.com/callback?x=1",
            "https://evil.example.com/callback",
            "https://app.example.com.evil.example/callback",
            "https://app.example.com/%63allback",
        ] {
            assert!(!redirect_uri_matches(r, other, false), "{other}");
        }
    }

    #[test]
    fn loopback_redirect_uris_accept_any_port_unless_told_otherwise() {
        let r = "http://127.0.0.1/callback";
        assert!(redirect_uri_matches(
            r,
            "http://127.0.0.1:51004/callback",
            false
        ));
        assert!(redirect_uri_matches(
            "http://127.0.0.1:8000/callback",
            "http://127.0.0.1:9/callback",
            false
        ));
        assert!(redirect_uri_matches(
            "http://[::1]/cb",
            "http://[::1]:6000/cb",
            false
        ));
        assert!(!redirect_uri_matches(
            r,
            "http://127.0.0.1:51004/other",
            false
        ));
        assert!(!redirect_uri_matches(
            r,
            "http://localhost:51004/callback",
            false
        ));
        assert!(!redirect_uri_matches(
            r,
            "https://127.0.0.1:51004/callback",
            false
        ));
        assert!(!redirect_uri_matches(
            r,
            "http://127.0.0.1:51004/callback",
            true
        ));
        // localhost is not an IP literal: exact match only (RFC 8252 §8.3).
        assert!(!redirect_uri_matches(
            "http://localhost/cb",
            "http://localhost:3000/cb",
            false
        ));
    }

    #[test]
    fn native_private_use_schemes_match_exactly() {
        let r = "com.example.demo:/callback";
        assert!(redirect_uri_matches(r, r, false));
        assert!(!redirect_uri_matches(
            r,
            "com.example.demo:/callback2",
            false
        ));
    }

    #[test]
    fn error_redirects_carry_state_and_iss_and_keep_an_existing_query() {
        let url = error_redirect(
            "https://app.example.com/cb?tenant=a",
            "invalid_scope",
            "Scope \"x\" is not allowed",
            Some("s t"),
            "https://id.example.com",
        );
        assert_eq!(
            url,
            "https://app.example.com/cb?tenant=a&error=invalid_scope&error_description=Scope+x+is+not+allowed&state=s+t&iss=https%3A%2F%2Fid.example.com"
        );
    }
}
