//! Limits on password attempts and email codes.
//!
//! Every attempt is counted before the password is hashed, in three buckets:
//!
//! - the username **from this address** (`pair`): a guesser at one address is slowed (growing
//!   delays) and then refused, without touching the account's owner elsewhere;
//! - the **address** (`addr`): one address cannot spray many usernames;
//! - the **account** from anywhere (`user`): a guesser spread over many addresses gets at most
//!   a bounded number of tries per window (NIST SP 800-63B §5.2.2 allows no more than 100
//!   consecutive failures). A browser the owner has signed in with before (a *known device*)
//!   does not count in it, so reaching this bound from elsewhere never locks the owner out of
//!   a browser they use.
//!
//! An unknown username is counted exactly like a known one, so a refusal says nothing about
//! whether the account exists. A success clears the username's buckets. Counters live in
//! PostgreSQL, shared by every instance.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tessera_store::rate_limits::BucketCount;

/// How many attempts (password checks, email codes requested) are allowed per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimits {
    /// Attempts for one username from one client address per window.
    pub per_username: u32,
    /// Attempts from one client address (any username) per window.
    pub per_address: u32,
    /// Attempts for one username from anywhere but its known devices, per window.
    pub per_account: u32,
    /// The window.
    pub window: Duration,
}

/// The bound on password guesses at one account from unknown browsers per window.
pub const PASSWORD_ATTEMPTS_PER_ACCOUNT: u32 = 100;

