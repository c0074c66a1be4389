//! `tessera config …` (configuration history, straight against the database) and
//! `tessera admin hash-password`.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use tessera_admin::config::{self as language, Problems, Root, UploadMode};
use tessera_admin::secrets::ConfigSecrets;
use tessera_admin::{ConfigError, ConfigService};

use super::CliError;
use crate::settings::Settings;
use crate::{open_config, resolve_kek};

/// `tessera config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check a configuration file offline (no database needed).
    Validate {
        /// The XML file.
        file: PathBuf,
        /// The file is a partial file meant to be merged: check structure and values only.
        #[arg(long)]
        partial: bool,
    },
    /// Stage a file as the candidate configuration.
    Upload {
        /// The XML file.
        file: PathBuf,
        /// Merge onto the active configuration (NETCONF rules).
        #[arg(long, conflicts_with = "replace", required_unless_present = "replace")]
        merge: bool,
        /// Replace the whole configuration.
        #[arg(long)]
        replace: bool,
    },
    /// Show what the candidate changes.
    Diff,
    /// Validate the candidate and make it the active configuration.
    Commit {
        /// Why (kept in the history).
        #[arg(short, long)]
        message: String,
    },
    /// Drop the candidate.
    Discard,
    /// Print the active configuration (secrets in stored form only).
    Export {
        /// Use the RESTCONF <data> root instead of <config>.
        #[arg(long)]
        restconf: bool,
    },
    /// List committed versions.
    Versions,
    /// Commit the content of version K as a new version.
    Rollback {
        /// The version to return to.
        #[arg(value_name = "K")]
        target: i32,
        /// Why.
        #[arg(short, long, default_value = "")]
        message: String,
    },
}

/// `tessera admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Read a password on stdin and print its argon2id hash for admin.password_hash.
    HashPassword,
}

fn failed(what: &str, e: ConfigError) -> CliError {
    if let ConfigError::Invalid(Problems(problems)) = &e {
        for p in problems {
            eprintln!("  {p}");
        }
        return CliError::Failed(format!(
            "{what}: {} problem(s) in the configuration (listed above)",
            problems.len()
        ));
    }
    CliError::Failed(format!("{what}: {e}"))
}

fn author() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

pub(super) fn run_admin(command: AdminCommand) -> Result<(), CliError> {
    match command {
        AdminCommand::HashPassword => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| {
                    CliError::Failed(format!("cannot read the password from stdin: {e}"))
                })?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.len() < 12 {
                return Err(CliError::Failed(
                    "the admin password must be at least 12 characters".into(),
                ));
            }
            let hash = tessera_admin::http::hash_password(password).map_err(CliError::Failed)?;
            println!("{hash}");
            Ok(())
        }
    }
}

pub(super) fn run(command: ConfigCommand, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let kek = resolve_kek(settings)?;
        let service = open_config(settings, store, kek).await?;
        run_online(command, &service).await
    })
}

async fn run_online(command: ConfigCommand, service: &ConfigService) -> Result<(), CliError> {
    match command {
        ConfigCommand::Validate { file, partial } => validate(&file, partial),
        ConfigCommand::Upload { file, replace, .. } => {
            let document = std::fs::read(&file)
                .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
            let mode = if replace {
                UploadMode::Replace
            } else {
                UploadMode::Merge
            };
            let view = service
                .upload(document, mode, &author())
                .await
                .map_err(|e| failed(&file.display().to_string(), e))?;
            println!(
                "staged a candidate based on version {} ({} change(s)):",
                view.base_version,
                view.changes.len()
            );
            print_candidate(&view);
            Ok(())
        }
        ConfigCommand::Diff => match service.candidate().await.map_err(|e| failed("diff", e))? {
            Some(view) => {
                println!(
                    "candidate based on version {}, uploaded by {} ({}):",
                    view.base_version, view.uploaded_by, view.mode
                );
                print_candidate(&view);
                Ok(())
            }
            None => Err(CliError::Failed(
                "there is no candidate; upload one first".into(),
            )),
        },
        ConfigCommand::Commit { message } => {
            let outcome = service
                .commit(&message, &author(), None)
                .await
                .map_err(|e| failed("commit", e))?;
            println!(
                "committed version {} ({} change(s))",
                outcome.version,
                outcome.changes.len()
            );
            Ok(())
        }
        ConfigCommand::Discard => {
            service.discard().await.map_err(|e| failed("discard", e))?;
            println!("candidate discarded");
            Ok(())
        }
        ConfigCommand::Export { restconf } => {
            print!(
                "{}",
                service.export(if restconf { Root::Data } else { Root::Config })
            );
            Ok(())
        }
        ConfigCommand::Versions => {
            let versions = service
                .versions()
                .await
                .map_err(|e| failed("versions", e))?;
            println!(
                "{:<8} {:<26} {:<20} COMMENT",
                "VERSION", "COMMITTED", "AUTHOR"
            );
            for v in versions {
                println!(
                    "{:<8} {:<26} {:<20} {}",
                    v.version, v.committed_at, v.author, v.comment
                );
            }
            Ok(())
        }
        ConfigCommand::Rollback {
            target: version,
            message,
        } => {
            let outcome = service
                .rollback(version, &message, &author())
                .await
                .map_err(|e| failed("rollback", e))?;
            println!(
                "committed version {} with the content of version {version}",
                outcome.version
            );
            Ok(())
        }
    }
}

fn print_candidate(view: &tessera_admin::CandidateView) {
    for change in &view.changes {
        println!("  {change}");
    }
    if view.problems.is_empty() {
        println!("commit would succeed");
    } else {
        println!("commit would be refused:");
        for p in &view.problems {
            println!("  {p}");
        }
    }
}

pub(super) fn validate(file: &std::path::Path, partial: bool) -> Result<(), CliError> {
    let document =
        std::fs::read(file).map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    let secrets = ConfigSecrets::ephemeral().map_err(|e| CliError::Failed(e.to_string()))?;
    let what = file.display().to_string();
    if partial {
        language::xml::read_bytes(&document).map_err(|e| failed(&what, ConfigError::from(e)))?;
    } else {
        let config = language::apply(
            &Default::default(),
            &document,
            UploadMode::Replace,
            &secrets,
        )
        .map_err(|e| failed(&what, ConfigError::from(e)))?;
        language::validate(&config).map_err(|p| failed(&what, ConfigError::Invalid(p)))?;
    }
    println!("{what}: valid");
    Ok(())
}
