//! `tessera keys list | rotate`.

use chrono::{DateTime, Utc};
use tessera_oauth_core::keys::{self, KeyPolicy};

use super::{CliError, KeysCommand};
use crate::settings::Settings;
use crate::{StartupError, open_store, resolve_kek};

pub(super) fn run(
    action: KeysCommand,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    let store = open_store(settings)?;
    let mut conn = store.conn().map_err(StartupError::from)?;
    let pending =
        tessera_store::migrations::pending_count(&mut conn).map_err(StartupError::from)?;
    if pending > 0 {
        return Err(StartupError::Other(format!(
            "database schema is {pending} migration(s) behind: run `tessera migrate` first"
        ))
        .into());
    }
    match action {
        KeysCommand::List => {
            let listing = keys::list(&mut conn, now).map_err(StartupError::from)?;
            if listing.is_empty() {
                println!("no signing keys yet (they are generated when the server first starts)");
            }
            println!(
                "{:<24} {:<6} {:<8} {:<22} {:<22} {:<22}",
                "KID", "ALG", "STATUS", "SIGNS FROM", "SIGNS UNTIL", "PUBLISHED UNTIL"
            );
            for key in listing {
                println!(
                    "{:<24} {:<6} {:<8} {:<22} {:<22} {:<22}",
                    key.kid,
                    key.alg,
                    key.status.as_str(),
                    stamp(Some(key.activates_at)),
                    stamp(key.retires_at),
                    stamp(key.expires_at),
                );
            }
        }
        KeysCommand::Rotate => {
            let kek = resolve_kek(settings)?;
            let policy = KeyPolicy {
                activation_delay: chrono::Duration::from_std(settings.keys.activation_delay)
                    .map_err(|e| StartupError::Other(format!("keys.activation_delay: {e}")))?,
                retention: chrono::Duration::from_std(settings.keys.retention)
                    .map_err(|e| StartupError::Other(format!("keys.retention: {e}")))?,
            };
            keys::ensure_keys(&mut conn, &kek, now).map_err(StartupError::from)?;
            let fresh = keys::rotate(&mut conn, &kek, policy, now).map_err(StartupError::from)?;
            for row in fresh {
                println!(
                    "added {} key {}: published now, signs from {}",
                    row.alg,
                    row.kid,
                    stamp(Some(row.activates_at))
                );
            }
        }
    }
    Ok(())
}

fn stamp(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "-".to_owned())
}
