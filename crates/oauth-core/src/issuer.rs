use std::fmt;

use thiserror::Error;
use url::Url;

/// The public issuer identifier: an absolute `https` URL (or `http` on a loopback host for
/// development) with no query or fragment, possibly with a path (`https://id.example/tenant`).
///
/// Every endpoint URL is derived from it, so a server behind a proxy advertises the address
/// clients actually use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    /// Normalised, without a trailing slash.
    url: String,
    /// The path part without a trailing slash: "" or "/tenant".
    path: String,
}

/// Why a string is not a valid issuer.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IssuerError {
    /// Empty value.
    #[error("must not be empty")]
    Empty,
    /// Not a URL.
    #[error("is not an absolute URL ({0})")]
    NotAUrl(String),
    /// Wrong scheme.
    #[error("must use https (http is accepted only for localhost or in development)")]
    NotHttps,
    /// Query or fragment present.
    #[error("must not contain a query or fragment")]
    QueryOrFragment,
}

impl Issuer {
    /// Parses and validates an issuer; `allow_http` permits `http` on any host (development).
    pub fn parse(raw: &str, allow_http: bool) -> Result<Self, IssuerError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(IssuerError::Empty);
        }
        let url = Url::parse(raw).map_err(|e| IssuerError::NotAUrl(e.to_string()))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(IssuerError::QueryOrFragment);
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_http || is_loopback(&url) => {}
            "http" => return Err(IssuerError::NotHttps),
            _ => return Err(IssuerError::NotAUrl("scheme must be https".into())),
        }
        if url.host_str().is_none_or(str::is_empty) || url.cannot_be_a_base() {
            return Err(IssuerError::NotAUrl("no host".into()));
        }
        let path = url.path().trim_end_matches('/').to_owned();
        let url = url.as_str().trim_end_matches('/').to_owned();
        Ok(Issuer { url, path })
    }

    /// The issuer as published (`iss`), without trailing slash.
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The path under which every protocol route is mounted: "" or "/tenant".
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The issuer's origin (`scheme://host[:port]`), where the server's root routes are.
    pub fn origin(&self) -> &str {
        &self.url[..self.url.len() - self.path.len()]
    }

    /// The absolute URL of an endpoint path such as `/oauth/token`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// True when the issuer uses https (the server then sends HSTS and secure cookies).
    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_keeps_its_path_and_drops_the_trailing_slash() {
        let issuer = Issuer::parse("https://id.example.com/tenant/", false).unwrap();
        assert_eq!(issuer.as_str(), "https://id.example.com/tenant");
        assert_eq!(issuer.path(), "/tenant");
        assert_eq!(
            issuer.endpoint("/oauth/token"),
            "https://id.example.com/tenant/oauth/token"
        );
    }

    #[test]
    fn issuer_at_the_root_has_an_empty_path() {
        let issuer = Issuer::parse("https://id.example.com", false).unwrap();
        assert_eq!(issuer.path(), "");
        assert_eq!(issuer.as_str(), "https://id.example.com");
    }

    #[test]
    fn plain_http_is_refused_except_on_loopback_or_in_development() {
        assert_eq!(
            Issuer::parse("http://id.example.com", false),
            Err(IssuerError::NotHttps)
        );
        assert!(Issuer::parse("http://127.0.0.1:8080", false).is_ok());
        assert!(Issuer::parse("http://localhost:8080", false).is_ok());
        assert!(Issuer::parse("http://id.example.com", true).is_ok());
    }

    #[test]
    fn empty_query_and_fragment_issuers_are_refused() {
        assert_eq!(Issuer::parse("  ", false), Err(IssuerError::Empty));
        assert_eq!(
            Issuer::parse("https://a.example?x=1", false),
            Err(IssuerError::QueryOrFragment)
        );
        assert!(matches!(
            Issuer::parse("not a url", false),
            Err(IssuerError::NotAUrl(_))
        ));
    }
}
