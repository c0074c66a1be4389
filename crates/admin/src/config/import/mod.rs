//! Importing a Curity configuration export (or fragment): every element Tessera understands
//! becomes configuration, every other one is listed in a [`Report`] with its line and why it
//! is not carried over, never silently dropped. An object that would be weaker without what
//! Tessera cannot carry (a client whose only authentication is mutual TLS, an authenticator
//! that came after another one) is refused whole, and said so.
//!
//! The steps are pure: read leniently (unknown elements kept, marked foreign), resolve
//! `#{NAME}` placeholders, decide about whole objects ([`rules`]), strip what is left foreign,
//! then merge and read exactly as an upload is read.

mod keys;
mod reasons;
mod rules;

use std::collections::HashMap;

use serde::Serialize;

use super::model::Configuration;
use super::schema::{self, Field, Kind};
use super::tree::{Node, Problem};
use super::{ReadError, UploadMode, merge, read, write, xml};
use crate::secrets::ConfigSecrets;

/// What happened to one element of the imported file that was not carried over as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Outside what Tessera does; left out.
    NotCarriedOver,
    /// An in-scope object left out whole, because importing it without what Tessera cannot
    /// carry would change what it protects.
    Refused,
    /// Carried over with a different (stricter) meaning, said in the reason.
    Changed,
    /// Needs an environment variable where the candidate is staged (a `#{NAME}` placeholder
    /// this process's environment does not set).
    NeedsEnvironment,
}

impl Outcome {
    /// How the report names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NotCarriedOver => "not carried over",
            Outcome::Refused => "refused",
            Outcome::Changed => "changed",
            Outcome::NeedsEnvironment => "needs environment",
        }
    }
}

/// One line of a migration report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Element path, list entries by key.
    pub path: String,
    /// Line in the imported file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What happened.
    pub outcome: Outcome,
    /// Why.
    pub reason: String,
}

/// Everything an import did not carry over as written, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The entries.
    pub entries: Vec<Entry>,
}

impl Report {
    fn add(
        &mut self,
        path: impl Into<String>,
        line: u32,
        outcome: Outcome,
        reason: impl Into<String>,
    ) {
        self.entries.push(Entry {
            path: path.into(),
            line: (line > 0).then_some(line),
            outcome,
            reason: reason.into(),
        });
    }

    /// The report as text, one line per kind of entry: entries with the same outcome, reason
    /// and path shape (list keys aside) are grouped, with every line they come from.
    pub fn render(&self) -> String {
        // One group per (outcome, path shape, reason), found through an index: a report of
        // many thousand entries renders in time linear in its size.
        struct Group<'a> {
            outcome: Outcome,
            shape: String,
            reason: &'a str,
            lines: Vec<u32>,
            count: usize,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut index: HashMap<(Outcome, String, &str), usize> = HashMap::new();
        for e in &self.entries {
            let shape = shape_of(&e.path);
            let at = *index
                .entry((e.outcome, shape.clone(), e.reason.as_str()))
                .or_insert_with(|| {
                    groups.push(Group {
                        outcome: e.outcome,
                        shape,
                        reason: &e.reason,
                        lines: Vec::new(),
                        count: 0,
                    });
                    groups.len() - 1
                });
            groups[at].lines.extend(e.line);
            groups[at].count += 1;
        }
        groups.sort_by(|a, b| {
            a.outcome
                .cmp(&b.outcome)
                .then(a.lines.first().cmp(&b.lines.first()))
        });
        let mut out = String::new();
        for g in groups {
            let lines: Vec<String> = g.lines.iter().map(u32::to_string).collect();
            let at = match lines.len() {
                0 => String::new(),
                1 => format!("line {}: ", lines[0]),
                _ => format!("lines {}: ", lines.join(", ")),
            };
            let times = if g.count > 1 {
                format!(" (×{})", g.count)
            } else {
                String::new()
            };
            out.push_str(&format!(
                "{}: {at}{}{times}: {}\n",
                g.outcome.as_str(),
                g.shape,
                g.reason
            ));
        }
        out
    }
}

