//! SCIM filters and attribute paths (RFC 7644 §3.4.2.2, §3.5.2): parsed into an expression
//! tree in time linear in their length, with bounds on length and nesting so that a hostile
//! filter costs little. `not` binds tighter than `and`, which binds tighter than `or`.

use serde_json::{Map, Value};
/// A comparison operator (RFC 7644 §3.4.2.2): the directory's own.
pub use tessera_store::directory::Op as CompareOp;

/// The longest filter or path accepted, in bytes.
pub const MAX_LENGTH: usize = 4096;
/// The deepest nesting of parentheses, `not` and value filters accepted.
pub const MAX_DEPTH: usize = 16;

/// Why a filter or path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// An attribute path: `[schema:]attribute[.subAttribute]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when the path names one.
    pub schema: Option<String>,
    /// The attribute.
    pub attribute: String,
    /// The sub-attribute.
    pub sub: Option<String>,
}

/// A value compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A string.
    Text(String),
    /// true or false.
    Bool(bool),
    /// A number (kept as written).
    Number(String),
    /// null.
    Null,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `path op value`.
    Compare(AttrPath, CompareOp, Literal),
    /// `path pr`.
    Present(AttrPath),
    /// `a and b`.
    And(Box<Expr>, Box<Expr>),
    /// `a or b`.
    Or(Box<Expr>, Box<Expr>),
    /// `not (a)`.
    Not(Box<Expr>),
    /// `path[filter]`: some value of the multi-valued attribute matches the filter.
    Has(AttrPath, Box<Expr>),
}

/// A PATCH target: `attrPath`, `attrPath[filter]` or `attrPath[filter].subAttribute`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute (and sub-attribute, when there is no value filter).
    pub path: AttrPath,
    /// Which values of a multi-valued attribute.
    pub values: Option<Expr>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

fn tokens(input: &str) -> Result<Vec<(usize, Token)>, FilterError> {
    if input.len() > MAX_LENGTH {
        return Err(FilterError(format!("longer than {MAX_LENGTH} bytes")));
    }
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                out.push((start, Token::Open));
                i += 1;
            }
            b')' => {
                out.push((start, Token::Close));
                i += 1;
            }
            b'[' => {
                out.push((start, Token::OpenBracket));
                i += 1;
            }
            b']' => {
                out.push((start, Token::CloseBracket));
                i += 1;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if i >= bytes.len() {
                    return Err(FilterError(format!(
                        "the string at offset {start} is not closed"
                    )));
                }
                i += 1;
                let text: String = serde_json::from_str(&input[start..i]).map_err(|_| {
                    FilterError(format!("the string at offset {start} is not a JSON string"))
                })?;
                out.push((start, Token::Text(text)));
            }
            _ => {
                while i < bytes.len()
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b'(' | b')' | b'[' | b']' | b'"'
                    )
                {
                    i += 1;
                }
                out.push((start, Token::Word(input[start..i].to_owned())));
            }
        }
    }
    Ok(out)
}

