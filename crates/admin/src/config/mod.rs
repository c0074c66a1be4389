//! The configuration language: XML in and out, merge and replace, the typed model, validation
//! and diffs. Pure functions; storage and the live snapshot live elsewhere in this crate.

mod diff;
pub mod import;
mod merge;
pub mod model;
pub(crate) mod read;
pub mod schema;
mod tree;
pub(crate) mod validate;
mod write;
pub mod xml;

pub use diff::{Change, diff};
pub use read::{MIN_CLIENT_SECRET_LEN, read_jwks};
pub use tree::{Problem, Problems};
pub use validate::{check_redirect_uri, validate};
pub use xml::{MAX_DOCUMENT_BYTES, ReadError, Root};

use model::Configuration;
use tree::Node;

use crate::secrets::ConfigSecrets;

/// How an upload combines with the active configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadMode {
    /// NETCONF merge onto the active configuration.
    Merge,
    /// The upload is the whole new configuration.
    Replace,
}

impl UploadMode {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadMode::Merge => "merge",
            UploadMode::Replace => "replace",
        }
    }
}

/// Applies an uploaded document to `base`: reads and checks it, merges (or replaces), and
/// builds the typed result. Whole-configuration validation is [`validate`], run at commit.
pub fn apply(
    base: &Configuration,
    document: &[u8],
    mode: UploadMode,
    secrets: &ConfigSecrets,
) -> Result<Configuration, ReadError> {
    let (_, upload) = xml::read_bytes(document)?;
    apply_tree(base, &upload, mode, secrets)
}

fn apply_tree(
    base: &Configuration,
    upload: &Node,
    mode: UploadMode,
    secrets: &ConfigSecrets,
) -> Result<Configuration, ReadError> {
    let mut tree = match mode {
        UploadMode::Merge => write::write_model(base),
        UploadMode::Replace => Node::new("config"),
    };
    merge::merge(&mut tree, upload).map_err(ReadError::Invalid)?;
    read::read_model(&tree, secrets).map_err(ReadError::Invalid)
}

/// Parses a stored (exported) document into a configuration. Stored versions may exceed the
/// upload limit (an export is more verbose than the file it came from).
pub fn parse(document: &str, secrets: &ConfigSecrets) -> Result<Configuration, ReadError> {
    let (_, tree) = xml::read(document)?;
    apply_tree(
        &Configuration::default(),
        &tree,
        UploadMode::Replace,
        secrets,
    )
}

/// Checks a file offline and lists every problem at once, each with its line where it has one:
/// structure (unknown elements, namespaces, duplicates), values, and, unless `partial` (a file
/// meant to be merged into another), the whole configuration's references and rules.
pub fn check(document: &[u8], partial: bool, secrets: &ConfigSecrets) -> Result<(), ReadError> {
    let mut problems = match xml::read_bytes(document) {
        Ok(_) => Vec::new(),
        Err(ReadError::Invalid(found)) => found.0,
        Err(other) => return Err(other),
    };
    // Keep going past unknown elements: the rest still has values to check.
    let tree = match xml::read_lenient(document) {
        Ok((_, mut tree)) => {
            drop_foreign(&mut tree);
            tree
        }
        Err(_) => return Err(ReadError::Invalid(Problems(problems))),
    };
    let mut merged = Node::new("config");
    if let Err(found) = merge::merge(&mut merged, &tree) {
        problems.extend(found.0);
    }
    let (config, found) = read::read_model_with_problems(&merged, secrets);
    problems.extend(found);
    if !partial && let Err(found) = validate(&config) {
        let lines = tree::lines_by_path(&tree);
        problems.extend(found.0.into_iter().map(|mut p| {
            p.line = p.line.or_else(|| tree::nearest_line(&lines, &p.path));
            p
        }));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ReadError::Invalid(Problems(problems)))
    }
}

fn drop_foreign(node: &mut Node) {
    node.children.retain(|c| c.foreign.is_none());
    node.children.iter_mut().for_each(drop_foreign);
}

/// The configuration as XML with the given root, secrets only in stored form.
pub fn export(config: &Configuration, root: Root) -> String {
    xml::write(&write::write_model(config), root)
}

#[cfg(test)]
mod tests;