/// A path with its list keys written `[…]` only where they name a whole object (kept as is),
/// so that a thousand claims of one kind make one line.
fn shape_of(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let name_start = rest[..open].rfind('/').map_or(0, |i| i + 1);
        let name = &rest[name_start..open];
        let close = rest[open..].find(']').map_or(rest.len(), |i| open + i + 1);
        out.push_str(&rest[..open]);
        if matches!(
            name,
            "claim" | "scope" | "endpoint" | "claims-value-provider"
        ) {
            out.push_str("[*]");
        } else {
            out.push_str(&rest[open..close]);
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// The outcome of an import: the configuration it would stage, the report, and the in-scope
/// problems that keep it from being staged.
#[derive(Debug)]
pub struct Imported {
    /// The configuration (when the file had no in-scope problem).
    pub config: Option<Configuration>,
    /// What was not carried over as written.
    pub report: Report,
    /// In-scope problems (with lines): the import is not possible until they are fixed.
    pub problems: Vec<Problem>,
}

/// How placeholders are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staging {
    /// The candidate is staged: a placeholder whose variable is unset is a problem.
    Stage,
    /// A dry run: a placeholder whose variable is unset is reported, and a stand-in checked.
    DryRun,
}

/// Imports `document` onto `base` (merge or replace, as an upload).
pub fn import(
    base: &Configuration,
    document: &[u8],
    mode: UploadMode,
    secrets: &ConfigSecrets,
    staging: Staging,
) -> Result<Imported, ReadError> {
    let (_, mut tree) = xml::read_lenient(document)?;
    let mut report = Report::default();
    let mut problems = Vec::new();
    rules::placeholders(&mut tree, "", secrets, staging, &mut report, &mut problems);
    rules::objects(&mut tree, &mut report);
    strip_foreign(&mut tree, schema::ROOT, "", &mut report);
    report.entries.sort_by_key(|e| e.line.unwrap_or(0));
    if !problems.is_empty() {
        return Ok(Imported {
            config: None,
            report,
            problems,
        });
    }
    let mut merged = match mode {
        UploadMode::Merge => write::write_model(base),
        UploadMode::Replace => Node::new("config"),
    };
    let outcome =
        merge::merge(&mut merged, &tree).and_then(|()| read::read_model(&merged, secrets));
    Ok(match outcome {
        Ok(config) => Imported {
            config: Some(config),
            report,
            problems,
        },
        Err(found) => Imported {
            config: None,
            report,
            problems: found.0,
        },
    })
}

/// Removes every foreign element, reporting each with the reason it is not carried over.
fn strip_foreign(node: &mut Node, fields: &'static [Field], path: &str, report: &mut Report) {
    let parent = path.to_owned();
    node.children.retain(|child| {
        if child.foreign.is_some() {
            report.add(
                format!("{parent}/{}", child.name),
                child.line,
                Outcome::NotCarriedOver,
                reasons::not_carried_over(&parent, &child.name),
            );
            false
        } else {
            true
        }
    });
    for child in &mut node.children {
        let Some(field) = schema::find(fields, &child.name) else {
            continue;
        };
        match &field.kind {
            Kind::Container(sub) => {
                let p = format!("{path}/{}", child.name);
                strip_foreign(child, sub, &p, report);
            }
            Kind::List { key, fields: sub } => {
                let p = format!(
                    "{path}/{}[{}]",
                    child.name,
                    child.child_text(key).unwrap_or_default()
                );
                strip_foreign(child, sub, &p, report);
            }
            _ => {}
        }
    }
}

/// The path of a list entry (by key) under `parent`.
fn entry_path(parent: &str, node: &Node, key: &str) -> String {
    format!(
        "{parent}/{}[{}]",
        node.name,
        node.child_text(key).unwrap_or_default()
    )
}