/// Parses an attribute path.
pub fn attr_path(word: &str) -> Result<AttrPath, FilterError> {
    let invalid = || FilterError(format!("\"{word}\" is not an attribute path"));
    let (schema, rest) = if word.len() > 4 && word[..4].eq_ignore_ascii_case("urn:") {
        let colon = word.rfind(':').ok_or_else(invalid)?;
        (Some(word[..colon].to_owned()), &word[colon + 1..])
    } else {
        (None, word)
    };
    let (attribute, sub) = match rest.split_once('.') {
        Some((attribute, sub)) => (attribute, Some(sub)),
        None => (rest, None),
    };
    let name_ok = |name: &str| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !name_ok(attribute) || sub.is_some_and(|sub| !name_ok(sub)) {
        return Err(invalid());
    }
    Ok(AttrPath {
        schema,
        attribute: attribute.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, token)| token)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.at).map_or(usize::MAX, |(at, _)| *at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).map(|(_, token)| token.clone());
        self.at += 1;
        token
    }

    fn expected(&self, what: &str) -> FilterError {
        match self.tokens.get(self.at) {
            Some((at, _)) => FilterError(format!("expected {what} at offset {at}")),
            None => FilterError(format!("expected {what} at the end")),
        }
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn deeper(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError(format!(
                "nested deeper than {MAX_DEPTH} at offset {}",
                self.offset()
            )));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.keyword("not") {
            self.at += 1;
            self.deeper()?;
            if self.next() != Some(Token::Open) {
                self.at -= 1;
                return Err(self.expected("\"(\" after not"));
            }
            let inner = self.or()?;
            self.close(Token::Close, "\")\"")?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            self.close(Token::Close, "\")\"")?;
            self.depth -= 1;
            return Ok(inner);
        }
        self.attribute_expression()
    }

    fn close(&mut self, token: Token, what: &str) -> Result<(), FilterError> {
        if self.peek() == Some(&token) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn attribute_expression(&mut self) -> Result<Expr, FilterError> {
        let Some(Token::Word(word)) = self.next() else {
            self.at -= 1;
            return Err(self.expected("an attribute"));
        };
        let path = attr_path(&word)?;
        if self.peek() == Some(&Token::OpenBracket) {
            self.at += 1;
            self.deeper()?;
            let inner = self.or()?;
            self.close(Token::CloseBracket, "\"]\"")?;
            self.depth -= 1;
            return Ok(Expr::Has(path, Box::new(inner)));
        }
        let Some(Token::Word(op)) = self.next() else {
            self.at -= 1;
            return Err(self.expected("an operator"));
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "pr" => return Ok(Expr::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => {
                self.at -= 1;
                return Err(self.expected("an operator (eq ne co sw ew gt ge lt le pr)"));
            }
        };
        let literal = match self.next() {
            Some(Token::Text(text)) => Literal::Text(text),
            Some(Token::Word(word)) => match word.as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                number if number.parse::<f64>().is_ok() => Literal::Number(number.to_owned()),
                _ => {
                    self.at -= 1;
                    return Err(self.expected("a value (a string, true, false, null, a number)"));
                }
            },
            _ => {
                self.at -= 1;
                return Err(self.expected("a value"));
            }
        };
        Ok(Expr::Compare(path, op, literal))
    }
}

/// Parses a filter.
pub fn parse(input: &str) -> Result<Expr, FilterError> {
    let mut parser = Parser {
        tokens: tokens(input)?,
        at: 0,
        depth: 0,
    };
    let expr = parser.or()?;
    if parser.at < parser.tokens.len() {
        return Err(parser.expected("and, or or the end"));
    }
    Ok(expr)
}

/// Parses a PATCH path.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    let Some(open) = input.find('[') else {
        return Ok(PatchPath {
            path: attr_path(input.trim())?,
            values: None,
        });
    };
    let close = input
        .rfind(']')
        .filter(|close| *close > open)
        .ok_or_else(|| FilterError(format!("\"{input}\": the value filter is not closed")))?;
    let mut path = attr_path(input[..open].trim())?;
    if path.sub.is_some() {
        return Err(FilterError(format!(
            "\"{input}\": a value filter follows an attribute, not a sub-attribute"
        )));
    }
    let after = &input[close + 1..];
    if !after.is_empty() {
        let sub = after
            .strip_prefix('.')
            .ok_or_else(|| FilterError(format!("\"{input}\": unexpected text after \"]\"")))?;
        path.sub = Some(attr_path(sub)?.attribute);
    }
    Ok(PatchPath {
        path,
        values: Some(parse(&input[open + 1..close])?),
    })
}

/// `expr` as a directory search filter: its logic (`and`, `or`, `not`) kept as it is, and each
/// leaf (a comparison, a presence test, a value filter) turned into a filter by `leaf`, which
/// knows the resource's attributes.
pub fn to_search<A, E>(
    expr: &Expr,
    leaf: &mut dyn FnMut(&Expr) -> Result<tessera_store::directory::Filter<A>, E>,
) -> Result<tessera_store::directory::Filter<A>, E> {
    use tessera_store::directory::Filter;
    Ok(match expr {
        Expr::And(a, b) => {
            Filter::And(Box::new(to_search(a, leaf)?), Box::new(to_search(b, leaf)?))
        }
        Expr::Or(a, b) => Filter::Or(Box::new(to_search(a, leaf)?), Box::new(to_search(b, leaf)?)),
        Expr::Not(inner) => Filter::Not(Box::new(to_search(inner, leaf)?)),
        other => leaf(other)?,
    })
}

/// Whether one value of a multi-valued attribute (a JSON object) matches `expr`, whose paths
/// name its sub-attributes. Text compares case-insensitively.
pub fn matches(expr: &Expr, value: &Map<String, Value>) -> bool {
    let field = |path: &AttrPath| {
        value
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&path.attribute))
            .map(|(_, v)| v)
    };
    match expr {
        Expr::And(a, b) => matches(a, value) && matches(b, value),
        Expr::Or(a, b) => matches(a, value) || matches(b, value),
        Expr::Not(inner) => !matches(inner, value),
        Expr::Has(..) => false,
        Expr::Present(path) => field(path).is_some_and(|v| !v.is_null() && v != ""),
        Expr::Compare(path, op, literal) => {
            let Some(actual) = field(path) else {
                return *op == CompareOp::Ne;
            };
            compare(actual, *op, literal)
        }
    }
}

