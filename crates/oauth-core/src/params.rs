//! `application/x-www-form-urlencoded` request parameters, with RFC 6749 §3.2's rule that a
//! parameter must not be sent more than once.

use crate::token_error::{TokenError, TokenErrorCode};

/// Longest accepted parameter value (secrets, codes, assertions are far shorter).
const MAX_VALUE_LEN: usize = 8 * 1024;

/// Parsed parameters.
#[derive(Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a form body; duplicates and oversized values are `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Self, TokenError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if value.len() > MAX_VALUE_LEN {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    format!("Parameter {name} is too long."),
                ));
            }
            if pairs.iter().any(|(n, _)| *n == name) {
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
}
