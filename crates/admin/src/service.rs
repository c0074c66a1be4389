//! Changes to the configuration: staged uploads, diffs, commits, rollbacks, RESTCONF edits and
//! the initial configuration. Every write goes through [`ConfigService`], which validates, keeps
//! history linear (409 on a stale base) and switches this instance's [`ActiveConfig`] at once;
//! other instances follow through [`ConfigService::refresh`].
// Commits are stamped with the time they happen.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use chrono::Utc;
use tessera_store::config::{self as rows, ConfigVersionRow};
use tessera_store::{Store, StoreError};
use thiserror::Error;

use crate::active::{ActiveConfig, Snapshot};
use crate::config::import::{self, Report, Staging};
use crate::config::model::Configuration;
use crate::config::{self, Change, Problems, ReadError, Root, UploadMode};
use crate::secrets::{ConfigSecrets, KekError};

/// Why a configuration change was refused.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// Larger than 1 MiB.
    #[error("the document is larger than {} bytes", config::MAX_DOCUMENT_BYTES)]
    TooLarge,
    /// Not UTF-8.
    #[error("the document is not valid UTF-8")]
    NotUtf8,
    /// Malformed, unsupported or inconsistent; every problem is listed.
    #[error("invalid configuration: {0}")]
    Invalid(Problems),
    /// An import with in-scope problems: nothing staged; the report says what would not have
    /// been carried over.
    #[error("the import has {} in-scope problem(s): {}", .1.0.len(), .1)]
    NotImported(Report, Problems),
    /// Based on a version that is no longer the newest.
    #[error("{0}")]
    Conflict(String),
    /// Nothing to act on.
    #[error("{0}")]
    NotFound(String),
    /// Secrets could not be handled.
    #[error(transparent)]
    Secret(#[from] KekError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ConfigError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ConfigError::Conflict(format!(
                "{m}: the active configuration changed meanwhile; upload again"
            )),
            other => ConfigError::Store(other),
        }
    }
}

impl From<ReadError> for ConfigError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::TooLarge => ConfigError::TooLarge,
            ReadError::NotUtf8 => ConfigError::NotUtf8,
            ReadError::Invalid(p) => ConfigError::Invalid(p),
        }
    }
}

/// A staged candidate as shown to an operator.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CandidateView {
    /// Identifies this candidate; pass it to commit so a candidate staged meanwhile by someone
    /// else is not committed unseen.
    pub id: String,
    /// Version it is based on.
    pub base_version: i32,
    /// How it was uploaded.
    pub mode: String,
    /// Who uploaded it.
    pub uploaded_by: String,
    /// When (RFC 3339).
    pub uploaded_at: String,
    /// Changes against its base.
    pub changes: Vec<Change>,
    /// What a commit would refuse (empty: it would succeed).
    pub problems: Vec<config::Problem>,
}

/// What an import staged, and what it did not carry over as written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportView {
    /// Every element left out, refused or changed, with its line and why.
    pub report: Report,
    /// The staged candidate (`None` for a dry run).
    pub candidate: Option<CandidateView>,
    /// For a dry run: what a commit of the result would refuse.
    pub problems: Vec<config::Problem>,
}

/// A committed version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionInfo {
    /// Number.
    pub version: i32,
    /// Author.
    pub author: String,
    /// Comment.
    pub comment: String,
    /// When (RFC 3339).
    pub committed_at: String,
    /// Changes against the previous version.
    pub diff: Vec<String>,
}

/// The result of a commit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CommitOutcome {
    /// The new version.
    pub version: i32,
    /// What changed.
    pub changes: Vec<Change>,
}

/// Reads and writes the configuration history.
#[derive(Clone)]
pub struct ConfigService {
    store: Store,
    secrets: ConfigSecrets,
    active: Arc<ActiveConfig>,
}

