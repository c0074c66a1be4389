//! `cargo xtask bench …`: benchmarks against a release build, bounded in time.
//!
//! `oauth` starts `tessera serve` (release) on a throw-away database and drives it with `wrk`
//! over loopback (server, PostgreSQL and load generator share the machine), reporting
//! requests/s and latency percentiles per scenario. `config` times configuration commits and
//! `ActiveConfig` lookups.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;

use crate::{cargo, postgres, run};

struct Server(Child);

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

/// One wrk run: requests/s and the latency percentiles wrk prints.
fn wrk(name: &str, url: &str, script: Option<&str>, seconds: u32) -> Result<String> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c32", &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        cmd.args(["-s", script]);
    }
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
    Ok(format!(
        "{name:<22} {:>10} req/s   p50 {:>8}  p90 {:>8}  p99 {:>8}  {errors}",
        text.lines()
            .find(|l| l.starts_with("Requests/sec:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?"),
        pick("50%"),
        pick("90%"),
        pick("99%"),
    ))
}

pub fn oauth(args: &[String]) -> Result<()> {
    let seconds: u32 = args.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is not installed (Debian: apt-get install wrk)");
    }
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "tessera-server",
        "--bin",
        "tessera",
    ]))?;
    let admin = std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let db = format!("tessera_bench_{}", std::process::id());
    let mut url = url::Url::parse(&admin)?;
    url.set_path(&format!("/{db}"));
    postgres::ensure_database(url.as_str())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let server = Server(
        Command::new("target/release/tessera")
            .arg("serve")
            .env("TESSERA_DATABASE_URL", url.as_str())
            .env("TESSERA_KEYS_ENCRYPTION_KEY", random_kek()?)
            .env("TESSERA_SERVER_LISTEN", format!("127.0.0.1:{port}"))
            .env("TESSERA_SERVER_ISSUER", &issuer)
            .env("TESSERA_LOG_FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()
            .context("starting target/release/tessera")?,
    );
    loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /readyz HTTP/1.0\r\n\r\n");
            let mut buf = [0u8; 16];
            if std::io::Read::read(&mut s, &mut buf).is_ok() && buf.starts_with(b"HTTP/1.0 200") {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("tessera did not become ready");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "ready after {:?}; {seconds} s per scenario, wrk -t1 -c32, all on this machine",
        started.elapsed()
    );

    let script = std::env::temp_dir().join(format!("tessera-bench-{}.lua", std::process::id()));
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\n\
         wrk.body = \"grant_type=client_credentials&scope=introspect\"\n\
         wrk.headers[\"Content-Type\"] = \"application/x-www-form-urlencoded\"\n\
         wrk.headers[\"Authorization\"] = \"Basic ZGVtby1hcGktY2xpZW50OkRlbW8tQVBJLVNlY3JldC0wMTIzNDU2Nzg5LWFiY2RlZmdoaWpr\"\n",
    )?;
    let script = script.to_string_lossy().to_string();
    let results = [
        wrk(
            "client credentials",
            &format!("{issuer}/oauth/token"),
            Some(&script),
            seconds,
        )?,
        wrk("JWKS", &format!("{issuer}/oauth/jwks"), None, seconds)?,
        wrk(
            "discovery",
            &format!("{issuer}/.well-known/openid-configuration"),
            None,
            seconds,
        )?,
    ];
    for line in results {
        println!("{line}");
    }
    let rss = std::fs::read_to_string(format!("/proc/{}/status", server.0.id()))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!("server {rss}");
    drop(server);
    let _ = std::fs::remove_file(&script);
    postgres::drop_database(url.as_str())?;
    Ok(())
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
