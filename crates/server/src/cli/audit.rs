//! `tessera audit`: the audit log, newest first; and how the other commands record in it.

use clap::Args;
use tessera_store::audit::{self, Entry};
use tessera_store::{Store, StoreError};

use super::CliError;
use crate::settings::Settings;

/// `tessera audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only what was done to this account (by username).
    #[arg(long)]
    account: Option<String>,
    /// Show at most this many entries.
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

/// How the audit log names whoever runs the CLI: the operating-system user.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Runs `change` and, when `did` says it changed something, records `entry` in the same
/// transaction.
pub async fn audited<T, F>(
    store: &Store,
    entry: Entry,
    change: F,
    did: fn(&T) -> bool,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut tessera_store::PgConnection) -> Result<T, StoreError> + Send + 'static,
{
    store
        .run(move |conn| {
            audit::recorded(conn, chrono::Utc::now(), change, |outcome| {
                did(outcome).then_some(entry)
            })
        })
        .await
}

pub(super) fn run(args: AuditArgs, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let account = match &args.account {
            Some(username) => Some(super::account::named(&store, username).await?.account_id),
            None => None,
        };
        let limit = args.limit;
        let entries = store
            .run(move |conn| audit::recent(conn, account, limit))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        if entries.is_empty() {
            println!("(no entries)");
        }
        for entry in entries {
            println!(
                "{}  {:<22} {:<16} {}{}",
                entry.at.format("%Y-%m-%d %H:%M:%S UTC"),
                entry.actor,
                entry.action,
                entry.subject,
                if entry.detail.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", entry.detail)
                }
            );
        }
        Ok(())
    })
}
