//! A real SMTP sink for tests: a maildev process (`npm install -g maildev`) on free loopback
//! ports, and its REST API to read what arrived. Killed when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running maildev.
pub struct MailSink {
    /// SMTP port.
    pub smtp_port: u16,
    /// Web/REST port.
    pub web_port: u16,
    process: Child,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One received message, as maildev's REST API describes it (the fields tests read).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ReceivedMail {
    /// Subject line.
    pub subject: String,
    /// Plain-text part.
    #[serde(default)]
    pub text: String,
    /// HTML part.
    #[serde(default)]
    pub html: String,
    /// Recipients.
    pub to: Vec<Address>,
}

/// A recipient.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Address {
    /// The address.
    pub address: String,
}

impl MailSink {
    /// Starts maildev and waits until its SMTP port answers.
    pub fn start() -> MailSink {
        Self::spawn(None)
    }

    /// Starts maildev requiring SMTP authentication with this user and password.
    pub fn start_with_login(user: &str, password: &str) -> MailSink {
        Self::spawn(Some((user, password)))
    }

    fn spawn(login: Option<(&str, &str)>) -> MailSink {
        let (smtp_port, web_port) = (free_port(), free_port());
        let mut command =
            Command::new(std::env::var("MAILDEV").unwrap_or_else(|_| "maildev".into()));
        command
            .args(["--ip", "127.0.0.1", "--smtp", &smtp_port.to_string()])
            .args(["--web", &web_port.to_string(), "--silent"]);
        if let Some((user, password)) = login {
            command.args(["--incoming-user", user, "--incoming-pass", password]);
        }
        let process = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("maildev is installed (npm install -g maildev)");
        let sink = MailSink {
            smtp_port,
            web_port,
            process,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", web_port)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", smtp_port)).is_err()
        {
            assert!(Instant::now() < deadline, "maildev did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        sink
    }

    /// Every message received so far, oldest first.
    pub async fn messages(&self) -> Vec<ReceivedMail> {
        reqwest::get(format!("http://127.0.0.1:{}/email", self.web_port))
            .await
            .expect("maildev answers")
            .json()
            .await
            .expect("maildev's message list")
    }

    /// Waits for the `n`-th message (1-based) to `to`.
    pub async fn wait_for(&self, to: &str, n: usize) -> ReceivedMail {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mine: Vec<ReceivedMail> = self
                .messages()
                .await
                .into_iter()
                .filter(|m| m.to.iter().any(|a| a.address == to))
                .collect();
            if let Some(mail) = mine.get(n - 1) {
                return mail.clone();
            }
            assert!(Instant::now() < deadline, "no mail #{n} for {to}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