impl ConfigService {
    /// Loads the newest version (committing `initial_xml` as version 1 on an empty database).
    pub async fn open(
        store: Store,
        secrets: ConfigSecrets,
        initial_xml: String,
    ) -> Result<Self, ConfigError> {
        let s = secrets.clone();
        let snapshot = store
            .run(move |conn| Ok(load_or_initialise(conn, &s, &initial_xml)))
            .await??;
        Ok(ConfigService {
            store,
            secrets,
            active: Arc::new(ActiveConfig::new(snapshot)),
        })
    }

    /// The database the history is kept in.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The live configuration.
    pub fn active(&self) -> &Arc<ActiveConfig> {
        &self.active
    }

    /// The secrets helper (client secret digests).
    pub fn secrets(&self) -> &ConfigSecrets {
        &self.secrets
    }

    /// Picks up a version committed by another instance; true if one was installed.
    pub async fn refresh(&self) -> Result<bool, ConfigError> {
        let current = self.active.version();
        let latest = self.store.run(|conn| rows::latest_version(conn)).await?;
        if latest <= current {
            return Ok(false);
        }
        let row = self
            .store
            .run(move |conn| rows::version(conn, latest))
            .await?
            .ok_or_else(|| ConfigError::NotFound(format!("version {latest}")))?;
        let config = config::parse(&row.xml, &self.secrets)?;
        self.active.install(Snapshot::new(row.version, config));
        Ok(true)
    }

    async fn newest(&self) -> Result<(i32, Configuration), ConfigError> {
        let row = self.store.run(|conn| rows::latest(conn)).await?;
        match row {
            Some(row) => Ok((row.version, config::parse(&row.xml, &self.secrets)?)),
            None => Ok((0, Configuration::default())),
        }
    }

    /// Stages an upload and returns what the candidate would change (see
    /// [`Self::staging_base`] for what it goes onto).
    pub async fn upload(
        &self,
        document: Vec<u8>,
        mode: UploadMode,
        author: &str,
    ) -> Result<CandidateView, ConfigError> {
        let (base_version, base, stored_mode) = self.staging_base(mode).await?;
        let candidate = config::apply(&base, &document, mode, &self.secrets)?;
        self.stage(&candidate, base_version, stored_mode, author)
            .await
    }

    /// Imports a Curity file (an export or a fragment) as [`Self::upload`] stages an upload:
    /// what Tessera understands becomes the candidate, the rest is in the report. A dry run
    /// stages nothing and says what a commit would refuse.
    pub async fn import(
        &self,
        document: Vec<u8>,
        mode: UploadMode,
        author: &str,
        dry_run: bool,
    ) -> Result<ImportView, ConfigError> {
        let (base_version, base, stored_mode) = self.staging_base(mode).await?;
        let staging = if dry_run {
            Staging::DryRun
        } else {
            Staging::Stage
        };
        let imported = import::import(&base, &document, mode, &self.secrets, staging)?;
        let Some(candidate) = imported.config else {
            return Err(ConfigError::NotImported(
                imported.report,
                Problems(imported.problems),
            ));
        };
        if dry_run {
            return Ok(ImportView {
                report: imported.report,
                candidate: None,
                problems: config::validate(&candidate)
                    .err()
                    .map(|p| p.0)
                    .unwrap_or_default(),
            });
        }
        let view = self
            .stage(&candidate, base_version, stored_mode, author)
            .await?;
        Ok(ImportView {
            report: imported.report,
            candidate: Some(view),
            problems: Vec::new(),
        })
    }

    /// What an upload in `mode` goes onto: a merge onto the staged candidate when there is one
    /// (as Curity's candidate datastore does: two merged files are both in the diff), else onto
    /// the active version; a replace stages the upload alone, on the active version.
    async fn staging_base(
        &self,
        mode: UploadMode,
    ) -> Result<(i32, Configuration, String), ConfigError> {
        let staged = match mode {
            UploadMode::Merge => self.store.run(|conn| rows::candidate(conn)).await?,
            UploadMode::Replace => None,
        };
        Ok(match staged {
            Some(row) => (
                row.base_version,
                config::parse(&row.xml, &self.secrets)?,
                row.mode,
            ),
            None => {
                let (version, active) = self.newest().await?;
                (version, active, mode.as_str().to_owned())
            }
        })
    }

