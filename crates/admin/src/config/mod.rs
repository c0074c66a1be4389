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
pub use read::MIN_CLIENT_SECRET_LEN;
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

/// The configuration as XML with the given root, secrets only in stored form.
pub fn export(config: &Configuration, root: Root) -> String {
    xml::write(&write::write_model(config), root)
}

#[cfg(test)]
mod tests;