fn compare(actual: &Value, op: CompareOp, literal: &Literal) -> bool {
    match (actual, literal) {
        (Value::String(actual), Literal::Text(wanted)) => {
            let (a, w) = (actual.to_lowercase(), wanted.to_lowercase());
            match op {
                CompareOp::Eq => a == w,
                CompareOp::Ne => a != w,
                CompareOp::Co => a.contains(&w),
                CompareOp::Sw => a.starts_with(&w),
                CompareOp::Ew => a.ends_with(&w),
                CompareOp::Gt => a > w,
                CompareOp::Ge => a >= w,
                CompareOp::Lt => a < w,
                CompareOp::Le => a <= w,
            }
        }
        (Value::Bool(actual), Literal::Bool(wanted)) => match op {
            CompareOp::Eq => actual == wanted,
            CompareOp::Ne => actual != wanted,
            _ => false,
        },
        (Value::Null, Literal::Null) => op == CompareOp::Eq,
        (_, Literal::Null) => op == CompareOp::Ne,
        _ => op == CompareOp::Ne,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn path(attribute: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attribute: attribute.into(),
            sub: None,
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_needs_parentheses() {
        let expr = parse(r#"a eq "1" or b pr and not (c eq true)"#).unwrap();
        assert_eq!(
            expr,
            Expr::Or(
                Box::new(Expr::Compare(
                    path("a"),
                    CompareOp::Eq,
                    Literal::Text("1".into())
                )),
                Box::new(Expr::And(
                    Box::new(Expr::Present(path("b"))),
                    Box::new(Expr::Not(Box::new(Expr::Compare(
                        path("c"),
                        CompareOp::Eq,
                        Literal::Bool(true)
                    ))))
                ))
            )
        );
    }

    #[test]
    fn schema_qualified_paths_and_value_filters_parse() {
        let expr = parse(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName sw "K" and emails[type eq "work" and value co "@example.com"]"#,
        )
        .unwrap();
        let Expr::And(left, right) = expr else {
            panic!("an and")
        };
        assert!(matches!(*left, Expr::Compare(ref p, CompareOp::Sw, _)
            if p.schema.as_deref() == Some("urn:ietf:params:scim:schemas:core:2.0:User")
                && p.attribute == "name" && p.sub.as_deref() == Some("givenName")));
        assert!(matches!(*right, Expr::Has(ref p, _) if p.attribute == "emails"));
    }

    #[test]
    fn broken_filters_say_where_they_break() {
        for (filter, says) in [
            (r#"userName eq "kim"#, "not closed"),
            ("userName eq", "expected a value at the end"),
            (r#"userName is "kim""#, "expected an operator"),
            (r#"(userName eq "kim""#, "expected \")\" at the end"),
            (
                r#"userName eq "kim" and"#,
                "expected an attribute at the end",
            ),
            ("1nvalid pr", "is not an attribute path"),
            (r#"a eq "x" b"#, "expected and, or or the end at offset 9"),
        ] {
            let error = parse(filter).unwrap_err().0;
            assert!(error.contains(says), "{filter}: {error}");
        }
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let deep = format!(
            "{}a pr{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(parse(&deep).unwrap_err().0.contains("nested deeper"));
        let long = format!("a eq \"{}\"", "x".repeat(MAX_LENGTH));
        assert!(parse(&long).unwrap_err().0.contains("longer than"));
    }

    #[test]
    fn patch_paths_with_value_filters_and_sub_attributes_parse() {
        let target = parse_patch_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(target.path.attribute, "emails");
        assert_eq!(target.path.sub.as_deref(), Some("value"));
        assert!(target.values.is_some());
        assert!(parse_patch_path("name.givenName").unwrap().values.is_none());
        assert!(parse_patch_path(r#"emails[type eq "work""#).is_err());
    }

    #[test]
    fn values_match_case_insensitively() {
        let value = serde_json::json!({"value": "Kim@Example.com", "type": "work"});
        let value = value.as_object().unwrap();
        assert!(matches(
            &parse(r#"value eq "kim@example.com""#).unwrap(),
            value
        ));
        assert!(matches(
            &parse(r#"type eq "work" and value ew ".COM""#).unwrap(),
            value
        ));
        assert!(!matches(&parse(r#"type eq "home""#).unwrap(), value));
    }
}
