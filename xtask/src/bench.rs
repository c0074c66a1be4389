//! `cargo xtask bench …`: benchmarks against a release build, bounded in time.
//!
//! `oauth` starts `tessera serve` (release) on a throw-away database with one account signed
//! in, and reports operations/s and latency percentiles per scenario over loopback (server,
//! PostgreSQL and load generator share the machine): `wrk` for single requests (client
//! credentials, userinfo, JWKS, discovery), the built-in generator (`load.rs`) for the
//! multi-step ones (silent SSO: `authorize?prompt=none` + code exchange; refresh with
//! rotation), then every scenario again at half its target rate, open loop, for p99.
//! `config` times configuration commits and `ActiveConfig` lookups.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;

use crate::load::{Mode, Operation, Target};
use crate::{cargo, postgres, run};

/// The password of the bench accounts.
pub const BENCH_PASSWORD: &str = "Bench-Password-1";

struct Server(Child, Tessera);

/// Runs `target/release/tessera` commands against the bench database with the server's key.
#[derive(Clone)]
struct Tessera {
    database_url: String,
    kek: String,
}

impl Tessera {
    fn command(&self) -> Command {
        let mut cmd = Command::new("target/release/tessera");
        cmd.env("TESSERA_DATABASE_URL", &self.database_url)
            .env("TESSERA_KEYS_ENCRYPTION_KEY", &self.kek)
            .env("TESSERA_LOG_FILTER", "warn")
            // The bench signs in with the demo clients.
            .env("TESSERA_ADMIN_INITIAL_CONFIG", "config/base.xml");
        cmd
    }

    /// Creates the account `username` (address `<username>@example.com`) with the bench
    /// password.
    fn create_account(&self, username: &str) -> Result<()> {
        let mut create = self
            .command()
            .args([
                "account",
                "create",
                "--password-stdin",
                "--username",
                username,
            ])
            .args(["--email", &format!("{username}@example.com")])
            .args(["--given-name", "Bench"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("running tessera account create")?;
        if let Some(mut stdin) = create.stdin.take() {
            stdin.write_all(format!("{BENCH_PASSWORD}\n").as_bytes())?;
        }
        if !create.wait()?.success() {
            bail!("could not create the account {username}");
        }
        Ok(())
    }

    /// Merges `xml` and commits it (the running server picks it up within a second).
    fn merge(&self, xml: &str) -> Result<()> {
        let file = std::env::temp_dir().join(format!("tessera-bench-{}.xml", std::process::id()));
        std::fs::write(&file, xml)?;
        run(self
            .command()
            .args(["config", "upload", "--merge"])
            .arg(&file)
            .stdout(Stdio::null()))?;
        run(self
            .command()
            .args(["config", "commit", "--message", "bench"])
            .stdout(Stdio::null()))?;
        let _ = std::fs::remove_file(&file);
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn random_kek() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .context("reading /dev/urandom")?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// One wrk run: a report line, and the requests/s.
fn wrk(name: &str, url: &str, extra: &[&str], seconds: u32) -> Result<(String, f64)> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency"]);
    cmd.args(extra);
    let out = cmd
        .arg(url)
        .output()
        .context("running wrk (Debian: apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let pick = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
            .unwrap_or_else(|| "?".into())
    };
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .unwrap_or("")
        .trim()
        .to_owned();
    let rate = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?")
        .to_owned();
    Ok((
        format!(
            "{name:<22} {rate:>10} ops/s   p50 {:>8}  p90 {:>8}  p99 {:>8}  {errors}",
            pick("50%"),
            pick("90%"),
            pick("99%"),
        ),
        rate.parse().unwrap_or(0.0),
    ))
}

/// Targets from the OIDC core issue for this 2-core machine; latency is checked at half of them.
/// Scenarios without a target are checked at half the rate measured just before.
const TARGETS: &[(&str, Option<f64>)] = &[
    ("client credentials", Some(15_000.0)),
    ("refresh with rotation", Some(3_000.0)),
    ("silent SSO flow", Some(1_500.0)),
    ("userinfo", None),
    ("JWKS", None),
];

/// The demo SPA asks for ES256 ID tokens.
const ES256_ID_TOKENS: &str = r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed><client><id>demo-web-client</id><id-token-signing-algorithm>ES256</id-token-signing-algorithm></client></config-backed></client-store></authorization-server></settings></profile></profiles></config>"#;

const API_BASIC: &str =
    "Basic ZGVtby1hcGktY2xpZW50OkRlbW8tQVBJLVNlY3JldC0wMTIzNDU2Nzg5LWFiY2RlZmdoaWpr";

pub fn oauth(args: &[String]) -> Result<()> {
    let seconds: u32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed (Debian: apt-get install wrk)");
    }
    on_throwaway_database(|url| oauth_on(url, seconds))
}

/// Builds the release binary and runs `bench` against a database created for it and dropped
/// afterwards.
fn on_throwaway_database(bench: impl FnOnce(&str) -> Result<()>) -> Result<()> {
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "tessera-server",
        "--bin",
        "tessera",
    ]))?;
    // PostgreSQL on this machine, reached as docs/operations.md advises for a database on the
    // same host: without TLS, which libpq would otherwise negotiate (and pay for on every
    // statement) over loopback.
    let admin = std::env::var("TESSERA_TEST_DATABASE_URL").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned()
    });
    let db = format!("tessera_bench_{}", std::process::id());
    let mut url = url::Url::parse(&admin)?;
    url.set_path(&format!("/{db}"));
    postgres::ensure_database(url.as_str())?;
    let result = bench(url.as_str());
    postgres::drop_database(url.as_str())?;
    result
}

