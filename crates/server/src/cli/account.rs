//! `tessera account create|list|show|disable|enable|delete|remove-passkey|sign-out|import`.

use std::io::Read;

use clap::{Args, Subcommand};
use tessera_admin::crypto::passwords::Passwords;
use tessera_authn::accounts::{self, AccountDetails, AccountError};

use tessera_store::Store;
use tessera_store::accounts::{AccountQuery, AccountRow};

use super::CliError;
use super::audit::{actor, audited};
use tessera_store::audit::Entry;

/// An audit entry for what the CLI did to `account`.
fn entry(action: &'static str, account: &AccountRow, detail: String) -> Entry {
    Entry {
        actor: actor(),
        action,
        account_id: Some(account.account_id),
        subject: account.username.clone(),
        detail,
    }
}
use crate::settings::Settings;

/// `tessera account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create an account (the password, if any, is read from stdin).
    Create(CreateArgs),
    /// List accounts by username.
    List(ListArgs),
    /// Show an account: its details, passkeys and recent sign-ins.
    Show(UsernameArg),
    /// Disable an account: it cannot sign in, and its sessions and refresh tokens end now.
    Disable(UsernameArg),
    /// Enable a disabled account again.
    Enable(UsernameArg),
    /// Delete an account and everything that belongs to it (passkeys, sessions, tokens).
    Delete(DeleteArgs),
    /// Remove one of an account's passkeys (a lost or stolen device).
    RemovePasskey(RemovePasskeyArgs),
    /// End every SSO session of an account and revoke its refresh tokens.
    SignOut(UsernameArg),
    /// Bring in accounts from another system: a JSON-lines file, one account per line.
    Import(ImportArgs),
}

/// `tessera account import`
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: one JSON object per line with `username` and optionally `email`,
    /// `email_verified`, `phone`, `given_name`, `family_name`, `legacy_subject` (the `sub`
    /// relying parties know the user by), and either `password_hash` (argon2, bcrypt, or
    /// `$pbkdf2-sha256$i=N$SALT$HASH`, SHA-crypt `$5$`/`$6$`) or `keycloak_credential` (a
    /// password credential of Keycloak's realm export, as it writes it: PBKDF2-SHA-256/512 or
    /// argon2id).
    file: std::path::PathBuf,
}

/// One line of an import file.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    username: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    password_hash: Option<String>,
    /// A password credential as Keycloak's realm export writes it (nested or flat).
    #[serde(default)]
    keycloak_credential: Option<serde_json::Value>,
    #[serde(default)]
    legacy_subject: Option<String>,
}

impl ImportLine {
    /// The account and what it brings, or why the line cannot be imported.
    fn account(self) -> Result<(AccountDetails, accounts::Imported), String> {
        let hash = match (self.password_hash, self.keycloak_credential) {
            (Some(_), Some(_)) => {
                return Err("give password_hash or keycloak_credential, not both".into());
            }
            (Some(hash), None) => Some(hash),
            (None, Some(credential)) => Some(
                tessera_admin::crypto::legacy::from_keycloak_credential(&credential)?,
            ),
            (None, None) => None,
        };
        let details = AccountDetails {
            username: self.username,
            email: self.email,
            phone: self.phone,
            given_name: self.given_name,
            family_name: self.family_name,
        };
        let imported = accounts::Imported {
            password_hash: hash,
            legacy_subject: self.legacy_subject,
            email_verified: self.email_verified,
        };
        Ok((details, imported))
    }
}

/// `tessera account list`
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only usernames or email addresses containing this.
    #[arg(long)]
    search: Option<String>,
    /// Skip this many.
    #[arg(long, default_value_t = 0)]
    offset: i64,
    /// Show at most this many.
    #[arg(long, default_value_t = 100)]
    limit: i64,
}

/// An account named by its username.
#[derive(Debug, Args)]
pub struct UsernameArg {
    /// The account's username.
    username: String,
}

/// `tessera account remove-passkey`
#[derive(Debug, Args)]
pub struct RemovePasskeyArgs {
    /// The account's username.
    username: String,
    /// The passkey: its id (as `tessera account show` lists it) or its name.
    passkey: String,
    /// Remove it even when it is the account's last way to sign in (no other passkey, no
    /// password); the user then needs the recovery email to get back in.
    #[arg(long)]
    yes: bool,
}

/// `tessera account delete`
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The account's username.
    username: String,
    /// Confirm: deleting cannot be undone.
    #[arg(long)]
    yes: bool,
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
    match command {
        AccountCommand::Create(args) => create(args, settings),
        AccountCommand::List(args) => list(args, settings),
        AccountCommand::Show(named) => show(&named.username, settings),
        AccountCommand::Disable(named) => disable(&named.username, settings),
        AccountCommand::Enable(named) => enable(&named.username, settings),
        AccountCommand::Delete(args) => delete(args, settings),
        AccountCommand::RemovePasskey(args) => remove_passkey(args, settings),
        AccountCommand::SignOut(named) => sign_out(&named.username, settings),
        AccountCommand::Import(args) => import(&args.file, settings),
    }
}

