//! Limits on password attempts.
//!
//! Every attempt is counted before the password is hashed, in two buckets: the username (so a
//! guesser spreading over many addresses is stopped) and the client address (so one address
//! cannot spray many usernames). An unknown username is counted exactly like a known one, so a
//! refusal says nothing about whether the account exists. A successful sign-in clears its
//! username's bucket. Counters live in PostgreSQL, shared by every instance.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tessera_store::rate_limits::BucketCount;

/// How many attempts (password checks, email codes requested) are allowed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Attempts for one username (any address) per window.
    pub per_username: u32,
    /// Attempts from one client address (any username) per window.
    pub per_address: u32,
    /// The window.
    pub window: Duration,
}

impl Default for AttemptLimits {
    fn default() -> Self {
        AttemptLimits {
            per_username: 10,
            per_address: 100,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Whether an attempt may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Check the password.
    Allowed,
    /// Too many attempts: refuse without checking, and say when to come back.
    Refused {
        /// Until the fullest bucket's window ends.
        retry_after: Duration,
    },
}

/// The buckets an attempt for `username` from `address` counts in.
pub fn password_buckets(username: &str, address: Option<IpAddr>) -> Vec<String> {
    // Usernames are hashed so the table holds no identifiers; case and surrounding blanks do
    // not make a new bucket.
    let mut buckets = vec![format!(
        "pwd:user:{}",
        hex(&crate::flow::secret_hash(&username.trim().to_lowercase()))
    )];
    if let Some(address) = address {
        buckets.push(format!("pwd:addr:{}", address_key(address)));
    }
    buckets
}

/// The buckets a request for an email code for `username` from `address` counts in.
pub fn email_buckets(username: &str, address: Option<IpAddr>) -> Vec<String> {
    password_buckets(username, address)
        .into_iter()
        .map(|b| b.replacen("pwd:", "mail:", 1))
        .collect()
}

/// Default limits on email codes: a few per account, more per address (several people may
/// share one).
pub const EMAIL_LIMITS: AttemptLimits = AttemptLimits {
    per_username: 3,
    per_address: 20,
    window: Duration::from_secs(15 * 60),
};

/// The username bucket of [`password_buckets`], to clear after a success.
pub fn username_bucket(username: &str) -> String {
    password_buckets(username, None).remove(0)
}

/// IPv6 clients usually own a whole /64, so they are counted per /64.
fn address_key(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Attempts for one username answered without delay in each window.
const UNDELAYED: i32 = 3;
/// The first delay, doubled with every further attempt.
const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest delay.
const MAX_DELAY: Duration = Duration::from_secs(4);

impl AttemptLimits {
    /// How long to hold a refused attempt's answer: nothing for the first few attempts at a
    /// username in the window, then 250 ms doubling up to 4 s. Guessing slows down long before
    /// the limit refuses it, while a user who mistypes twice notices nothing. Unknown
    /// usernames are counted, and so delayed, alike.
    pub fn delay(&self, counts: &[BucketCount]) -> Duration {
        let hits = counts
            .iter()
            .filter(|c| c.bucket.contains(":user:"))
            .map(|c| c.hits)
            .max()
            .unwrap_or(0);
        if hits <= UNDELAYED {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(hits - UNDELAYED - 1)
            .unwrap_or(u32::MAX)
            .min(8);
        FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
    }

    /// Decides from the counts after this attempt was counted.
    pub fn decide(&self, counts: &[BucketCount], now: DateTime<Utc>) -> Attempt {
        let over = counts.iter().filter(|c| {
            let limit = if c.bucket.contains(":user:") {
                self.per_username
            } else {
                self.per_address
            };
            u32::try_from(c.hits).unwrap_or(0) > limit
        });
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        let retry_after = over
            .map(|c| {
                let ends = c.window_start.checked_add_signed(window).unwrap_or(now);
                (ends - now).to_std().unwrap_or(Duration::ZERO)
            })
            .max();
        match retry_after {
            None => Attempt::Allowed,
            Some(retry_after) => Attempt::Refused {
                retry_after: retry_after.max(Duration::from_secs(1)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_at_a_username_are_delayed_more_and_more_after_the_first_three() {
        let limits = AttemptLimits::default();
        let counts = |hits: i32| {
            vec![
                BucketCount {
                    bucket: "pwd:user:abc".into(),
                    hits,
                    window_start: Utc::now(),
                },
                BucketCount {
                    bucket: "pwd:addr:192.0.2.1".into(),
                    hits: 50,
                    window_start: Utc::now(),
                },
            ]
        };
        let delays: Vec<u64> = (1..=10)
            .map(|hits| limits.delay(&counts(hits)).as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    }
    use chrono::TimeZone;

    fn count(bucket: &str, hits: i32, start: DateTime<Utc>) -> BucketCount {
        BucketCount {
            bucket: bucket.into(),
            hits,
            window_start: start,
        }
    }

    #[test]
    fn the_eleventh_attempt_for_a_username_is_refused_until_its_window_ends() {
        let limits = AttemptLimits::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let now = start + chrono::Duration::minutes(5);
        let user = username_bucket("Kim");
        assert_eq!(
            limits.decide(&[count(&user, 10, start)], now),
            Attempt::Allowed
        );
        assert_eq!(
            limits.decide(
                &[
                    count(&user, 11, start),
                    count("pwd:addr:1.2.3.4", 11, start)
                ],
                now
            ),
            Attempt::Refused {
                retry_after: Duration::from_secs(10 * 60)
            }
        );
        assert!(matches!(
            limits.decide(&[count("pwd:addr:1.2.3.4", 101, start)], now),
            Attempt::Refused { .. }
        ));
    }

    #[test]
    fn buckets_ignore_case_and_blanks_and_group_ipv6_by_prefix() {
        assert_eq!(username_bucket(" Kim "), username_bucket("kim"));
        assert!(
            !username_bucket("kim").contains("kim"),
            "usernames are hashed"
        );
        let a = password_buckets("kim", "2001:db8:1:2:aaaa::1".parse().ok());
        let b = password_buckets("kim", "2001:db8:1:2:bbbb::9".parse().ok());
        assert_eq!(a, b);
        assert_eq!(
            password_buckets("kim", "::ffff:10.0.0.1".parse().ok())[1],
            "pwd:addr:10.0.0.1"
        );
    }
}