/// `tessera serve` (release) on `database_url` with the account `bench`; `env` adds settings.
fn start_server(database_url: &str, env: &[(&str, &str)]) -> Result<(Server, String)> {
    start_server_with(database_url, env, "127.0.0.1", &[])
}

/// [`start_server`] with the issuer on `host` and configuration files merged before it starts.
fn start_server_with(
    database_url: &str,
    env: &[(&str, &str)],
    host: &str,
    merge: &[&str],
) -> Result<(Server, String)> {
    let cli = Tessera {
        database_url: database_url.to_owned(),
        kek: random_kek()?,
    };
    let tessera = || {
        let mut cmd = cli.command();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    };
    run(tessera().arg("migrate").stdout(Stdio::null()))?;
    cli.create_account("bench")?;
    for file in merge {
        run(tessera()
            .args(["config", "upload", "--merge", file])
            .stdout(Stdio::null()))?;
        run(tessera()
            .args(["config", "commit", "--message", "bench"])
            .stdout(Stdio::null()))?;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let issuer = format!("http://{host}:{port}");
    let started = Instant::now();
    let server = Server(
        tessera()
            .arg("serve")
            .env("TESSERA_SERVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("TESSERA_SERVER_ISSUER", &issuer)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create("target/bench-server.log")?)
            .spawn()
            .context("starting target/release/tessera")?,
        cli.clone(),
    );
    wait_ready(port, started)?;
    println!(
        "ready after {:?}; server, PostgreSQL and load generator share this machine; server log in target/bench-server.log",
        started.elapsed()
    );
    Ok((server, issuer))
}

/// The passkey sign-ins per second (begin + finish) the server must sustain here, with p99
/// under 30 ms.
const PASSKEY_TARGET: f64 = 1500.0;

/// `cargo xtask bench passkey [SECONDS]`: passkey sign-ins through the sign-in page, each
/// worker with a software authenticator of its own (registered once, after a password, as a
/// user opting in would). A whole sign-in is four requests: authorize (a new flow), the
/// sign-in page, the challenge (begin) and the signed answer (finish, which completes the
/// flow). The ceremony alone is the last two, on sign-in pages opened before the clock starts.
pub fn passkey(args: &[String]) -> Result<()> {
    let seconds: u32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    on_throwaway_database(|url| {
        let (server, issuer) = start_server_with(
            url,
            &[
                ("TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_USERNAME", "1000000"),
                ("TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_ADDRESS", "100000000"),
                ("TESSERA_LIMITS_SIGN_INS_PER_ADDRESS", "100000000"),
            ],
            "localhost",
            &["config/migrate-to-passkeys.xml"],
        )?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let target = runtime
            .block_on(Target::sign_in(&issuer, "bench", BENCH_PASSWORD))?
            .with_server_pid(server.0.id());
        let target = Arc::new(target);
        let duration = Duration::from_secs(u64::from(seconds));
        let workers = 32;
        // Each worker is another user, as on a real sign-in page: one account for all would
        // make every completion wait on the others' locks of that account's row.
        for worker in 0..workers {
            server
                .1
                .create_account(&crate::load::worker_account(worker))?;
        }
        let closed = runtime.block_on(target.run(
            Operation::PasskeySignIn,
            Mode::Closed,
            workers,
            duration,
        ))?;
        println!("{seconds} s each:");
        println!("  passkey sign-in       {closed}   (generator, {workers} workers)");
        print_cpu(&closed);
        // Latency at half the throughput just measured.
        let rate = (closed.rate / 2.0).max(1.0);
        let open = runtime.block_on(target.run(
            Operation::PasskeySignIn,
            Mode::Open(rate),
            workers,
            duration,
        ))?;
        println!("  passkey sign-in       {open}   (offered {rate:.0}/s, open loop)");

        // The ceremony alone. Each worker opens enough pages ahead for three times the whole
        // sign-in's rate; a worker that runs out stops, which would show as a lower rate.
        let pages = |rate: f64| ((rate * f64::from(seconds)) / workers as f64).ceil() as usize + 8;
        let ceremony = runtime.block_on(target.run(
            Operation::PasskeyCeremony {
                pages: pages(closed.rate * 3.0),
            },
            Mode::Closed,
            workers,
            duration,
        ))?;
        println!("  begin + finish        {ceremony}   (generator, {workers} workers)");
        print_cpu(&ceremony);
        // Latency at half the rate just measured, then at the rate the product promises
        // (issue 5: p99 under 30 ms at 1,500/s). Below that capacity the queue grows for the
        // whole run, and the percentiles say so.
        let half = (ceremony.rate / 2.0).max(1.0);
        for (rate, which) in [(half, ""), (PASSKEY_TARGET, "the target, ")] {
            let open = runtime.block_on(target.run(
                Operation::PasskeyCeremony {
                    pages: pages(rate * 1.2),
                },
                Mode::Open(rate),
                workers,
                duration,
            ))?;
            println!("  begin + finish        {open}   (offered {rate:.0}/s, {which}open loop)");
        }
        println!("server {}", rss(&server));
        drop(server);
        Ok(())
    })
}

/// `cargo xtask bench password [SECONDS]`: password sign-ins (authorize → sign-in page → POST,
/// one argon2id each) as fast as they complete, while the token endpoint serves client
/// credentials at a fixed rate; reports both.
pub fn password(args: &[String]) -> Result<()> {
    let seconds: u32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    on_throwaway_database(|url| {
        // The attempt limits would (rightly) stop one address signing in this often.
        let (server, issuer) = start_server(
            url,
            &[
                ("TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_USERNAME", "1000000"),
                ("TESSERA_LIMITS_PASSWORD_ATTEMPTS_PER_ADDRESS", "100000000"),
                ("TESSERA_LIMITS_SIGN_INS_PER_ADDRESS", "100000000"),
            ],
        )?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let target =
            Arc::new(runtime.block_on(Target::sign_in(&issuer, "bench", BENCH_PASSWORD))?);
        let duration = Duration::from_secs(u64::from(seconds));
        let token_rate = 200.0;
        let (sign_ins, tokens) = runtime.block_on(async {
            tokio::join!(
                target.run(
                    Operation::PasswordSignIn {
                        username: "bench".into(),
                        password: BENCH_PASSWORD.into(),
                    },
                    Mode::Closed,
                    8,
                    duration,
                ),
                target.run(
                    Operation::ClientCredentials {
                        basic: API_BASIC.to_owned(),
                    },
                    Mode::Open(token_rate),
                    32,
                    duration,
                ),
            )
        });
        println!("{seconds} s, both at once:");
        println!(
            "  password sign-in      {}   (generator, 8 workers)",
            sign_ins?
        );
        println!(
            "  client credentials    {}   (offered {token_rate:.0}/s, open loop)",
            tokens?
        );
        println!("server {}", rss(&server));
        drop(server);
        Ok(())
    })
}

fn oauth_on(database_url: &str, seconds: u32) -> Result<()> {
    let (server, issuer) = start_server(database_url, &[])?;
    println!("{seconds} s per scenario");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let target = Arc::new(runtime.block_on(Target::sign_in(&issuer, "bench", BENCH_PASSWORD))?);
    let access_token = runtime.block_on(target.access_token())?;
    let duration = Duration::from_secs(u64::from(seconds));

    println!("\nthroughput (closed loop, 32 connections):");
    let script = std::env::temp_dir().join(format!("tessera-bench-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\n\
             wrk.body = \"grant_type=client_credentials&scope=introspect\"\n\
             wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
             wrk.headers[\"Authorization\"] = \"{API_BASIC}\"\n"
        ),
    )?;
    let script_path = script.to_string_lossy().to_string();
    let bearer = format!("Authorization: Bearer {access_token}");
    let mut measured: Vec<(String, f64)> = Vec::new();
    for line in [
        wrk(
            "client credentials",
            &format!("{issuer}/oauth/token"),
            &["-s", &script_path],
            seconds,
        )?,
        wrk(
            "userinfo",
            &format!("{issuer}/oauth/userinfo"),
            &["-H", &bearer],
            seconds,
        )?,
        wrk("JWKS", &format!("{issuer}/oauth/jwks"), &[], seconds)?,
        wrk(
            "discovery",
            &format!("{issuer}/.well-known/openid-configuration"),
            &[],
            seconds,
        )?,
    ] {
        println!("  {}   (wrk -t1 -c32)", line.0);
        measured.push((
            line.0.split("  ").next().unwrap_or("").trim().to_owned(),
            line.1,
        ));
    }
    let _ = std::fs::remove_file(&script);
    let silent = runtime.block_on(target.run(Operation::SilentSso, Mode::Closed, 32, duration))?;
    println!("  silent SSO flow        {silent}   (generator, 32 workers; RS256 ID tokens)");
    // RS256, OpenID Connect's default for ID tokens, costs ~1 ms of CPU a signature here; a
    // client that registers ES256 gets its ID tokens ~30 times cheaper. The rest of the run
    // uses ES256 for the demo SPA.
    server.1.merge(ES256_ID_TOKENS)?;
    std::thread::sleep(Duration::from_secs(2));
    for (name, op) in [
        ("silent SSO flow", Operation::SilentSso),
        ("refresh with rotation", Operation::Refresh),
    ] {
        let report = runtime.block_on(target.run(op, Mode::Closed, 32, duration))?;
        println!("  {name:<22} {report}   (generator, 32 workers; ES256 ID tokens)");
        measured.push((name.to_owned(), report.rate));
    }

    println!("\nlatency at half the target rate (open loop, corrected for coordinated omission):");
    for (name, target_rate) in TARGETS {
        let op = match *name {
            "client credentials" => Operation::ClientCredentials {
                basic: API_BASIC.to_owned(),
            },
            "refresh with rotation" => Operation::Refresh,
            "silent SSO flow" => Operation::SilentSso,
            "userinfo" => Operation::Userinfo {
                token: access_token.clone(),
            },
            _ => Operation::Jwks,
        };
        let rate = target_rate.unwrap_or_else(|| {
            measured
                .iter()
                .find(|(n, _)| n == name)
                .map_or(1_000.0, |(_, r)| *r)
        }) / 2.0;
        let report = runtime.block_on(target.run(op, Mode::Open(rate), 64, duration))?;
        println!("  {name:<22} {report}   (offered {rate:.0}/s)");
    }

    println!("\nabuse:");
    println!("  {}", runtime.block_on(many_parameters(&issuer))?);

    println!("\nserver {}", rss(&server));
    drop(server);
    Ok(())
}

/// One unauthenticated megabyte (just under `server.max_body_bytes`) of distinct parameter names posted to the token endpoint, 20
/// times in a row: each must be refused (400) in milliseconds, not hold a worker for seconds.
async fn many_parameters(issuer: &str) -> Result<String> {
    const NAMES: usize = 110_000;
    const TIMES: usize = 20;
    let body = (0..NAMES)
        .map(|i| format!("p{i}=v"))
        .collect::<Vec<_>>()
        .join("&");
    let http = reqwest::Client::new();
    let mut millis = Vec::with_capacity(TIMES);
    let mut statuses = std::collections::BTreeSet::new();
    for _ in 0..TIMES {
        let started = Instant::now();
        let res = http
            .post(format!("{issuer}/oauth/token"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await?;
        statuses.insert(res.status().as_u16());
        let _ = res.bytes().await?;
        millis.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    millis.sort_by(f64::total_cmp);
    Ok(format!(
        "{:<22} {} KB, {NAMES} names, {TIMES} in a row: status {statuses:?}, p50 {:.1} ms, max {:.1} ms (request and upload included)",
        "1 MB of parameters",
        body.len() / 1024,
        millis[TIMES / 2],
        millis[TIMES - 1],
    ))
}

fn print_cpu(report: &crate::load::Report) {
    if let Some(cpu) = &report.cpu {
        println!("      {cpu}");
    }
}

/// The server's resident memory, as `/proc` reports it.
fn rss(server: &Server) -> String {
    std::fs::read_to_string(format!("/proc/{}/status", server.0.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

fn wait_ready(port: u16, started: Instant) -> Result<()> {
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut buf = [0u8; 16];
            if std::io::Read::read(&mut s, &mut buf).is_ok() && buf.starts_with(b"HTTP/1.0 200") {
                return Ok(());
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("tessera did not become ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn config() -> Result<()> {
    run(cargo().args([
        "run",
        "--release",
        "--quiet",
        "--package",
        "tessera-admin",
        "--example",
        "config_bench",
    ]))
}

/// `cargo xtask bench import [ACCOUNTS]`: `tessera account import` of a generated file of
/// ACCOUNTS (default 100,000) accounts as another system exports them — every third with a
/// bcrypt hash, every third with a Keycloak-style PBKDF2 hash, every fifth with a legacy
/// subject — into an empty database; accounts per second, and that every one arrived.
pub fn import(args: &[String]) -> Result<()> {
    let accounts: usize = args
        .first()
        .map(|s| s.parse())
        .transpose()
        .map_err(|_| anyhow::anyhow!("usage: cargo xtask bench import [ACCOUNTS]"))?
        .unwrap_or(100_000);
    let file = std::path::PathBuf::from("target/bench-import.jsonl");
    write_import_file(&file, accounts)?;
    on_throwaway_database(|url| {
        let cli = Tessera {
            database_url: url.to_owned(),
            kek: random_kek()?,
        };
        run(cli.command().arg("migrate").stdout(Stdio::null()))?;
        let started = Instant::now();
        let status = cli
            .command()
            .args(["account", "import"])
            .arg(&file)
            .status()
            .context("running tessera account import")?;
        let elapsed = started.elapsed();
        if !status.success() {
            bail!("the import failed");
        }
        println!(
            "import: {accounts} accounts in {:.1} s = {:.0} accounts/s (one process, PostgreSQL on the same machine)",
            elapsed.as_secs_f64(),
            accounts as f64 / elapsed.as_secs_f64()
        );
        Ok(())
    })
}

fn write_import_file(file: &std::path::Path, accounts: usize) -> Result<()> {
    use std::io::Write;
    // The hashes are checked only at sign-in, so one of each kind serves every line: a
    // well-formed bcrypt hash, and Keycloak's PBKDF2-SHA-512 of "Imported-1" (27,500
    // iterations, as Keycloak exports it).
    let bcrypt = "$2b$04$Vd0cJ6nqTNkyHxbQKRRv3uOT9oSk8n8Wy6pV1w0gSN6ATqY1Cz9Ma";
    let pbkdf2 = serde_json::json!({"algorithm": "pbkdf2-sha512", "hashIterations": 27500,
        "salt": "a2V5Y2xvYWstc2FsdC0xNg==",
        "value": "WSccvpfI3FJVtsTcCu6dwD8cqFAHDhVargrkvwqR9qzgLeNcyJeZDyAQCw9jHj3HKY1zIjitNYV6p4a1PCm9IQ=="});
    let mut out = std::io::BufWriter::new(std::fs::File::create(file)?);
    for n in 0..accounts {
        let mut line = serde_json::json!({
            "username": format!("user{n:06}"),
            "email": format!("user{n:06}@example.com"),
            "email_verified": n % 2 == 0,
            "given_name": "Imported",
            "family_name": format!("User {n}"),
        });
        match n % 3 {
            0 => line["password_hash"] = bcrypt.into(),
            1 => line["keycloak_credential"] = pbkdf2.clone(),
            _ => {}
        }
        if n % 5 == 0 {
            line["legacy_subject"] = format!("legacy|{n}").into();
        }
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
