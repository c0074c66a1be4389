//! `tessera account create`.

use std::io::Read;

use clap::{Args, Subcommand};
use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails, AccountError};

use super::CliError;
use crate::settings::Settings;

/// `tessera account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (the password, if any, is read from stdin).
    Create(CreateArgs),
}

/// `tessera account create`
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Username (unique, case-insensitively).
    #[arg(long)]
    username: String,
    /// Email address (unique, case-insensitively).
    #[arg(long)]
    email: Option<String>,
    /// Phone number.
    #[arg(long)]
    phone: Option<String>,
    /// Given name.
    #[arg(long)]
    given_name: Option<String>,
    /// Family name.
    #[arg(long)]
    family_name: Option<String>,
    /// Read a password from stdin (one line) and store its argon2id hash.
    #[arg(long)]
    password_stdin: bool,
    /// Succeed without changes when the username already exists (for seed scripts).
    #[arg(long)]
    if_missing: bool,
}

pub(super) fn run(command: AccountCommand, settings: &Settings) -> Result<(), CliError> {
    let AccountCommand::Create(args) = command;
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_to_string(&mut line)
            .map_err(|e| CliError::Failed(format!("cannot read the password from stdin: {e}")))?;
        Some(line.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        None
    };
    super::with_current_schema(settings, |store| async move {
        let passwords = Passwords::new(1).map_err(|e| CliError::Failed(e.to_string()))?;
        let details = AccountDetails {
            username: args.username.clone(),
            email: args.email,
            phone: args.phone,
            given_name: args.given_name,
            family_name: args.family_name,
        };
        match accounts::create(&store, &passwords, details, password).await {
            Ok(id) => {
                println!("created account {} ({id})", args.username);
                Ok(())
            }
            Err(AccountError::UsernameTaken) if args.if_missing => {
                println!("account {} already exists", args.username);
                Ok(())
            }
            Err(e) => Err(CliError::Failed(format!("account {}: {e}", args.username))),
        }
    })
}
