//! What an emailed code is for, and what a sign-in has proved before its last step. Both are
//! stored (with the email challenge, with the passkey ceremony) as versioned JSON whose decode
//! failure is an error of its own, never taken for an expired sign-in.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::passkeys::SignUp;

/// What an emailed code or link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Proves an existing account's address before it registers a passkey: enrolment by
    /// email, which is also recovery ("lost your passkey?").
    Enrolment,
    /// Verifies a sign-up's address before the account exists.
    SignUp,
    /// Is itself the sign-in (the selector's "Email code").
    SignIn,
}

impl Purpose {
    /// The name stored with the challenge.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Enrolment => "passkey-registration",
            Purpose::SignUp => "sign-up",
            Purpose::SignIn => "sign-in",
        }
    }

    /// The purpose a stored name stands for.
    pub fn parse(stored: &str) -> Result<Purpose, DecodeError> {
        [Purpose::Enrolment, Purpose::SignUp, Purpose::SignIn]
            .into_iter()
            .find(|p| p.as_str() == stored)
            .ok_or_else(|| DecodeError(format!("unknown email purpose {stored:?}")))
    }
}

/// A stored value that cannot be read back (written by another version, or damaged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored sign-in step cannot be read: {0}")]
pub struct DecodeError(String);

/// How the user proved who they are before registering a passkey: it becomes the sign-in's
/// authentication when the passkey is created (the passkey is for next time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// RFC 8176 methods (`pwd`, `otp`).
    pub amr: Vec<String>,
    /// The authenticator the sign-in completes with (the client must still allow it).
    pub authenticator: String,
}

impl Proof {
    /// A password verified by `authenticator`.
    pub fn password(authenticator: &str) -> Self {
        Proof {
            amr: vec!["pwd".into()],
            authenticator: authenticator.to_owned(),
        }
    }

    /// An emailed code or link answered, completing with `authenticator`.
    pub fn email(authenticator: &str) -> Self {
        Proof {
            amr: vec!["otp".into()],
            authenticator: authenticator.to_owned(),
        }
    }

    /// True when the mailbox alone proved it: registering a passkey on such a proof is a
    /// recovery, which ends whatever was signed in before.
    pub fn is_by_email(&self) -> bool {
        self.amr.iter().any(|m| m == "otp")
    }

    /// The stored form.
    pub fn encode(&self) -> serde_json::Value {
        serde_json::json!({ "v": 1, "amr": self.amr, "authenticator": self.authenticator })
    }

    /// Reads the stored form back.
    pub fn decode(stored: serde_json::Value) -> Result<Proof, DecodeError> {
        serde_json::from_value(stored).map_err(|e| DecodeError(e.to_string()))
    }
}

/// A sign-up waiting for its address to be verified, as kept with the email challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingSignUp {
    /// The first passkey is created next.
    Passkey {
        /// Who signs up.
        details: SignUp,
    },
    /// The account is created with this password hash.
    Password {
        /// Who signs up.
        details: SignUp,
        /// argon2id of the password typed on the form (never the password).
        password_hash: String,
    },
}

impl PendingSignUp {
    /// The stored form.
    pub fn encode(&self) -> Result<serde_json::Value, DecodeError> {
        serde_json::to_value(self).map_err(|e| DecodeError(e.to_string()))
    }

    /// Reads the stored form back.
    pub fn decode(stored: serde_json::Value) -> Result<PendingSignUp, DecodeError> {
        serde_json::from_value(stored).map_err(|e| DecodeError(e.to_string()))
    }

    /// The account the sign-up will create.
    pub fn account_id(&self) -> Uuid {
        match self {
            PendingSignUp::Passkey { details } | PendingSignUp::Password { details, .. } => {
                details.account_id
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_keep_their_stored_names_and_unknown_ones_are_refused() {
        for purpose in [Purpose::Enrolment, Purpose::SignUp, Purpose::SignIn] {
            assert_eq!(Purpose::parse(purpose.as_str()), Ok(purpose));
        }
        assert_eq!(Purpose::Enrolment.as_str(), "passkey-registration");
        assert!(Purpose::parse("anything").is_err());
    }

    #[test]
    fn a_proof_round_trips_and_a_damaged_one_is_an_error() {
        let proof = Proof::email("email");
        assert_eq!(Proof::decode(proof.encode()), Ok(proof.clone()));
        assert!(proof.is_by_email());
        assert!(!Proof::password("pw").is_by_email());
        assert!(Proof::decode(serde_json::json!({ "amr": "otp" })).is_err());
    }

    #[test]
    fn a_pending_sign_up_round_trips_and_a_damaged_one_is_an_error() {
        let pending = PendingSignUp::Password {
            details: SignUp {
                account_id: Uuid::nil(),
                username: "robin".into(),
                email: "robin@example.com".into(),
                phone: None,
                given_name: "Robin".into(),
                family_name: "Reyes".into(),
            },
            password_hash: "$argon2id$…".into(),
        };
        let stored = pending.encode().unwrap();
        assert_eq!(PendingSignUp::decode(stored), Ok(pending));
        assert!(PendingSignUp::decode(serde_json::json!({ "kind": "telepathy" })).is_err());
    }
}