impl Default for AttemptLimits {
    fn default() -> Self {
        AttemptLimits {
            per_username: 10,
            per_address: 100,
            per_account: PASSWORD_ATTEMPTS_PER_ACCOUNT,
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

/// The buckets an attempt for `username` from `address` counts in; a `known_device` (a browser
/// the owner signed in with before) is left out of the account-wide bucket.
pub fn password_buckets(
    username: &str,
    address: Option<IpAddr>,
    known_device: bool,
) -> Vec<String> {
    // Usernames are hashed so the table holds no identifiers; case and surrounding blanks do
    // not make a new bucket.
    let user = hex(&crate::flow::secret_hash(&username.trim().to_lowercase()));
    let mut buckets = Vec::with_capacity(3);
    if let Some(address) = address {
        let address = address_key(address);
        buckets.push(format!("pwd:pair:{user}:{address}"));
        buckets.push(format!("pwd:addr:{address}"));
    }
    if !known_device || address.is_none() {
        buckets.push(format!("pwd:user:{user}"));
    }
    buckets
}

/// The buckets a request for an email code for `username` from `address` counts in.
pub fn email_buckets(username: &str, address: Option<IpAddr>, known_device: bool) -> Vec<String> {
    password_buckets(username, address, known_device)
        .into_iter()
        .map(|b| b.replacen("pwd:", "mail:", 1))
        .collect()
}

/// Default limits on email codes: a few per account and address, more per address (several
/// people may share one), and a bound per account against mail bombing from many addresses.
pub const EMAIL_LIMITS: AttemptLimits = AttemptLimits {
    per_username: 3,
    per_address: 20,
    per_account: 10,
    window: Duration::from_secs(15 * 60),
};

/// The bucket a look-up on the identifier-first page counts in: the client address. The page
/// answers differently for accounts with passkeys, so probing it is limited like guessing.
pub fn identify_buckets(address: Option<IpAddr>) -> Vec<String> {
    address
        .map(|a| format!("ident:addr:{}", address_key(a)))
        .into_iter()
        .collect()
}

/// The bucket the sign-ins a client address starts count in.
pub fn flow_bucket(address: Option<IpAddr>) -> Option<String> {
    address.map(|a| format!("flow:addr:{}", address_key(a)))
}

/// Limits on identifier-first look-ups: 30 per client address per window (a person types a
/// few usernames at most; a prober wants thousands).
pub const IDENTIFY_LIMITS: AttemptLimits = AttemptLimits {
    per_username: 30,
    per_address: 30,
    per_account: 30,
    window: Duration::from_secs(15 * 60),
};

/// The buckets of `username` a success clears: its account-wide count and, from `address`,
/// its pair (NIST counts consecutive failures).
pub fn cleared_by_success(username: &str, address: Option<IpAddr>) -> Vec<String> {
    password_buckets(username, address, false)
        .into_iter()
        .filter(|b| !b.starts_with("pwd:addr:"))
        .collect()
}

/// The kind of a bucket, from its key.
enum BucketKind {
    Pair,
    Address,
    Account,
}

fn kind(bucket: &str) -> BucketKind {
    if bucket.contains(":pair:") {
        BucketKind::Pair
    } else if bucket.contains(":addr:") {
        BucketKind::Address
    } else {
        BucketKind::Account
    }
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
    /// Counts an attempt in `buckets` on `conn` and returns the counts to [`Self::decide`] on.
    /// The address bucket gates the others: past its limit, an address's attempts touch no
    /// other row, so trying ever new usernames from one address adds no rows.
    pub fn count(
        &self,
        conn: &mut tessera_store::PgConn,
        buckets: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<BucketCount>, tessera_store::StoreError> {
        match buckets
            .iter()
            .find(|b| matches!(kind(b), BucketKind::Address))
        {
            Some(gate) => tessera_store::rate_limits::hit_gated(
                conn,
                (gate, self.per_address),
                buckets,
                now,
                self.window,
            ),
            None => tessera_store::rate_limits::hit(conn, buckets, now, self.window),
        }
    }

    /// How long to hold a refused attempt's answer: nothing for the first few attempts at a
    /// username in the window, then 250 ms doubling up to 4 s. Guessing slows down long before
    /// the limit refuses it, while a user who mistypes twice notices nothing. Unknown
    /// usernames are counted, and so delayed, alike.
    pub fn delay(&self, counts: &[BucketCount]) -> Duration {
        // The pair's count: what this address did to this username. (Without an address, the
        // account's.) An attacker elsewhere never slows the owner down.
        let hits = counts
            .iter()
            .filter(|c| !matches!(kind(&c.bucket), BucketKind::Address))
            .map(|c| c.hits)
            .min()
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
            let limit = match kind(&c.bucket) {
                BucketKind::Pair => self.per_username,
                BucketKind::Address => self.per_address,
                BucketKind::Account => self.per_account,
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
    use chrono::TimeZone;

    fn count(bucket: &str, hits: i32, start: DateTime<Utc>) -> BucketCount {
        BucketCount {
            bucket: bucket.into(),
            hits,
            window_start: start,
        }
    }

    /// A fixed instant: the tests choose their clock.
    fn noon() -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
    }

    fn address() -> Option<IpAddr> {
        "192.0.2.1".parse().ok()
    }

    #[test]
    fn attempts_from_one_address_at_a_username_are_delayed_more_and_more_after_the_first_three() {
        let limits = AttemptLimits::default();
        let buckets = password_buckets("kim", address(), false);
        let counts = |hits: i32| {
            vec![
                count(&buckets[0], hits, noon()),
                count(&buckets[1], 50, noon()),
                count(&buckets[2], hits + 40, noon()),
            ]
        };
        let delays: Vec<u64> = (1..=10)
            .map(|hits| limits.delay(&counts(hits)).as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    }

    #[test]
    fn the_eleventh_attempt_from_one_address_at_a_username_is_refused_until_its_window_ends() {
        let limits = AttemptLimits::default();
        let start = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
        let now = start + chrono::Duration::minutes(5);
        let pair = password_buckets("Kim", address(), true).remove(0);
        assert_eq!(
            limits.decide(&[count(&pair, 10, start)], now),
            Attempt::Allowed
        );
        assert_eq!(
            limits.decide(&[count(&pair, 11, start)], now),
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
    fn guesses_from_many_addresses_are_bounded_per_account_but_not_from_a_known_device() {
        let limits = AttemptLimits::default();
        let now = noon();
        let elsewhere = password_buckets("kim", "203.0.113.9".parse().ok(), false);
        let account = elsewhere.last().unwrap().clone();
        assert!(account.starts_with("pwd:user:"));
        assert!(matches!(
            limits.decide(&[count(&account, 101, now)], now),
            Attempt::Refused { .. }
        ));
        // The owner's browser does not count in (nor is refused by) the account bucket.
        let known = password_buckets("kim", address(), true);
        assert!(!known.contains(&account), "{known:?}");
        assert_eq!(known.len(), 2);
    }

    #[test]
    fn buckets_ignore_case_and_blanks_and_group_ipv6_by_prefix() {
        assert_eq!(
            password_buckets(" Kim ", None, false),
            password_buckets("kim", None, false)
        );
        assert!(
            !password_buckets("kim", address(), false)
                .concat()
                .contains("kim"),
            "usernames are hashed"
        );
        let a = password_buckets("kim", "2001:db8:1:2:aaaa::1".parse().ok(), false);
        let b = password_buckets("kim", "2001:db8:1:2:bbbb::9".parse().ok(), false);
        assert_eq!(a, b);
        assert_eq!(
            password_buckets("kim", "::ffff:10.0.0.1".parse().ok(), false)[1],
            "pwd:addr:10.0.0.1"
        );
    }

    #[test]
    fn a_success_clears_the_pair_and_the_account_but_not_the_address() {
        let cleared = cleared_by_success("kim", address());
        assert_eq!(cleared.len(), 2);
        assert!(cleared.iter().all(|b| !b.starts_with("pwd:addr:")));
    }
}
