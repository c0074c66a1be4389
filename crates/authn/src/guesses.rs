//! Wrong email codes, counted per account across resends and flows.
//!
//! Each code allows a few tries, but an attacker can ask for code after code. So every wrong
//! code typed against an account also counts in one bucket per account over a day, and:
//!
//! - answers to wrong codes slow down as the count grows;
//! - at [`WARN_AT`] the owner is told by mail that someone is guessing;
//! - from [`BOUND`] on (NIST SP 800-63B §5.2.2 allows at most 100 consecutive failures), typed
//!   codes for the account are refused unchecked, and what is mailed to the owner becomes a
//!   link: its 256-bit token cannot be guessed, and opened in the browser that asked for it,
//!   it still signs the owner in. The bound stops the guessing without locking the owner out.

use std::time::Duration;

use uuid::Uuid;

/// How long wrong codes are remembered.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Wrong codes per account per window before typed codes are refused.
pub const BOUND: i32 = 100;
/// Wrong codes per account at which the owner is warned by mail (once per window).
pub const WARN_AT: i32 = 50;
// The owner is warned before typed codes are refused.
const _: () = assert!(WARN_AT < BOUND);

/// Wrong codes answered without delay.
const UNDELAYED: i32 = 10;
/// The first delay, doubled with every further wrong code, up to [`MAX_DELAY`].
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(4);

/// The rate-limit bucket of an account's wrong codes.
pub fn bucket(account_id: Uuid) -> String {
    format!("otp:account:{account_id}")
}

/// True when typed codes for an account with `failures` wrong codes are refused.
pub fn is_locked(failures: i32) -> bool {
    failures >= BOUND
}

/// How long to hold the answer to the `failures`-th wrong code.
pub fn delay(failures: i32) -> Duration {
    if failures <= UNDELAYED {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(failures - UNDELAYED - 1)
        .unwrap_or(u32::MAX)
        .min(8);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_codes_slow_down_after_ten_and_lock_typed_codes_at_the_bound() {
        let delays: Vec<u64> = [1, 10, 11, 12, 13, 20, 99]
            .iter()
            .map(|f| delay(*f).as_millis() as u64)
            .collect();
        assert_eq!(delays, [0, 0, 250, 500, 1000, 4000, 4000]);
        assert!(!is_locked(BOUND - 1));
        assert!(is_locked(BOUND));
    }
}
