//! The element tree an XML document parses into, before it becomes a typed configuration.
//!
//! Merging follows NETCONF rules, which are defined on elements, so uploads are merged as trees
//! (guided by the schema) and only the result is turned into the typed model. Nothing outside
//! this crate sees a tree.

use std::fmt;

/// A NETCONF edit operation (`nc:operation`, RFC 6241 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Default: containers recurse, list entries match by key, leaves overwrite, leaf-lists add.
    Merge,
    /// Replace the element (and its subtree) with the uploaded one.
    Replace,
    /// Create; fails if it exists.
    Create,
    /// Delete; fails if it does not exist.
    Delete,
    /// Delete if it exists.
    Remove,
}

impl Op {
    /// Parses an attribute value.
    pub fn parse(value: &str) -> Option<Op> {
        Some(match value {
            "merge" => Op::Merge,
            "replace" => Op::Replace,
            "create" => Op::Create,
            "delete" => Op::Delete,
            "remove" => Op::Remove,
            _ => return None,
        })
    }
}

/// One element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Local name.
    pub name: String,
    /// Line in the uploaded document (0 when produced by export).
    pub line: u32,
    /// The `nc:operation` attribute, if any.
    pub op: Option<Op>,
    /// Text content of a leaf (trimmed); `None` for containers and empty leaves.
    pub text: Option<String>,
    /// Child elements in document order.
    pub children: Vec<Node>,
    /// For an element outside the supported subset, kept only by a lenient reading (an
    /// import, which reports it): its namespace. `None` for every element of the subset.
    pub foreign: Option<String>,
}

impl Node {
    /// A container with no children.
    pub fn new(name: &str) -> Self {
        Node {
            name: name.to_owned(),
            line: 0,
            op: None,
            text: None,
            children: Vec::new(),
            foreign: None,
        }
    }

    /// A leaf with text.
    pub fn leaf(name: &str, text: impl Into<String>) -> Self {
        Node {
            text: Some(text.into()),
            ..Node::new(name)
        }
    }

    /// Adds a child and returns self (builder style).
    pub fn with(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    /// Adds a child if present.
    pub fn with_opt(self, child: Option<Node>) -> Self {
        match child {
            Some(child) => self.with(child),
            None => self,
        }
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of the child leaf `name`.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).and_then(|c| c.text.as_deref())
    }

    /// Follows a path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, name| node.child(name))
    }
}

/// A problem found in a configuration: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Element path such as `/profiles/profile[token-service]/…/client[web]/redirect-uris`.
    pub path: String,
    /// Line in the uploaded document, when the problem comes from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at `path`, on `line` when known (0 = unknown).
    pub fn new(path: impl Into<String>, line: u32, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            line: (line > 0).then_some(line),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Every problem of a rejected document, so an operator can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// The line of every element of an uploaded tree by its path (list entries by key, as problems
/// name them).
pub fn lines_by_path(root: &Node) -> std::collections::HashMap<String, u32> {
    fn walk(
        node: &Node,
        fields: &[super::schema::Field],
        path: &str,
        out: &mut std::collections::HashMap<String, u32>,
    ) {
        for child in &node.children {
            let Some(field) = super::schema::find(fields, &child.name) else {
                continue;
            };
            let (p, sub): (String, &[super::schema::Field]) = match &field.kind {
                super::schema::Kind::List { key, fields } => (
                    format!(
                        "{path}/{}[{}]",
                        child.name,
                        child.child_text(key).unwrap_or_default()
                    ),
                    fields,
                ),
                super::schema::Kind::Container(fields) => {
                    (format!("{path}/{}", child.name), fields)
                }
                _ => (format!("{path}/{}", child.name), &[]),
            };
            if child.line > 0 {
                out.entry(p.clone()).or_insert(child.line);
            }
            walk(child, sub, &p, out);
        }
    }
    let mut out = std::collections::HashMap::new();
    walk(root, super::schema::ROOT, "", &mut out);
    out
}

/// The line of the element at `path`, or of its nearest ancestor that has one.
pub fn nearest_line(lines: &std::collections::HashMap<String, u32>, path: &str) -> Option<u32> {
    let mut path = path;
    loop {
        if let Some(line) = lines.get(path) {
            return Some(*line);
        }
        path = &path[..path.rfind('/')?];
    }
}