fn create(args: CreateArgs, settings: &Settings) -> Result<(), CliError> {
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
                let entry = Entry {
                    actor: actor(),
                    action: "user.created",
                    account_id: Some(id),
                    subject: args.username.clone(),
                    detail: String::new(),
                };
                audited(&store, entry, |_| Ok(()), |()| true)
                    .await
                    .map_err(failed)?;
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

fn failed(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

/// The account named `username`, or a clear failure.
pub(super) async fn named(store: &Store, username: &str) -> Result<AccountRow, CliError> {
    let lookup = username.to_owned();
    store
        .run(move |conn| tessera_store::accounts::by_username(conn, &lookup))
        .await
        .map_err(failed)?
        .ok_or_else(|| CliError::Failed(format!("no account is named {username:?}")))
}

fn status(account: &AccountRow) -> String {
    match account.disabled_at {
        Some(at) => format!("disabled since {}", at.format("%Y-%m-%d %H:%M UTC")),
        None => "enabled".into(),
    }
}

fn list(args: ListArgs, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let query = AccountQuery {
            search: args.search,
            offset: args.offset,
            limit: args.limit,
        };
        let (accounts, total) = store
            .run(move |conn| tessera_store::accounts::list(conn, &query))
            .await
            .map_err(failed)?;
        for account in &accounts {
            println!(
                "{}\t{}\t{}\t{}",
                account.username,
                account.email.as_deref().unwrap_or("-"),
                status(account),
                account.account_id
            );
        }
        println!("({} of {total})", accounts.len());
        Ok(())
    })
}

fn show(username: &str, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let account = named(&store, username).await?;
        let id = account.account_id;
        let (devices, sign_ins) = store
            .run(move |conn| {
                let devices = tessera_store::passkeys::devices_of(conn, id)?;
                let sign_ins = tessera_store::signin::recent_sign_ins(conn, id, 10)?;
                Ok((devices, sign_ins))
            })
            .await
            .map_err(failed)?;
        println!("username:  {}", account.username);
        println!("id:        {id}");
        println!("email:     {}", account.email.as_deref().unwrap_or("-"));
        println!("status:    {}", status(&account));
        println!(
            "created:   {}",
            account.created_at.format("%Y-%m-%d %H:%M UTC")
        );
        println!("passkeys:  {}", devices.len());
        for device in &devices {
            println!(
                "  {}  {}  created {}",
                device.device_id,
                device.name,
                device.created_at.format("%Y-%m-%d")
            );
        }
        println!("recent sign-ins:");
        for sign_in in &sign_ins {
            println!(
                "  {}  {}  {}",
                sign_in.signed_in_at.format("%Y-%m-%d %H:%M UTC"),
                sign_in.amr.join("+"),
                sign_in.client_id.as_deref().unwrap_or("account page")
            );
        }
        Ok(())
    })
}

fn disable(username: &str, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let account = named(&store, username).await?;
        let id = account.account_id;
        let now = chrono::Utc::now();
        let disabled = audited(
            &store,
            entry("user.disabled", &account, String::new()),
            move |conn| tessera_store::accounts::disable(conn, id, now),
            Option::is_some,
        )
        .await
        .map_err(failed)?;
        match disabled {
            Some(ended) => println!(
                "disabled {username}: {} sessions ended, {} refresh tokens revoked",
                ended.sessions, ended.refresh_tokens
            ),
            None => println!("{username} is disabled already"),
        }
        Ok(())
    })
}

fn enable(username: &str, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let account = named(&store, username).await?;
        let id = account.account_id;
        let now = chrono::Utc::now();
        let enabled = audited(
            &store,
            entry("user.enabled", &account, String::new()),
            move |conn| tessera_store::accounts::enable(conn, id, now),
            |enabled| *enabled,
        )
        .await
        .map_err(failed)?;
        if enabled {
            println!("enabled {username}");
        } else {
            println!("{username} is enabled already");
        }
        Ok(())
    })
}

fn delete(args: DeleteArgs, settings: &Settings) -> Result<(), CliError> {
    if !args.yes {
        return Err(CliError::Failed(format!(
            "deleting {} cannot be undone: add --yes",
            args.username
        )));
    }
    super::with_current_schema(settings, |store| async move {
        let account = named(&store, &args.username).await?;
        let id = account.account_id;
        audited(
            &store,
            entry("user.deleted", &account, String::new()),
            move |conn| tessera_store::accounts::delete(conn, id),
            |deleted| *deleted,
        )
        .await
        .map_err(failed)?;
        println!(
            "deleted {} and everything that belonged to it",
            args.username
        );
        Ok(())
    })
}

