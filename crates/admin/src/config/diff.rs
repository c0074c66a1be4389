//! Differences between two configurations, path by path.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::Configuration;
use super::schema::{self, Field, Kind};
use super::tree::Node;
use super::write::write_model;

/// One changed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Element path, list entries by key.
    pub path: String,
    /// Value before (`None`: added).
    pub old: Option<String>,
    /// Value after (`None`: removed).
    pub new: Option<String>,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.old, &self.new) {
            (None, Some(new)) => write!(f, "+ {} = {new}", self.path),
            (Some(old), None) => write!(f, "- {} = {old}", self.path),
            (Some(old), Some(new)) => write!(f, "~ {}: {old} -> {new}", self.path),
            (None, None) => write!(f, "  {}", self.path),
        }
    }
}

/// Every leaf whose value differs between `old` and `new`.
pub fn diff(old: &Configuration, new: &Configuration) -> Vec<Change> {
    let (a, b) = (flatten(&write_model(old)), flatten(&write_model(new)));
    let mut changes = Vec::new();
    for (path, old_value) in &a {
        match b.get(path) {
            None => changes.push(Change {
                path: path.clone(),
                old: Some(old_value.clone()),
                new: None,
            }),
            Some(new_value) if new_value != old_value => changes.push(Change {
                path: path.clone(),
                old: Some(old_value.clone()),
                new: Some(new_value.clone()),
            }),
            Some(_) => {}
        }
    }
    for (path, new_value) in &b {
        if !a.contains_key(path) {
            changes.push(Change {
                path: path.clone(),
                old: None,
                new: Some(new_value.clone()),
            });
        }
    }
    changes.sort_by(|x, y| x.path.cmp(&y.path));
    changes
}

fn flatten(root: &Node) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, schema::ROOT, "", &mut out);
    out
}

fn walk(node: &Node, fields: &[Field], path: &str, out: &mut BTreeMap<String, String>) {
    for child in &node.children {
        let Some(field) = schema::find(fields, &child.name) else {
            continue;
        };
        match &field.kind {
            Kind::Container(sub) => walk(child, sub, &format!("{path}/{}", child.name), out),
            Kind::List { key, fields: sub } => {
                let k = child.child_text(key).unwrap_or_default();
                walk(child, sub, &format!("{path}/{}[{k}]", child.name), out);
            }
            Kind::Leaf => {
                if child.name != "id" || path.is_empty() {
                    let value = match child.name.as_str() {
                        // Enough of the digest to see that a secret changed, nothing to attack.
                        "secret-digest" => format!(
                            "(digest {}…)",
                            child
                                .text
                                .as_deref()
                                .unwrap_or_default()
                                .chars()
                                .skip(12)
                                .take(8)
                                .collect::<String>()
                        ),
                        "sealed-password" => "(sealed)".to_owned(),
                        _ => child.text.clone().unwrap_or_default(),
                    };
                    out.insert(format!("{path}/{}", child.name), value);
                } else {
                    // The key is in the path; record the entry itself so additions show.
                    out.insert(path.to_owned(), "(entry)".to_owned());
                }
            }
            Kind::LeafList => {
                let entry = out.entry(format!("{path}/{}", child.name)).or_default();
                if !entry.is_empty() {
                    entry.push_str(", ");
                }
                entry.push_str(child.text.as_deref().unwrap_or_default());
            }
            Kind::Flag => {
                out.insert(format!("{path}/{}", child.name), "(set)".to_owned());
            }
        }
    }
}
