//! Headless Chromium (through chromedriver) driving the admin pages, saving a screenshot of
//! every page it passes through under `target/e2e/<test>/`.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::helpers::{Options, TestApp, free_port, spawn_app_with};

const UPGRADE: &str = include_str!("../../../../config/upgrade-authentication.xml");

/// A chromedriver process and a browser session, both ended on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    shots: PathBuf,
    count: usize,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads a process group of its own, which Chromium's processes join:
        // killing the group ends them all (killing chromedriver alone orphans the browser,
        // and every test run would leave a browser's worth of processes behind).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn e2e_dir(test: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("e2e").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub async fn start(test: &str) -> Browser {
        let port = free_port();
        let driver =
            Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver is installed (apt-get install chromium chromium-driver)");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--no-first-run", "--window-size=1200,1000"
                ]
            }),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = loop {
            // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot start a browser session: {e}"),
            }
        };
        Browser {
            client,
            driver,
            shots: e2e_dir(test),
            count: 0,
        }
    }

    /// Saves a screenshot named after the page.
    pub async fn shot(&mut self, name: &str) {
        self.count += 1;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(
            self.shots.join(format!("{:02}-{name}.png", self.count)),
            png,
        )
        .unwrap();
    }

    /// Waits until the page (after a navigation) shows `expected`; returns the page text.
    /// Polling is needed because a click returns before the next page has loaded.
    pub async fn wait_for(&self, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(body) = self.client.find(Locator::Css("body")).await
                && let Ok(text) = body.text().await
            {
                if text.contains(expected) {
                    return text;
                }
                last = text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page never showed {expected:?}; it showed:\n{last}");
    }

    pub async fn fill(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }

    /// Gives the browser a virtual platform authenticator (CTAP2, internal transport, resident
    /// keys, user verification that always succeeds), through the WebDriver WebAuthn extension.
    /// Returns the authenticator's id.
    pub async fn add_virtual_authenticator(&self) -> String {
        self.client
            .issue_cmd(AddVirtualAuthenticator)
            .await
            .expect("chromedriver adds a virtual authenticator")
            .as_str()
            .expect("an authenticator id")
            .to_owned()
    }

    /// Removes a virtual authenticator, retrying while the page is between navigations
    /// (chromedriver then has no execution context to answer from) for up to 15 seconds.
    pub async fn remove_virtual_authenticator_while_navigating(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self
            .client
            .issue_cmd(RemoveVirtualAuthenticator(id.to_owned()))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the authenticator could not be removed"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Removes a virtual authenticator and the credentials it holds (a lost device).
    pub async fn remove_virtual_authenticator(&self, id: &str) {
        self.client
            .issue_cmd(RemoveVirtualAuthenticator(id.to_owned()))
            .await
            .expect("chromedriver removes the virtual authenticator");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
}

/// `POST /session/{id}/webauthn/authenticator` (WebAuthn Level 2 §11.3).
#[derive(Debug)]
struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// `DELETE /session/{id}/webauthn/authenticator/{authenticatorId}`.
#[derive(Debug)]
struct RemoveVirtualAuthenticator(String);

impl fantoccini::wd::WebDriverCompatibleCommand for RemoveVirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator/{}",
            session_id.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::DELETE, None)
    }
}

