//! `application/x-www-form-urlencoded` request parameters, with RFC 6749 §3.2's rule that a
//! parameter must not be sent more than once.
//!
//! Parsing is linear in the size of the input and stops at [`MAX_PARAMS`]: an unauthenticated
//! body of a megabyte with a hundred thousand distinct names must cost a worker microseconds, not
//! seconds (a repeat check that scanned the list for every name once took 17.9 s for it).

use std::collections::HashSet;

use crate::token_error::{TokenError, TokenErrorCode};

/// Longest accepted parameter value (secrets, codes, assertions are far shorter).
const MAX_VALUE_LEN: usize = 8 * 1024;

/// Most parameters a request may carry. The richest legitimate request (an authorization
/// request with every OIDC parameter) has about twenty.
pub const MAX_PARAMS: usize = 64;

/// Parsed parameters.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a form body; duplicates, oversized values and more than [`MAX_PARAMS`]
    /// parameters are `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Self, TokenError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen: HashSet<std::borrow::Cow<'_, str>> = HashSet::new();
        for (count, (name, value)) in url::form_urlencoded::parse(body).enumerate() {
            if count == MAX_PARAMS {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    format!("Too many parameters (at most {MAX_PARAMS})."),
                ));
            }
            if value.len() > MAX_VALUE_LEN {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    format!("Parameter {name} is too long."),
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    format!("Parameter {name} is repeated."),
                ));
            }
            // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
            if !value.is_empty() {
                pairs.push((name.into_owned(), value.into_owned()));
            }
        }
        Ok(Params(pairs))
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A required parameter.
    pub fn require(&self, name: &str) -> Result<&str, TokenError> {
        self.get(name).ok_or_else(|| {
            TokenError::new(
                TokenErrorCode::InvalidRequest,
                format!("Parameter {name} is missing."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(Params::parse(b"a=1&a=2").is_err());
        let p = Params::parse(b"a=1&b=&c=x%20y").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), Some("x y"));
        assert!(Params::parse(format!("a={}", "x".repeat(9000)).as_bytes()).is_err());
    }

    fn distinct_names(n: usize) -> String {
        (0..n)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn up_to_the_limit_of_distinct_parameters_is_accepted_and_one_more_refused() {
        assert!(Params::parse(distinct_names(MAX_PARAMS).as_bytes()).is_ok());
        let refused = Params::parse(distinct_names(MAX_PARAMS + 1).as_bytes()).unwrap_err();
        assert!(refused.description.contains("Too many parameters"));
    }

    #[test]
    fn a_megabyte_of_distinct_names_is_refused_at_the_limit() {
        let body = (0..110_000)
            .map(|i| format!("parameter{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(body.len() > 1_000_000);
        assert!(Params::parse(body.as_bytes()).is_err());
    }

    #[test]
    fn a_repeat_beyond_the_first_names_is_still_found() {
        let body = format!("{}&p3=again", distinct_names(40));
        let refused = Params::parse(body.as_bytes()).unwrap_err();
        assert!(refused.description.contains("p3 is repeated"));
    }
}
