//! The sign-in domain, free of HTTP: what a client's policy offers ([`offers`]), what an
//! emailed code is for ([`Purpose`]) and what answering it proves ([`proof`]), and the steps
//! that turn a typed credential into the next state of a sign-in or a typed refusal
//! ([`steps`]). The pages translate forms into these inputs and outcomes into
//! pages; they decide nothing.
//!
//! A sign-in moves through these states (one flow row; see [`SignIn`]):
//!
//! ```text
//!   Open ──password / email code / passkey──▶ Authenticated ──taken by the caller──▶ (gone)
//!    │                                            ▲
//!    └─password or email code, then "create a passkey"─▶ Enrolling ──ceremony──┘
//! ```
//!
//! Expiry is judged against the time passed in, never read from the clock here.

pub mod offers;
pub mod proof;
pub mod steps;

use chrono::{DateTime, Utc};
use tessera_store::signin::FlowRow;

use crate::flow::Policy;

pub use offers::{Capabilities, MailRoute, Mailer, Offers, Via};
pub use proof::{DecodeError, PendingSignUp, Proof, Purpose};

/// Where a sign-in stands, as read from its flow row at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Waiting for the user to prove who they are, under this policy.
    Open(Policy),
    /// Proved: the caller has not taken the result yet.
    Authenticated,
    /// Past its lifetime, or its result was taken: nothing more can happen in it.
    Over,
}

/// Why a flow row could not be read as a sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sign-in's stored policy cannot be read: {0}")]
pub struct PolicyUnreadable(String);

impl SignIn {
    /// The state of `row` at `now`. A policy that does not decode is an error, never a
    /// silently expired sign-in.
    pub fn of(row: &FlowRow, now: DateTime<Utc>) -> Result<SignIn, PolicyUnreadable> {
        if row.expires_at <= now || row.consumed_at.is_some() {
            return Ok(SignIn::Over);
        }
        if row.account_id.is_some() {
            return Ok(SignIn::Authenticated);
        }
        serde_json::from_value(row.policy.clone())
            .map(SignIn::Open)
            .map_err(|e| PolicyUnreadable(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use uuid::Uuid;

    use super::*;

    /// A fixed instant: the tests choose their clock.
    fn noon() -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap()
    }

    fn row(now: DateTime<Utc>) -> FlowRow {
        FlowRow {
            flow_id: Uuid::nil(),
            browser_hash: vec![1; 32],
            policy: serde_json::json!({ "allowed": [], "max_age": null, "force": false,
                                        "login_hint": null, "audience_name": null }),
            return_to: "/back".into(),
            payload: serde_json::Value::Null,
            created_at: now,
            expires_at: now + Duration::minutes(10),
            account_id: None,
            amr: None,
            acr: None,
            auth_time: None,
            sid: None,
            consumed_at: None,
        }
    }

    #[test]
    fn a_new_flow_is_open_under_its_policy_until_it_expires() {
        let now = noon();
        let open = row(now);
        assert_eq!(SignIn::of(&open, now), Ok(SignIn::Open(Policy::default())));
        assert_eq!(
            SignIn::of(&open, now + Duration::minutes(10)),
            Ok(SignIn::Over),
            "expired at its expiry"
        );
    }

    #[test]
    fn an_authenticated_flow_is_over_once_taken() {
        let now = noon();
        let mut done = row(now);
        done.account_id = Some(Uuid::nil());
        assert_eq!(SignIn::of(&done, now), Ok(SignIn::Authenticated));
        done.consumed_at = Some(now);
        assert_eq!(SignIn::of(&done, now), Ok(SignIn::Over));
    }

    #[test]
    fn an_unreadable_policy_is_an_error_not_an_expired_flow() {
        let now = noon();
        let mut broken = row(now);
        broken.policy = serde_json::json!({ "allowed": "everything" });
        assert!(SignIn::of(&broken, now).is_err());
    }
}