pub(crate) async fn dev_app() -> TestApp {
    spawn_app_with(Options {
        env: vec![("TESSERA_SERVER_DEVELOPMENT", "true".into())],
        ..Options::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_uploads_reviews_commits_and_rolls_back_a_configuration() {
    let app = dev_app().await;
    let mut b = Browser::start("admin_upload_commit_rollback").await;
    let file = std::env::temp_dir().join(format!("upgrade-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(&file, UPGRADE).unwrap();
    let v1 = app.config.export(tessera_admin::config::Root::Config);

    b.client
        .goto(&format!("{}/admin", app.origin))
        .await
        .unwrap();
    assert!(
        b.client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/admin/login")
    );
    b.shot("sign-in").await;
    b.fill("#username", "admin").await;
    b.fill("#password", "wrong-password").await;
    b.click("button[type=submit]").await;
    b.wait_for("Wrong username or password.").await;
    b.shot("sign-in-refused").await;
    b.fill("#username", "admin").await;
    b.fill("#password", "admin").await;
    b.click("button[type=submit]").await;
    b.wait_for("Active version 1").await;
    b.shot("configuration").await;

    b.fill("#file", file.to_str().unwrap()).await;
    b.click("#mode-merge").await;
    b.click("form[action='/admin/upload'] button[type=submit]")
        .await;
    let changes = b.wait_for("Uploaded. Review the changes").await;
    assert!(changes.contains("client[demo-web-client]/user-authentication/allowed-authenticators"));
    assert!(!changes.contains("A commit would be refused"));
    b.shot("changes").await;
    assert_eq!(
        app.config.active().version(),
        1,
        "uploading must not change the active configuration"
    );

    b.fill("#comment", "seed 000: passkeys for every frontend client")
        .await;
    b.click("form[action='/admin/commit'] button[type=submit]")
        .await;
    b.wait_for("Committed version 2").await;
    b.shot("committed").await;
    let active = app.config.active().load();
    assert_eq!(
        active
            .client("demo-web-client")
            .unwrap()
            .allowed_authenticators,
        ["passkeys"]
    );

    b.click("button[aria-label='Roll back to version 1']").await;
    b.wait_for("Rolled back: committed version 3").await;
    b.shot("rolled-back").await;
    assert_eq!(app.config.active().version(), 3);
    assert_eq!(app.config.export(tessera_admin::config::Root::Config), v1);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_page_imports_a_curity_export_and_shows_its_migration_report() {
    let app = dev_app().await;
    let mut b = Browser::start("admin_curity_import").await;
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../admin/tests/fixtures/curity-corpus/kafka-zero-trust__idsvr_config-backup.xml");
    b.client
        .goto(&format!("{}/admin/login", app.origin))
        .await
        .unwrap();
    b.fill("#username", "admin").await;
    b.fill("#password", "admin").await;
    b.click("button[type=submit]").await;
    b.wait_for("Active version 1").await;
    b.fill("#file", file.canonicalize().unwrap().to_str().unwrap())
        .await;
    b.click("#mode-merge").await;
    b.click("#format-curity").await;
    b.shot("import-form").await;
    b.click("form[action='/admin/upload'] button[type=submit]")
        .await;
    let page = b.wait_for("Migration report").await;
    assert!(page.contains("were not carried over as written"), "{page}");
    // Refused whole, with its line and why; out-of-scope sections listed, not silently lost.
    assert!(page.contains("client[orders-api-client]"), "{page}");
    assert!(page.contains("/facilities/data-sources"), "{page}");
    assert!(page.contains("client[introspect-client]"), "{page}");
    b.shot("import-report").await;

    b.fill("#comment", "imported from Curity").await;
    b.click("form[action='/admin/commit'] button[type=submit]")
        .await;
    b.wait_for("Committed version 2").await;
    let active = app.config.active().load();
    assert!(
        active
            .client("introspect-client")
            .unwrap()
            .capabilities
            .introspection
    );
    assert!(active.client("orders-api-client").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_upload_shows_its_problems_on_the_page_and_changes_nothing() {
    let app = dev_app().await;
    let mut b = Browser::start("admin_invalid_upload").await;
    let file = std::env::temp_dir().join(format!("bad-{}.xml", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "<config xmlns=\"http://tail-f.com/ns/config/1.0\">\n  <nacm/>\n</config>\n",
    )
    .unwrap();
    b.client
        .goto(&format!("{}/admin/login", app.origin))
        .await
        .unwrap();
    b.fill("#username", "admin").await;
    b.fill("#password", "admin").await;
    b.click("button[type=submit]").await;
    b.wait_for("Active version 1").await;
    b.fill("#file", file.to_str().unwrap()).await;
    b.click("form[action='/admin/upload'] button[type=submit]")
        .await;
    let text = b.wait_for("1 problem(s)").await;
    assert!(
        text.contains("line 2: /nacm: unknown or unsupported element <nacm>"),
        "{text}"
    );
    b.shot("upload-refused").await;
    assert_eq!(app.config.active().version(), 1);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn admin_forms_without_a_valid_csrf_token_are_refused() {
    let app = dev_app().await;
    // Signed in through the form, then a forged commit without the token.
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .get(format!("{}/admin/login", app.origin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = login
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let res = client
        .post(format!("{}/admin/login", app.origin))
        .form(&[
            ("username", "admin"),
            ("password", "admin"),
            ("csrf", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let forged = client
        .post(format!("{}/admin/rollback", app.origin))
        .form(&[("csrf", "forged"), ("version", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert_eq!(app.config.active().version(), 1);
    let login_without_token = reqwest::Client::new()
        .post(format!("{}/admin/login", app.origin))
        .form(&[("username", "admin"), ("password", "admin"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(login_without_token.status(), 400);
    // Odd-length development credentials are refused, not a crash.
    let res = reqwest::Client::new()
        .get(format!("{}/admin/api/versions", app.origin))
        .basic_auth("adm", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}
