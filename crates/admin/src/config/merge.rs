//! NETCONF-style merge of an uploaded tree into a configuration tree (RFC 6241 §7.2):
//! containers recurse, list entries match by key, leaves overwrite, leaf-lists add, and an
//! `nc:operation` attribute (`merge`, `replace`, `create`, `delete`, `remove`) changes that for
//! the element it is on and everything under it.

use super::schema::{self, Field, Kind};
use super::tree::{Node, Op, Problem, Problems};

/// Merges `upload` (a checked tree) into `target`. On any problem `target` may be partly
/// changed, so callers merge into a copy.
pub fn merge(target: &mut Node, upload: &Node) -> Result<(), Problems> {
    let mut problems = Vec::new();
    merge_children(target, upload, schema::ROOT, "", Op::Merge, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

fn key_of<'a>(node: &'a Node, field: &Field) -> Option<&'a str> {
    match &field.kind {
        Kind::List { key, .. } => node.child_text(key),
        _ => None,
    }
}

fn path_of(parent: &str, node: &Node, field: &Field) -> String {
    match key_of(node, field) {
        Some(key) => format!("{parent}/{}[{key}]", node.name),
        None => format!("{parent}/{}", node.name),
    }
}

/// A copy of `node` without operation attributes (what gets stored).
fn clean(node: &Node) -> Node {
    Node {
        name: node.name.clone(),
        line: node.line,
        op: None,
        text: node.text.clone(),
        children: node.children.iter().map(clean).collect(),
        foreign: None,
    }
}

fn merge_children(
    target: &mut Node,
    upload: &Node,
    fields: &'static [Field],
    path: &str,
    inherited: Op,
    problems: &mut Vec<Problem>,
) {
    for child in &upload.children {
        let Some(field) = schema::find(fields, &child.name) else {
            continue; // the reader already rejected unknown elements
        };
        let op = child.op.unwrap_or(inherited);
        let child_path = path_of(path, child, field);
        // Which existing element (if any) does this one address?
        let existing = match &field.kind {
            Kind::List { .. } => {
                let key = key_of(child, field);
                target
                    .children
                    .iter()
                    .position(|c| c.name == child.name && key_of(c, field) == key)
            }
            // A valueless leaf-list element addresses the whole leaf-list.
            Kind::LeafList if child.text.is_none() => {
                target.children.iter().position(|c| c.name == child.name)
            }
            Kind::LeafList => target
                .children
                .iter()
                .position(|c| c.name == child.name && c.text == child.text),
            _ => target.children.iter().position(|c| c.name == child.name),
        };
        match (op, existing) {
            (Op::Delete, None) => problems.push(Problem::new(
                &child_path,
                child.line,
                "cannot delete: no such element in the configuration (use remove to ignore that)",
            )),
            (Op::Delete | Op::Remove, Some(i)) => {
                if matches!(field.kind, Kind::LeafList) && child.text.is_none() {
                    // <allowed-authenticators nc:operation="remove"/> clears the whole leaf-list.
                    target.children.retain(|c| c.name != child.name);
                } else {
                    target.children.remove(i);
                }
            }
            (Op::Remove, None) => {
                if matches!(field.kind, Kind::LeafList) && child.text.is_none() {
                    target.children.retain(|c| c.name != child.name);
                }
            }
            (Op::Create, Some(_)) => problems.push(Problem::new(
                &child_path,
                child.line,
                "cannot create: the element already exists",
            )),
            (Op::Replace, Some(i)) => {
                if matches!(field.kind, Kind::LeafList) && child.text.is_none() {
                    target.children.retain(|c| c.name != child.name);
                } else {
                    target.children[i] = build(child, field, &child_path, problems);
                }
            }
            (Op::Create | Op::Replace | Op::Merge, None) => {
                if !(matches!(field.kind, Kind::LeafList) && child.text.is_none()) {
                    target
                        .children
                        .push(build(child, field, &child_path, problems));
                }
            }
            (Op::Merge, Some(i)) => match &field.kind {
                Kind::Container(sub) | Kind::List { fields: sub, .. } => {
                    merge_children(
                        &mut target.children[i],
                        child,
                        sub,
                        &child_path,
                        Op::Merge,
                        problems,
                    );
                }
                Kind::Leaf | Kind::Flag => target.children[i] = clean(child),
                Kind::LeafList => {} // value already present
            },
        }
    }
}

/// A new element from an uploaded one. Its subtree is merged into an empty element, so the
/// operations inside it still apply (a `remove` inside a replaced client removes nothing rather
/// than adding the value).
fn build(child: &Node, field: &Field, path: &str, problems: &mut Vec<Problem>) -> Node {
    match &field.kind {
        Kind::Container(sub) | Kind::List { fields: sub, .. } => {
            let mut fresh = Node {
                children: Vec::new(),
                ..clean(child)
            };
            merge_children(&mut fresh, child, sub, path, Op::Merge, problems);
            fresh
        }
        _ => clean(child),
    }
}
