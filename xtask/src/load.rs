//! A small load generator for the multi-step scenarios `wrk` cannot drive (silent SSO, refresh
//! rotation, where each request depends on the previous answer), and for latency at a fixed
//! offered rate.
//!
//! Closed loop: `workers` tasks each repeat their operation as fast as answers come back.
//! Open loop: worker `i` of `n` starts operation `k` at `start + (k·n + i) / rate`, and latency
//! is measured from that intended start, so a slow answer is charged to every operation queued
//! behind it (no coordinated omission). It runs on one thread, like `wrk -t1`, so it takes at
//! most one core from the server it measures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_testkit::soft_key::SoftKey;
use tokio::sync::Mutex;

use crate::bench::BENCH_PASSWORD;
use crate::cpu::{CpuSample, CpuSplit};

/// The account worker `n` signs in as in the passkey scenarios (the bench creates them).
pub fn worker_account(n: usize) -> String {
    format!("bench-{n}")
}

/// The public client the flows use (from `config/base.xml`).
const CLIENT_ID: &str = "demo-web-client";
const REDIRECT_URI: &str = "http://localhost:3000/callback";
const VERIFIER: &str = "bench-verifier-0123456789-0123456789-0123456789-abcdef";

/// What each operation does.
#[derive(Clone)]
pub enum Operation {
    /// `authorize?prompt=none` answered from the SSO session, then the code exchange.
    SilentSso,
    /// One refresh grant; each worker keeps rotating its own token.
    Refresh,
    /// A client credentials grant with HTTP Basic.
    ClientCredentials { basic: String },
    /// `GET /oauth/userinfo` with a bearer token.
    Userinfo { token: String },
    /// `GET /oauth/jwks`.
    Jwks,
    /// A whole password sign-in in a fresh browser: authorize, the sign-in page, the POST.
    PasswordSignIn { username: String, password: String },
    /// A passkey sign-in in a fresh browser: authorize, the sign-in page, the challenge, the
    /// signed answer. Each worker signs with a software authenticator of its own.
    PasskeySignIn,
    /// The passkey ceremony alone (the challenge and the signed answer, which completes the
    /// flow) on sign-in pages opened before the clock starts: `pages` per worker.
    PasskeyCeremony { pages: usize },
}

/// What a worker keeps between operations.
#[derive(Default)]
struct WorkerState {
    /// Its refresh token (refresh scenario).
    refresh: String,
    /// Its passkey (passkey scenarios).
    passkey: Option<SoftKey>,
    /// Sign-in pages opened ahead (passkey ceremony scenario).
    pages: Vec<LoginPage>,
}

/// The page a browser has open on a new sign-in flow.
struct LoginPage {
    cookies: String,
    flow: String,
    csrf: String,
}

/// How the load is offered.
#[derive(Clone, Copy)]
pub enum Mode {
    /// As fast as answers come back.
    Closed,
    /// At this many operations per second in total.
    Open(f64),
}

/// The outcome of a run.
pub struct Report {
    /// Completed operations per second.
    pub rate: f64,
    /// Operations that failed.
    pub errors: usize,
    /// Latency percentiles (p50, p90, p99, max).
    pub latency: [Duration; 4],
    /// Whose CPU the measured part used, when the server's process is known.
    pub cpu: Option<CpuSplit>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| format!("{:.2}ms", d.as_secs_f64() * 1000.0);
        write!(
            f,
            "{:>10.0} ops/s   p50 {:>8}  p90 {:>8}  p99 {:>8}  max {:>8}{}",
            self.rate,
            ms(self.latency[0]),
            ms(self.latency[1]),
            ms(self.latency[2]),
            ms(self.latency[3]),
            if self.errors > 0 {
                format!("  ERRORS {}", self.errors)
            } else {
                String::new()
            }
        )
    }
}

/// A server under test, signed in once so that the SSO session can answer silently.
pub struct Target {
    issuer: String,
    /// One client for every simulated browser; cookies are carried by hand.
    api: reqwest::Client,
    /// The `Cookie` header of the browser signed in once (its SSO session).
    signed_in: String,
    /// The server's process, when it runs on this machine: its CPU is then reported.
    server_pid: Option<u32>,
}