fn sign_out(username: &str, settings: &Settings) -> Result<(), CliError> {
    super::with_current_schema(settings, |store| async move {
        let account = named(&store, username).await?;
        let id = account.account_id;
        let now = chrono::Utc::now();
        let ended = audited(
            &store,
            entry("sessions.ended", &account, String::new()),
            move |conn| tessera_store::signin::sign_out_everywhere(conn, id, None, now),
            |_| true,
        )
        .await
        .map_err(failed)?;
        println!(
            "signed {username} out: {} sessions ended, {} refresh tokens revoked",
            ended.sessions, ended.refresh_tokens
        );
        Ok(())
    })
}

/// Imports every good line of `file`; a bad line is reported with its number while the rest go
/// in. Fails (after importing the rest) when any line could not be imported.
fn import(file: &std::path::Path, settings: &Settings) -> Result<(), CliError> {
    use std::io::BufRead;
    let reader = std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    super::with_current_schema(settings, |store| async move {
        let (mut imported, mut refused) = (0u64, 0u64);
        for (index, line) in reader.split(b'\n').enumerate() {
            let number = index + 1;
            let line = line.map_err(|e| CliError::Failed(format!("line {number}: {e}")))?;
            if line.trim_ascii().is_empty() {
                continue;
            }
            // A line that is not UTF-8 is one bad line, reported like any other.
            let parsed = String::from_utf8(line)
                .map_err(|_| "not UTF-8 text".to_owned())
                .and_then(|line| {
                    serde_json::from_str::<ImportLine>(&line).map_err(|e| e.to_string())
                })
                .and_then(ImportLine::account);
            let outcome = match parsed {
                Ok((details, imported)) => accounts::import(&store, details, imported)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            match outcome {
                Ok(_) => imported += 1,
                Err(e) => {
                    refused += 1;
                    eprintln!("line {number}: {e}");
                }
            }
            if (imported + refused) % 10_000 == 0 {
                eprintln!("{} lines read, {imported} imported", imported + refused);
            }
        }
        println!("imported {imported} accounts; {refused} lines refused");
        let entry = Entry {
            actor: actor(),
            action: "users.imported",
            account_id: None,
            subject: file.display().to_string(),
            detail: format!("{imported} imported, {refused} refused"),
        };
        audited(&store, entry, |_| Ok(()), |()| true)
            .await
            .map_err(failed)?;
        if refused > 0 {
            return Err(CliError::Failed(format!(
                "{refused} lines were not imported"
            )));
        }
        Ok(())
    })
}

fn remove_passkey(args: RemovePasskeyArgs, settings: &Settings) -> Result<(), CliError> {
    use tessera_store::passkeys::Deletion;
    super::with_current_schema(settings, |store| async move {
        let row = named(&store, &args.username).await?;
        let account = row.account_id;
        let devices = store
            .run(move |conn| tessera_store::passkeys::devices_of(conn, account))
            .await
            .map_err(failed)?;
        let wanted = args.passkey.as_str();
        let matching: Vec<_> = devices
            .iter()
            .filter(|d| d.device_id.to_string() == wanted || d.name == wanted)
            .collect();
        let device = match matching.as_slice() {
            [one] => one.device_id,
            [] => {
                return Err(CliError::Failed(format!(
                    "{} has no passkey {wanted:?}; `tessera account show {}` lists them",
                    args.username, args.username
                )));
            }
            _ => {
                return Err(CliError::Failed(format!(
                    "{} has several passkeys named {wanted:?}: name it by its id",
                    args.username
                )));
            }
        };
        let confirmed = args.yes;
        let now = chrono::Utc::now();
        let outcome = audited(
            &store,
            entry("passkey.removed", &row, format!("passkey {device}")),
            move |conn| {
                tessera_store::passkeys::delete_device(conn, account, device, confirmed, now)
            },
            |outcome| *outcome == Deletion::Deleted,
        )
        .await
        .map_err(failed)?;
        match outcome {
            Deletion::Deleted => {
                println!("removed passkey {device} from {}", args.username);
                Ok(())
            }
            Deletion::NotFound => Err(CliError::Failed(format!(
                "the passkey {device} was removed meanwhile"
            ))),
            Deletion::LastWay(name) => Err(CliError::Failed(format!(
                "{name:?} is {}'s only way to sign in; add --yes to remove it anyway (they \
                 will need the recovery email)",
                args.username
            ))),
        }
    })
}
