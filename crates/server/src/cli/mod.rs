//! The command line: `tessera serve | migrate | keys list | keys rotate`.

mod account;
mod audit;
mod config;
mod keys;

pub use account::AccountCommand;
pub use config::{AdminCommand, ConfigCommand};

use std::path::PathBuf;

use chrono::Utc;
use clap::{Parser, Subcommand};

use crate::settings::{Settings, SettingsError};
use crate::{Application, StartupError, open_store, telemetry};

/// Default settings file, relative to the working directory.
pub const DEFAULT_CONFIG: &str = "config/tessera.toml";

/// Tessera, an OpenID Connect server for passwordless sign-in.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, propagate_version = true)]
pub struct Cli {
    /// Settings file (TOML). Every setting can also be given as TESSERA_<SECTION>_<KEY>.
    #[arg(long, global = true, env = "TESSERA_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve HTTP(S) until interrupted.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Upload, review, commit and roll back the configuration XML.
    Config {
        /// What to do with the configuration.
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Manage accounts.
    Account {
        /// What to do.
        #[command(subcommand)]
        action: AccountCommand,
    },
    /// Show the audit log: who changed which account or group, what and when.
    Audit(audit::AuditArgs),
    /// Admin utilities.
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// Manage token signing keys.
    Keys {
        /// What to do with the keys.
        #[command(subcommand)]
        action: KeysCommand,
    },
}

/// `tessera keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys with their state.
    List,
    /// Add a new key per algorithm; it signs after keys.activation_delay.
    Rotate,
}

/// A failed command: one line for the operator, exit status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Could not start or reach what the command needs.
    #[error(transparent)]
    Startup(#[from] StartupError),
    /// A command failed; the message says why.
    #[error("{0}")]
    Failed(String),
    /// The server stopped with an I/O error.
    #[error("server stopped: {0}")]
    Serve(std::io::Error),
}

impl Cli {
    /// Loads the settings this invocation names.
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let (path, required) = match &self.config {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        Settings::load(&path, required, &|name| std::env::var(name).ok())
    }

    /// Runs the command.
    pub fn run(self) -> Result<(), CliError> {
        // These need no settings (offline tools).
        match self.command {
            Command::Admin { action } => return config::run_admin(action),
            Command::Config {
                action: ConfigCommand::Validate { file, partial },
            } => return config::validate(&file, partial),
            Command::Config {
                action:
                    ConfigCommand::Import {
                        file,
                        replace,
                        dry_run: true,
                        ..
                    },
            } => return config::import_dry_run(&file, replace),
            _ => {}
        }
        let settings = self.settings()?;
        telemetry::init(&settings.log);
        match self.command {
            Command::Serve => serve(settings),
            Command::Migrate => migrate(&settings),
            Command::Keys { action } => keys::run(action, &settings, Utc::now()),
            Command::Config { action } => config::run(action, &settings),
            Command::Account { action } => account::run(action, &settings),
            Command::Audit(args) => audit::run(args, &settings),
            Command::Admin { .. } => Ok(()),
        }
    }
}

fn serve(settings: Settings) -> Result<(), CliError> {
    actix_web::rt::System::new().block_on(async move {
        let scheme = if settings.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let listen = settings.server.listen;
        let issuer = settings.server.issuer.clone();
        let app = Application::build(settings).await?;
        tracing::info!(
            address = %format!("{scheme}://{}:{}", listen.ip(), app.port()),
            %issuer,
            version = env!("CARGO_PKG_VERSION"),
            "tessera is serving"
        );
        app.run().await.map_err(CliError::Serve)
    })
}

/// Runs `work` on a small runtime against the database of `settings`, once its schema is
/// current (commands other than `migrate` never change the schema behind an operator's back).
fn with_current_schema<T, F, Fut>(settings: &Settings, work: F) -> Result<T, CliError>
where
    F: FnOnce(tessera_store::Store) -> Fut,
    Fut: std::future::Future<Output = Result<T, CliError>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    runtime.block_on(async move {
        let store = open_store(settings)?;
        let pending = store
            .run(|conn| tessera_store::migrations::pending_count(conn))
            .await
            .map_err(StartupError::from)?;
        if pending > 0 {
            return Err(StartupError::Other(format!(
                "database schema is {pending} migration(s) behind: run `tessera migrate` first"
            ))
            .into());
        }
        work(store).await
    })
}

fn migrate(settings: &Settings) -> Result<(), CliError> {
    let store = open_store(settings)?;
    let mut conn = store.conn().map_err(StartupError::from)?;
    let applied = tessera_store::migrations::run_pending(&mut conn).map_err(StartupError::from)?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        for version in applied {
            println!("applied {version}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