fn challenge() -> String {
    let digest = openssl::sha::sha256(VERIFIER.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

fn field(html: &str, name: &str) -> Result<String> {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no {name} field on the sign-in page"))
}

/// The cookies a response sets, as a `Cookie` header value.
fn cookies_set(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

fn location(res: &reqwest::Response) -> Result<String> {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("expected a redirect, got {}", res.status()))
}

impl Target {
    /// Signs `username` in through the login page, keeping the SSO cookie.
    pub async fn sign_in(issuer: &str, username: &str, password: &str) -> Result<Target> {
        let mut target = Target {
            issuer: issuer.to_owned(),
            api: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            signed_in: String::new(),
            server_pid: None,
        };
        let page = target.open_login_page().await?;
        let res = target
            .post_password(&page, username, password, false)
            .await?;
        if res.status() != reqwest::StatusCode::SEE_OTHER {
            bail!("signing {username} in failed: {}", res.status());
        }
        target.signed_in = format!("{}; {}", page.cookies, cookies_set(&res));
        // Finish the flow once so that the session is known to work silently.
        target.silent_sso().await.context("first silent sign-in")?;
        Ok(target)
    }

    /// Reports the CPU of the server process `pid` (and PostgreSQL's, and the generator's)
    /// with each run.
    pub fn with_server_pid(mut self, pid: u32) -> Target {
        self.server_pid = Some(pid);
        self
    }

    fn authorize_url(&self, silent: bool) -> String {
        format!(
            "{}/oauth/authorize?client_id={CLIENT_ID}&redirect_uri={}&response_type=code&scope=openid%20profile&code_challenge={}&code_challenge_method=S256&state=bench{}",
            self.issuer,
            url::form_urlencoded::byte_serialize(REDIRECT_URI.as_bytes()).collect::<String>(),
            challenge(),
            if silent { "&prompt=none" } else { "" }
        )
    }

    /// A new browser on the sign-in page of a new flow. It is not a new HTTP client: building
    /// one (its TLS roots) would cost the shared CPU more than the sign-in itself; the cookies
    /// are carried by hand.
    async fn open_login_page(&self) -> Result<LoginPage> {
        let res = self.api.get(self.authorize_url(false)).send().await?;
        let cookies = cookies_set(&res);
        let login = location(&res)?;
        let login = if login.starts_with('/') {
            let origin = self.origin()?.origin().ascii_serialization();
            format!("{origin}{login}")
        } else {
            login
        };
        let page = self
            .api
            .get(&login)
            .header("Cookie", &cookies)
            .send()
            .await?
            .text()
            .await?;
        Ok(LoginPage {
            flow: field(&page, "flow")?,
            csrf: field(&page, "csrf")?,
            cookies,
        })
    }

    /// Posts the password form of `page`, asking to create a passkey when `enrol`.
    async fn post_password(
        &self,
        page: &LoginPage,
        username: &str,
        password: &str,
        enrol: bool,
    ) -> Result<reqwest::Response> {
        let mut form = vec![
            ("flow", page.flow.as_str()),
            ("csrf", page.csrf.as_str()),
            ("username", username),
            ("password", password),
        ];
        if enrol {
            form.push(("enrol", "passkey"));
        }
        Ok(self
            .api
            .post(format!("{}/login", self.issuer))
            .header("Cookie", &page.cookies)
            .form(&form)
            .send()
            .await?)
    }

    /// A fresh browser through authorize and the sign-in page, up to the redirect back to
    /// authorize (the password has then been checked).
    async fn password_sign_in(&self, username: &str, password: &str) -> Result<()> {
        let page = self.open_login_page().await?;
        let res = self.post_password(&page, username, password, false).await?;
        if res.status() != reqwest::StatusCode::SEE_OTHER {
            bail!("sign-in answered {}", res.status());
        }
        Ok(())
    }

    fn origin(&self) -> Result<url::Url> {
        Ok(url::Url::parse(&self.issuer)?)
    }

    /// Signs in with the password and creates a passkey on a new software authenticator, as
    /// a user opting in does.
    async fn register_passkey(&self, username: &str, password: &str) -> Result<SoftKey> {
        let page = self.open_login_page().await?;
        let html = self
            .post_password(&page, username, password, true)
            .await?
            .text()
            .await?;
        let options_json = html
            .split("id=\"passkey-creation-options\">")
            .nth(1)
            .and_then(|rest| rest.split("</script>").next())
            .ok_or_else(|| anyhow!("no passkey creation options; is passkeys configured?"))?;
        let options: serde_json::Value = serde_json::from_str(options_json)?;
        let mut passkey = SoftKey::p256(&self.origin()?.origin().ascii_serialization())
            .map_err(|e| anyhow!(e))?;
        let credential = passkey.register(&options).map_err(|e| anyhow!(e))?;
        let res = self
            .api
            .post(format!("{}/login/passkey/register", self.issuer))
            .header("Cookie", &page.cookies)
            .form(&[
                ("flow", page.flow.as_str()),
                ("csrf", field(&html, "csrf")?.as_str()),
                ("ceremony", field(&html, "ceremony")?.as_str()),
                ("credential", credential.to_string().as_str()),
                ("name", "bench"),
            ])
            .send()
            .await?;
        if !res.text().await?.contains("Passkey registered") {
            bail!("the passkey was not registered");
        }
        Ok(passkey)
    }

    /// A new flow signed in with the worker's passkey (discoverable: no username).
    async fn passkey_sign_in(&self, passkey: &mut SoftKey) -> Result<()> {
        let page = self.open_login_page().await?;
        self.passkey_ceremony(&page, passkey).await
    }

    /// On an open sign-in page: the challenge, the authenticator's answer, the flow completed.
    async fn passkey_ceremony(&self, page: &LoginPage, passkey: &mut SoftKey) -> Result<()> {
        let reply: serde_json::Value = self
            .api
            .post(format!("{}/login/passkey/options", self.issuer))
            .header("Cookie", &page.cookies)
            .form(&[("flow", page.flow.as_str()), ("csrf", page.csrf.as_str())])
            .send()
            .await?
            .json()
            .await?;
        let answer = passkey.sign(&reply["options"]).map_err(|e| anyhow!(e))?;
        let res = self
            .api
            .post(format!("{}/login/passkey", self.issuer))
            .header("Cookie", &page.cookies)
            .form(&[
                ("flow", page.flow.as_str()),
                ("csrf", page.csrf.as_str()),
                ("ceremony", reply["ceremony"].as_str().unwrap_or_default()),
                ("credential", answer.to_string().as_str()),
            ])
            .send()
            .await?;
        if res.status() != reqwest::StatusCode::SEE_OTHER {
            bail!("passkey sign-in answered {}", res.status());
        }
        Ok(())
    }

    /// One silent sign-in: returns the refresh token of the new tokens.
    pub async fn silent_sso(&self) -> Result<String> {
        let res = self
            .api
            .get(self.authorize_url(true))
            .header("Cookie", &self.signed_in)
            .send()
            .await?;
        let back = location(&res)?;
        let code = url::Url::parse(&back)?
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow!("no code in {back}"))?;
        let res = self
            .api
            .post(format!("{}/oauth/token", self.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await?;
        token_field(res, "refresh_token").await
    }

    /// An access token for userinfo.
    pub async fn access_token(&self) -> Result<String> {
        let refresh = self.silent_sso().await?;
        let res = self.refresh_request(&refresh).await?;
        token_field(res, "access_token").await
    }

    async fn refresh_request(&self, token: &str) -> Result<reqwest::Response> {
        Ok(self
            .api
            .post(format!("{}/oauth/token", self.issuer))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token),
                ("client_id", CLIENT_ID),
            ])
            .send()
            .await?)
    }

    async fn once(&self, op: &Operation, worker: &mut WorkerState) -> Result<()> {
        match op {
            Operation::SilentSso => {
                self.silent_sso().await?;
            }
            Operation::Refresh => {
                let res = self.refresh_request(&worker.refresh).await?;
                worker.refresh = token_field(res, "refresh_token").await?;
            }
            Operation::PasskeySignIn => {
                let passkey = worker
                    .passkey
                    .as_mut()
                    .ok_or_else(|| anyhow!("the worker has no passkey"))?;
                self.passkey_sign_in(passkey).await?;
            }
            Operation::PasskeyCeremony { .. } => {
                let page = worker
                    .pages
                    .pop()
                    .ok_or_else(|| anyhow!("the worker has used up its sign-in pages"))?;
                let passkey = worker
                    .passkey
                    .as_mut()
                    .ok_or_else(|| anyhow!("the worker has no passkey"))?;
                self.passkey_ceremony(&page, passkey).await?;
            }
            Operation::ClientCredentials { basic } => {
                let res = self
                    .api
                    .post(format!("{}/oauth/token", self.issuer))
                    .header("Authorization", basic)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials&scope=introspect")
                    .send()
                    .await?;
                token_field(res, "access_token").await?;
            }
            Operation::Userinfo { token } => {
                let res = self
                    .api
                    .get(format!("{}/oauth/userinfo", self.issuer))
                    .bearer_auth(token)
                    .send()
                    .await?;
                if !res.status().is_success() {
                    bail!("userinfo: {}", res.status());
                }
                res.bytes().await?;
            }
            Operation::PasswordSignIn { username, password } => {
                self.password_sign_in(username, password).await?;
            }
            Operation::Jwks => {
                let res = self
                    .api
                    .get(format!("{}/oauth/jwks", self.issuer))
                    .send()
                    .await?;
                if !res.status().is_success() {
                    bail!("jwks: {}", res.status());
                }
                res.bytes().await?;
            }
        }
        Ok(())
    }

    /// Runs `op` with `workers` concurrent workers for `duration`.
    pub async fn run(
        self: &Arc<Self>,
        op: Operation,
        mode: Mode,
        workers: usize,
        duration: Duration,
    ) -> Result<Report> {
        // Refresh workers each need a token family of their own, passkey workers a passkey
        // (and, for the ceremony alone, sign-in pages opened ahead, all workers at once).
        let mut setups = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (target, op) = (Arc::clone(self), op.clone());
            setups.push(tokio::spawn(async move {
                let mut state = WorkerState::default();
                let account = worker_account(worker);
                match op {
                    Operation::Refresh => state.refresh = target.silent_sso().await?,
                    Operation::PasskeySignIn => {
                        state.passkey =
                            Some(target.register_passkey(&account, BENCH_PASSWORD).await?);
                    }
                    Operation::PasskeyCeremony { pages } => {
                        state.passkey =
                            Some(target.register_passkey(&account, BENCH_PASSWORD).await?);
                        for _ in 0..pages {
                            state.pages.push(target.open_login_page().await?);
                        }
                    }
                    _ => {}
                }
                anyhow::Ok(state)
            }));
        }
        let mut states = Vec::with_capacity(workers);
        for setup in setups {
            states.push(setup.await??);
        }
        let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
        let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Instant::now() + Duration::from_millis(50);
        let deadline = start + duration;
        // For anyone profiling the server during the measured part only.
        eprintln!("(measuring {} s)", duration.as_secs());
        let cpu_before = self.server_pid.map(CpuSample::now);
        let mut tasks = Vec::new();
        for (i, mut worker) in states.into_iter().enumerate() {
            let (target, op, latencies, errors) = (
                Arc::clone(self),
                op.clone(),
                Arc::clone(&latencies),
                Arc::clone(&errors),
            );
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                let mut k: u64 = 0;
                loop {
                    let begin = match mode {
                        Mode::Closed => Instant::now().max(start),
                        Mode::Open(rate) => {
                            let slot = (k * workers as u64 + i as u64) as f64 / rate;
                            start + Duration::from_secs_f64(slot)
                        }
                    };
                    if begin >= deadline {
                        break;
                    }
                    tokio::time::sleep_until(begin.into()).await;
                    k += 1;
                    match target.once(&op, &mut worker).await {
                        Ok(()) => mine.push(begin.elapsed()),
                        Err(_) => {
                            errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                latencies.lock().await.extend(mine);
            }));
        }
        for task in tasks {
            task.await?;
        }
        let elapsed = start.elapsed().max(duration);
        let mut all = std::mem::take(&mut *latencies.lock().await);
        let cpu = self.server_pid.zip(cpu_before).map(|(pid, before)| {
            CpuSample::now(pid).per_operation_since(&before, all.len() as f64)
        });
        all.sort_unstable();
        let pick = |q: f64| {
            all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        Ok(Report {
            rate: all.len() as f64 / elapsed.as_secs_f64(),
            errors: errors.load(std::sync::atomic::Ordering::Relaxed),
            latency: [pick(0.50), pick(0.90), pick(0.99), pick(1.0)],
            cpu,
        })
    }
}

async fn token_field(res: reqwest::Response, name: &str) -> Result<String> {
    let status = res.status();
    let body: serde_json::Value = res.json().await?;
    body[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("token endpoint answered {status} without {name}: {body}"))
}