    async fn stage(
        &self,
        candidate: &Configuration,
        base_version: i32,
        stored_mode: String,
        author: &str,
    ) -> Result<CandidateView, ConfigError> {
        let xml = config::export(candidate, Root::Config);
        let author = author.to_owned();
        self.store
            .run(move |conn| rows::put_candidate(conn, base_version, &stored_mode, &xml, &author))
            .await?;
        self.candidate()
            .await?
            .ok_or_else(|| ConfigError::NotFound("the candidate vanished".into()))
    }

    /// The staged candidate with its diff, if any.
    pub async fn candidate(&self) -> Result<Option<CandidateView>, ConfigError> {
        let Some(row) = self.store.run(|conn| rows::candidate(conn)).await? else {
            return Ok(None);
        };
        let candidate = config::parse(&row.xml, &self.secrets)?;
        let base_version = row.base_version;
        let base = match self
            .store
            .run(move |conn| rows::version(conn, base_version))
            .await?
        {
            Some(base) => config::parse(&base.xml, &self.secrets)?,
            None => Configuration::default(),
        };
        let problems = match config::validate(&candidate) {
            Ok(()) => Vec::new(),
            Err(Problems(p)) => p,
        };
        Ok(Some(CandidateView {
            id: candidate_id(&row.xml),
            base_version: row.base_version,
            mode: row.mode,
            uploaded_by: row.uploaded_by,
            uploaded_at: row.uploaded_at.to_rfc3339(),
            changes: config::diff(&base, &candidate),
            problems,
        }))
    }

    /// Drops the candidate.
    pub async fn discard(&self) -> Result<(), ConfigError> {
        if self.store.run(|conn| rows::delete_candidate(conn)).await? {
            Ok(())
        } else {
            Err(ConfigError::NotFound(
                "there is no candidate to discard".into(),
            ))
        }
    }

    /// Validates the candidate and makes it the next version. With `expected_id`, only the
    /// candidate the caller reviewed is committed.
    pub async fn commit(
        &self,
        comment: &str,
        author: &str,
        expected_id: Option<&str>,
    ) -> Result<CommitOutcome, ConfigError> {
        let row = self
            .store
            .run(|conn| rows::candidate(conn))
            .await?
            .ok_or_else(|| {
                ConfigError::NotFound("there is no candidate to commit; upload first".into())
            })?;
        if expected_id.is_some_and(|id| id != candidate_id(&row.xml)) {
            return Err(ConfigError::Conflict(
                "the candidate changed since you reviewed it; review it again".into(),
            ));
        }
        let candidate = config::parse(&row.xml, &self.secrets)?;
        config::validate(&candidate).map_err(ConfigError::Invalid)?;
        self.append(candidate, row.base_version, comment, author, Some(row.xml))
            .await
    }

    /// Commits the content of version `k` as a new version.
    pub async fn rollback(
        &self,
        k: i32,
        comment: &str,
        author: &str,
    ) -> Result<CommitOutcome, ConfigError> {
        let old = self
            .store
            .run(move |conn| rows::version(conn, k))
            .await?
            .ok_or_else(|| ConfigError::NotFound(format!("there is no version {k}")))?;
        let config = config::parse(&old.xml, &self.secrets)?;
        config::validate(&config).map_err(ConfigError::Invalid)?;
        let (latest, _) = self.newest().await?;
        let comment = if comment.trim().is_empty() {
            format!("rollback to version {k}")
        } else {
            comment.to_owned()
        };
        self.append(config, latest, &comment, author, None).await
    }

    /// RESTCONF edit: merge (PATCH) or replace (PUT) and commit in one step.
    pub async fn edit_and_commit(
        &self,
        document: Vec<u8>,
        mode: UploadMode,
        author: &str,
    ) -> Result<CommitOutcome, ConfigError> {
        let (latest, base) = self.newest().await?;
        let config = config::apply(&base, &document, mode, &self.secrets)?;
        config::validate(&config).map_err(ConfigError::Invalid)?;
        let comment = format!(
            "RESTCONF {}",
            if mode == UploadMode::Merge {
                "PATCH"
            } else {
                "PUT"
            }
        );
        self.append(config, latest, &comment, author, None).await
    }

