//! Developer workflows: `cargo xtask dev | test | bench | fuzz`.
//!
//! `dev` gives a newcomer a running server with development defaults: it finds PostgreSQL
//! (`DATABASE_URL`, else the local default), starts a private cluster under `target/` when none
//! answers and the server binaries are installed, creates the database, and runs
//! `tessera serve`. `test` runs the whole suite.
// A developer's tool: it reads the clock and fails loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

mod bench;
mod cpu;
mod load;
mod postgres;

use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/tessera_dev";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("dev") => dev(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 commands:\n  \
                 dev     run a local server with development defaults\n  \
                 test    run the whole test suite\n  \
                 bench   run a benchmark: oauth | password | passkey [SECONDS], or config\n  \
                 fuzz    run every fuzz target for SECONDS each (default 60)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed ({status})");
    }
    Ok(())
}

fn dev(extra: &[String]) -> Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
    let url = postgres::ensure_server(&url)?;
    postgres::ensure_database(&url)?;

    run(cargo().args([
        "build",
        "--package",
        "tessera-server",
        "--bin",
        "tessera",
        "--package",
        "tessera-demo-spa",
        "--bin",
        "tessera-demo-spa",
    ]))?;
    seed_accounts(&url)?;
    offer_passkeys(&url)?;
    let listen = std::env::var("TESSERA_SERVER_LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let port = listen.rsplit(':').next().unwrap_or("8080");
    let issuer = std::env::var("TESSERA_SERVER_ISSUER")
        .unwrap_or_else(|_| format!("http://localhost:{port}"));
    println!();
    println!("Tessera (development defaults) on {issuer}");
    println!("  discovery  {issuer}/.well-known/openid-configuration");
    println!("  JWKS       {issuer}/oauth/jwks");
    println!(
        "  admin      http://localhost:{port}/admin   (development credentials: admin / admin)"
    );
    println!("  accounts   kim and dana, password Password1 (development only)");
    println!("  demo app   {DEMO_APP}   (sign in as kim, create a passkey, sign in with it)");
    // Mail goes into a folder (and the log) unless the caller chose otherwise.
    let mail = std::env::var("TESSERA_MAIL_DROP_FOLDER").unwrap_or_else(|_| {
        std::env::current_dir()
            .unwrap_or_default()
            .join("target")
            .join("mail")
            .display()
            .to_string()
    });
    if mail.is_empty() {
        println!("  mail       through the configured email providers");
    } else {
        println!("  mail       not sent: written to {mail} and shown in this log");
    }
    println!("  health     http://{listen}/readyz   metrics http://{listen}/metrics");
    println!("  database   {}", postgres::redact(&url));
    println!("Stop with Ctrl-C.");
    println!();
    let _demo = DemoApp::start(&issuer)?;
    run(cargo()
        .args([
            "run",
            "--quiet",
            "--package",
            "tessera-server",
            "--bin",
            "tessera",
            "--",
        ])
        .arg("serve")
        .args(extra)
        .env("TESSERA_SERVER_DEVELOPMENT", "true")
        .env("TESSERA_MAIL_DROP_FOLDER", &mail)
        .env("TESSERA_SERVER_LISTEN", &listen)
        .env("TESSERA_SERVER_ISSUER", &issuer)
        .env("TESSERA_DATABASE_URL", &url))
}

fn test(extra: &[String]) -> Result<()> {
    let admin = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    postgres::ensure_reachable(&admin)?;
    run(cargo()
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
        .args(extra))
}

/// Runs every fuzz target (tests named `fuzz_…`) for `SECONDS` each, one at a time, printing
/// what each tried. `cargo xtask test` runs the same targets for a few hundred inputs.
fn fuzz(args: &[String]) -> Result<()> {
    let seconds: u64 = match args.first() {
        None => 60,
        Some(s) => s
            .parse()
            .map_err(|_| anyhow::anyhow!("usage: cargo xtask fuzz [SECONDS]"))?,
    };
    let admin = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    postgres::ensure_reachable(&admin)?;
    run(cargo()
        .args(["test", "--workspace", "--all-targets", "fuzz_", "--"])
        .args(["--nocapture", "--test-threads=1"])
        .env("TESSERA_FUZZ_SECONDS", seconds.to_string()))
}

