//! `tessera config …` (configuration history, straight against the database) and
//! `tessera admin hash-password`.

use std::io::Read;
use std::path::PathBuf;

use clap::Subcommand;
use tessera_admin::config::import::{self, Staging};
use tessera_admin::config::{self as language, Problems, Root, UploadMode};
use tessera_admin::secrets::ConfigSecrets;
use tessera_admin::{ConfigError, ConfigService, ImportView};

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
        /// The file is a partial file meant to be merged: check its structure and every value,
        /// but not references to what the configuration it joins provides.
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
    /// Import a Curity configuration file (an export or a fragment): what Tessera understands
    /// is staged as the candidate; everything else is listed in a migration report.
    Import {
        /// The XML file.
        file: PathBuf,
        /// Merge onto the active configuration (NETCONF rules).
        #[arg(
            long,
            conflicts_with = "replace",
            required_unless_present_any = ["replace", "dry_run"]
        )]
        merge: bool,
        /// Replace the whole configuration.
        #[arg(long)]
        replace: bool,
        /// Print the report and what a commit of the file alone would refuse; change nothing
        /// (no database needed). Exit 0 when the import is possible, 2 when not.
        #[arg(long)]
        dry_run: bool,
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
    if let ConfigError::NotImported(report, Problems(problems)) = &e {
        print_report(report);
        eprintln!("in-scope problems (nothing was staged):");
        for p in problems {
            eprintln!("  {p}");
        }
        return CliError::Failed(format!(
            "{what}: {} in-scope problem(s) (listed above); fix them and import again",
            problems.len()
        ));
    }
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
            let view = service
                .upload(document, mode_of(replace), &author())
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
        ConfigCommand::Import {
            file,
            replace,
            dry_run: true,
            ..
        } => import_dry_run(&file, replace),
        ConfigCommand::Import { file, replace, .. } => {
            let document = std::fs::read(&file)
                .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
            let view = service
                .import(document, mode_of(replace), &author(), false)
                .await
                .map_err(|e| failed(&file.display().to_string(), e))?;
            print_import(&view);
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

fn mode_of(replace: bool) -> UploadMode {
    if replace {
        UploadMode::Replace
    } else {
        UploadMode::Merge
    }
}

fn print_report(report: &import::Report) {
    if report.entries.is_empty() {
        println!("migration report: everything was carried over");
    } else {
        println!("migration report ({} element(s)):", report.entries.len());
        for line in report.render().lines() {
            println!("  {line}");
        }
    }
}

fn print_import(view: &ImportView) {
    print_report(&view.report);
    if let Some(candidate) = &view.candidate {
        println!(
            "staged a candidate based on version {} ({} change(s)):",
            candidate.base_version,
            candidate.changes.len()
        );
        print_candidate(candidate);
    }
}

/// `config import --dry-run`: the file alone, offline. A commit's cross-checks are shown but
/// do not fail it (a fragment names what the configuration it joins provides).
pub(super) fn import_dry_run(file: &std::path::Path, replace: bool) -> Result<(), CliError> {
    let document =
        std::fs::read(file).map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    let secrets = ConfigSecrets::ephemeral().map_err(|e| CliError::Failed(e.to_string()))?;
    let what = file.display().to_string();
    let imported = import::import(
        &Default::default(),
        &document,
        mode_of(replace),
        &secrets,
        Staging::DryRun,
    )
    .map_err(|e| failed(&what, ConfigError::from(e)))?;
    let Some(config) = imported.config else {
        return Err(failed(
            &what,
            ConfigError::NotImported(imported.report, Problems(imported.problems)),
        ));
    };
    print_report(&imported.report);
    if let Err(Problems(problems)) = language::validate(&config) {
        println!(
            "a commit of this file alone would refuse (a fragment's references must be met by the configuration it joins):"
        );
        for p in problems {
            println!("  {p}");
        }
    }
    println!("{what}: the import is possible (dry run: nothing staged)");
    Ok(())
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
    language::check(&document, partial, &secrets)
        .map_err(|e| failed(&what, ConfigError::from(e)))?;
    println!("{what}: valid");
    Ok(())
}