    async fn append(
        &self,
        config: Configuration,
        expected_latest: i32,
        comment: &str,
        author: &str,
        from_candidate: Option<String>,
    ) -> Result<CommitOutcome, ConfigError> {
        check_comment(comment)?;
        let base_version = expected_latest;
        let base = match self
            .store
            .run(move |conn| rows::version(conn, base_version))
            .await?
        {
            Some(row) => config::parse(&row.xml, &self.secrets)?,
            None => Configuration::default(),
        };
        let changes = config::diff(&base, &config);
        let xml = config::export(&config, Root::Config);
        // What is stored must read back: a version that cannot be parsed would stop every
        // instance from loading the configuration.
        if config::parse(&xml, &self.secrets)? != config {
            return Err(ConfigError::Invalid(Problems(vec![config::Problem::new(
                "/",
                0,
                "the configuration does not survive export (please report this)",
            )])));
        }
        let row = ConfigVersionRow {
            version: expected_latest + 1,
            xml,
            author: author.to_owned(),
            comment: comment.to_owned(),
            diff: changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            committed_at: Utc::now(),
        };
        let version = row.version;
        self.store
            .run(move |conn| {
                rows::append_version(conn, &row, expected_latest, from_candidate.as_deref())
            })
            .await?;
        self.active.install(Snapshot::new(version, config));
        tracing::info!(version, author, "configuration committed");
        Ok(CommitOutcome { version, changes })
    }

    /// History, newest first.
    pub async fn versions(&self) -> Result<Vec<VersionInfo>, ConfigError> {
        let rows = self.store.run(|conn| rows::versions(conn)).await?;
        Ok(rows
            .into_iter()
            .map(|r| VersionInfo {
                version: r.version,
                author: r.author,
                comment: r.comment,
                committed_at: r.committed_at.to_rfc3339(),
                diff: r.diff.lines().map(str::to_owned).collect(),
            })
            .collect())
    }

    /// The active configuration as XML.
    pub fn export(&self, root: Root) -> String {
        config::export(&self.active.load().config, root)
    }
}

fn load_or_initialise(
    conn: &mut tessera_store::PgConn,
    secrets: &ConfigSecrets,
    initial_xml: &str,
) -> Result<Snapshot, ConfigError> {
    if let Some(row) = rows::latest(conn)? {
        let config = config::parse(&row.xml, secrets)?;
        return Ok(Snapshot::new(row.version, config));
    }
    let config = config::parse(initial_xml, secrets)?;
    config::validate(&config).map_err(ConfigError::Invalid)?;
    let row = ConfigVersionRow {
        version: 1,
        xml: config::export(&config, Root::Config),
        author: "system".into(),
        comment: "initial configuration".into(),
        diff: String::new(),
        committed_at: Utc::now(),
    };
    match rows::append_version(conn, &row, 0, None) {
        Ok(()) => Ok(Snapshot::new(1, config)),
        // Another instance initialised it first: use theirs.
        Err(StoreError::Conflict(_)) => {
            let row =
                rows::latest(conn)?.ok_or_else(|| ConfigError::NotFound("version 1".into()))?;
            Ok(Snapshot::new(
                row.version,
                config::parse(&row.xml, secrets)?,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A short stable identifier of a candidate's content.
fn candidate_id(xml: &str) -> String {
    crate::crypto::sha256(xml.as_bytes())
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Comments are stored and shown as text: bounded, no control characters but newlines.
fn check_comment(comment: &str) -> Result<(), ConfigError> {
    let problem = if comment.chars().count() > 1000 {
        Some("must be at most 1000 characters")
    } else if comment.chars().any(|c| c.is_control() && c != '\n') {
        Some("must not contain control characters")
    } else {
        None
    };
    match problem {
        Some(message) => Err(ConfigError::Invalid(Problems(vec![config::Problem::new(
            "comment", 0, message,
        )]))),
        None => Ok(()),
    }
}