fn bench(args: &[String]) -> Result<()> {
    // The load generator shares the cores with the server it measures: built for debugging
    // (`cargo xtask` is a dev build) it took about 40 µs more CPU per passkey ceremony, which
    // the server then lacked. The bench therefore always runs optimised.
    if cfg!(debug_assertions) {
        return run(cargo()
            .args([
                "run",
                "--release",
                "--quiet",
                "--package",
                "xtask",
                "--",
                "bench",
            ])
            .args(args));
    }
    match args.first().map(String::as_str) {
        Some("oauth") => bench::oauth(&args[1..]),
        Some("password") => bench::password(&args[1..]),
        Some("passkey") => bench::passkey(&args[1..]),
        Some("config") => bench::config(),
        Some("import") => bench::import(&args[1..]),
        _ => bail!(
            "usage: cargo xtask bench oauth [SECONDS] | password [SECONDS] | passkey [SECONDS] | import [ACCOUNTS] | config"
        ),
    }
}

/// Where the demo SPA is served: the origin `demo-web-client` registers in `config/base.xml`.
const DEMO_APP: &str = "http://localhost:3000";

/// The demo SPA (`examples/demo-spa`), stopped with the server.
struct DemoApp(std::process::Child);

impl DemoApp {
    fn start(issuer: &str) -> Result<Self> {
        let child = Command::new("target/debug/tessera-demo-spa")
            .env("TESSERA_DEMO_AUTHORITY", issuer)
            .env("TESSERA_DEMO_LISTEN", "127.0.0.1:3000")
            .spawn()
            .context("starting the demo app (target/debug/tessera-demo-spa)")?;
        Ok(DemoApp(child))
    }
}

impl Drop for DemoApp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `target/debug/tessera` command on the development database.
fn dev_tessera(url: &str) -> Command {
    let mut cmd = Command::new("target/debug/tessera");
    cmd.env("TESSERA_SERVER_DEVELOPMENT", "true")
        .env("TESSERA_DATABASE_URL", url);
    cmd
}

/// Development offers passkeys next to the password (`config/migrate-to-passkeys.xml`), so
/// that a newcomer can create one and sign in with it. Merged and committed once.
fn offer_passkeys(url: &str) -> Result<()> {
    let export = dev_tessera(url)
        .args(["config", "export"])
        .output()
        .context("running tessera config export")?;
    if !export.status.success() {
        bail!(
            "tessera config export failed: {}",
            String::from_utf8_lossy(&export.stderr)
        );
    }
    if String::from_utf8_lossy(&export.stdout).contains("<id>passkeys</id>") {
        return Ok(());
    }
    run(dev_tessera(url)
        .args([
            "config",
            "upload",
            "--merge",
            "config/migrate-to-passkeys.xml",
        ])
        .stdout(std::process::Stdio::null()))?;
    run(dev_tessera(url)
        .args([
            "config",
            "commit",
            "-m",
            "development: passkeys next to the password",
        ])
        .stdout(std::process::Stdio::null()))
}

/// The seeds' test users, created once (their password is `Password1`, for development only).
fn seed_accounts(url: &str) -> Result<()> {
    use std::io::Write;
    let tessera = || dev_tessera(url);
    run(tessera().arg("migrate").stdout(std::process::Stdio::null()))?;
    for (user, given, family) in [("kim", "Kim", "Anderson"), ("dana", "Dana", "Brown")] {
        let mut child = tessera()
            .args([
                "account",
                "create",
                "--if-missing",
                "--password-stdin",
                "--username",
                user,
            ])
            .args([
                "--email",
                &format!("{user}@example.com"),
                "--given-name",
                given,
                "--family-name",
                family,
            ])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .context("running tessera account create")?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(b"Password1\n")?;
        }
        if !child.wait()?.success() {
            bail!("could not create the development account {user}");
        }
    }
    Ok(())
}
