//! Finding, starting and preparing PostgreSQL for development.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use diesel::prelude::*;
use url::Url;

/// `url` with any password hidden, for printing.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

fn host_port(url: &str) -> Result<(String, u16)> {
    let u = Url::parse(url).with_context(|| format!("DATABASE_URL {url:?} is not a URL"))?;
    Ok((
        u.host_str().unwrap_or("127.0.0.1").to_owned(),
        u.port().unwrap_or(5432),
    ))
}

fn listening(host: &str, port: u16) -> bool {
    (host, port)
        .to_socket_addrs()
        .map(|mut addrs| {
            addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok())
        })
        .unwrap_or(false)
}

/// Fails with one line when nothing answers at the URL's host and port.
pub fn ensure_reachable(url: &str) -> Result<()> {
    let (host, port) = host_port(url)?;
    if !listening(&host, port) {
        bail!(
            "PostgreSQL is not reachable at {host}:{port}: start it (e.g. `pg_ctlcluster 15 main start`) or set TESSERA_TEST_DATABASE_URL"
        );
    }
    Ok(())
}

/// Makes sure a PostgreSQL server answers for `url`, starting a private cluster under
/// `target/` if none does and the server binaries are installed. Returns the URL to use.
pub fn ensure_server(url: &str) -> Result<String> {
    let (host, port) = host_port(url)?;
    if listening(&host, port) {
        return Ok(url.to_owned());
    }
    let local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1");
    let Some(bin) = find_server_binaries().filter(|_| local) else {
        bail!(
            "PostgreSQL is not reachable at {host}:{port} and no server binaries (initdb, pg_ctl) were found: install PostgreSQL (Debian: apt-get install postgresql) or set DATABASE_URL to a reachable server"
        );
    };
    start_private_cluster(&bin, port)?;
    Ok(url.to_owned())
}

/// `initdb`/`pg_ctl` on PATH, else in Debian's /usr/lib/postgresql/<version>/bin (newest).
fn find_server_binaries() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a server binary, as an unprivileged user when we are root (PostgreSQL refuses root).
fn as_cluster_user(bin: &Path, tool: &str, user: Option<&str>) -> Command {
    match user {
        Some(user) => {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", user, "--"]).arg(bin.join(tool));
            cmd
        }
        None => Command::new(bin.join(tool)),
    }
}

fn start_private_cluster(bin: &Path, port: u16) -> Result<()> {
    let dir = std::env::current_dir()?.join("target/pg-dev");
    let data = dir.join("data");
    let user = if is_root() {
        let exists = |u: &str| {
            Command::new("id")
                .arg(u)
                .output()
                .is_ok_and(|o| o.status.success())
        };
        Some(if exists("postgres") {
            "postgres"
        } else {
            "nobody"
        })
    } else {
        None
    };
    println!(
        "No PostgreSQL on port {port}: starting a private cluster in {} ({})",
        dir.display(),
        bin.display()
    );
    std::fs::create_dir_all(&dir)?;
    if let Some(user) = user {
        crate::run(Command::new("chown").args(["-R", user]).arg(&dir))?;
    }
    if !data.join("PG_VERSION").exists() {
        crate::run(
            as_cluster_user(bin, "initdb", user)
                .args([
                    "--auth=trust",
                    "--username=postgres",
                    "--encoding=UTF8",
                    "-D",
                ])
                .arg(&data),
        )?;
    }
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {}",
        dir.display()
    );
    crate::run(
        as_cluster_user(bin, "pg_ctl", user)
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("postgres.log"))
            .args(["-w", "start"]),
    )
}

/// Creates the database named in `url` if it does not exist.
pub fn ensure_database(url: &str) -> Result<()> {
    let mut u = Url::parse(url)?;
    let name = u.path().trim_start_matches('/').to_owned();
    if name.is_empty() {
        bail!("DATABASE_URL {} names no database", redact(url));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("database name {name:?} must be letters, digits and underscores");
    }
    u.set_path("/postgres");
    let mut conn = PgConnection::establish(u.as_str())
        .with_context(|| format!("cannot connect to {}", redact(u.as_str())))?;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        #[allow(dead_code)]
        one: i32,
    }
    let found: Vec<Found> =
        diesel::sql_query("SELECT 1 AS one FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(&name)
            .load(&mut conn)?;
    if found.is_empty() {
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn)?;
        println!("created database {name}");
    }
    Ok(())
}

/// Drops the database named in `url` (benchmarks clean up after themselves).
pub fn drop_database(url: &str) -> Result<()> {
    let mut u = Url::parse(url)?;
    let name = u.path().trim_start_matches('/').to_owned();
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("database name {name:?} must be letters, digits and underscores");
    }
    u.set_path("/postgres");
    let mut conn = PgConnection::establish(u.as_str())
        .with_context(|| format!("cannot connect to {}", redact(u.as_str())))?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn)?;
    Ok(())
}
