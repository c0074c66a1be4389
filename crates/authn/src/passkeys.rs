//! The passkey authenticator: WebAuthn registration and authentication ceremonies with
//! webauthn-rs, user verification required.
//!
//! A ceremony has two halves. `begin_*` makes the challenge the browser hands to the
//! authenticator and stores the relying party's half in PostgreSQL under a ceremony id;
//! `finish_*` takes that half back (deleting it: a challenge is answered once, by whichever
//! instance receives the answer) and verifies the authenticator's response against it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_store::accounts::{AccountRow, NewAccount, SignUpConflict, Taken};
use tessera_store::passkeys::{self as rows, CeremonyKind, CeremonyRow, DeviceInsert, DeviceRow};
use tessera_store::{PgConn, Store, StoreError};
use thiserror::Error;
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Url, WebauthnError,
};
use webauthn_rs_core::proto::RegistrationState as RelyingPartyRegistration;

use crate::relying_party::RelyingParty;

/// How long a browser has to answer a challenge.
pub const CEREMONY_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a passkey ceremony did not succeed.
#[derive(Debug, Error)]
pub enum PasskeyError {
    /// Unknown, already answered or timed-out ceremony.
    #[error("this passkey request has expired; start again")]
    CeremonyGone,
    /// The authenticator's answer failed verification (challenge, origin, RP ID, signature,
    /// user verification, counter).
    #[error("the passkey response was refused: {0}")]
    Refused(String),
    /// The credential is not registered (or not to the account expected).
    #[error("this passkey is not registered here")]
    UnknownCredential,
    /// The credential is registered already.
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    /// A sign-up's username or address was taken while the passkey was being created.
    #[error("the {0} was taken meanwhile")]
    Taken(&'static str),
    /// The relying party could not be set up from the issuer.
    #[error("passkeys are not available: {0}")]
    Setup(String),
    /// Database.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The relying party's half of an authentication ceremony.
#[derive(Serialize, Deserialize)]
enum AuthenticationState {
    /// For one account's passkeys (the username is known).
    Account(PasskeyAuthentication),
    /// For whichever passkey the authenticator offers (discoverable credentials).
    Discoverable(DiscoverableAuthentication),
}

/// A verified sign-in with a passkey.
#[derive(Debug, Clone)]
pub struct PasskeySignIn {
    /// Whose passkey it was.
    pub account_id: Uuid,
    /// Which one.
    pub device_id: Uuid,
    /// RFC 8176 methods: `hwk` for a device-bound key or `swk` for a synchronised one, and
    /// `user` for the verification the authenticator performed.
    pub amr: Vec<String>,
    /// The passkey's new counter, backup state and last use, still to be stored: with the
    /// flow's completion (one statement, [`crate::flow::complete`] or
    /// [`crate::flow::complete_in`]) or by [`Passkeys::record_use`] or [`record_use_in`].
    pub usage: rows::DeviceUse,
    /// The policy of the flow the ceremony was finished in, as stored with the flow (taken by
    /// the same statement as the ceremony), for the caller to enforce.
    pub flow_policy: Option<serde_json::Value>,
}

/// A discoverable sign-in begun within a sign-in flow.
pub struct FlowChallenge {
    /// The policy stored with the flow, for the caller to enforce.
    pub flow_policy: serde_json::Value,
    /// The ceremony id for the answer.
    pub ceremony_id: Uuid,
    /// Options for `navigator.credentials.get()`.
    pub options: RequestChallengeResponse,
}

/// A passkey just registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredPasskey {
    /// Owner.
    pub account_id: Uuid,
    /// The new `devices` row.
    pub device_id: Uuid,
    /// What the caller stored with the ceremony when it began (how the user proved who they
    /// are before registering).
    pub context: serde_json::Value,
}

/// Someone signing up whose email address is verified: the account exists only once its
/// first passkey is stored, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUp {
    /// The id the account will have (and the WebAuthn user handle).
    pub account_id: Uuid,
    /// Username.
    pub username: String,
    /// Verified email address.
    pub email: String,
    /// Optional phone number.
    pub phone: Option<String>,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
}

impl SignUp {
    /// The account row it becomes.
    pub fn new_account(&self) -> NewAccount<'_> {
        NewAccount {
            username: &self.username,
            email: Some(&self.email),
            phone: self.phone.as_deref(),
            attributes: serde_json::json!({
                "given_name": self.given_name,
                "family_name": self.family_name,
            }),
            legacy_subject: None,
        }
    }
}

/// Whom a passkey is registered for.
#[derive(Debug, Clone, Copy)]
pub enum Registrant<'a> {
    /// An existing account (adding a passkey, recovery, migration).
    Account(&'a AccountRow),
    /// A new account, created with this passkey.
    SignUp(&'a SignUp),
}

impl Registrant<'_> {
    /// The account's id (to be, for a sign-up).
    pub fn account_id(&self) -> Uuid {
        match self {
            Registrant::Account(a) => a.account_id,
            Registrant::SignUp(s) => s.account_id,
        }
    }

    /// The username.
    pub fn username(&self) -> &str {
        match self {
            Registrant::Account(a) => &a.username,
            Registrant::SignUp(s) => &s.username,
        }
    }

    fn display_name(&self) -> String {
        match self {
            Registrant::Account(a) => display_name(a),
            Registrant::SignUp(s) => format!("{} {}", s.given_name, s.family_name),
        }
    }
}

/// The relying party's half of a registration, with the caller's context and, for a sign-up,
/// the account to create.
#[derive(Serialize, Deserialize)]
struct RegistrationState {
    state: RelyingPartyRegistration,
    #[serde(default)]
    context: serde_json::Value,
    #[serde(default)]
    sign_up: Option<SignUp>,
}

/// The passkey relying party of one issuer.
pub struct Passkeys {
    // Shared with the blocking task that verifies an answer between two statements.
    relying_party: Arc<RelyingParty>,
}

fn refused(e: impl std::fmt::Display) -> PasskeyError {
    PasskeyError::Refused(e.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, PasskeyError> {
    serde_json::to_value(value).map_err(|e| PasskeyError::Setup(e.to_string()))
}

impl Passkeys {
    /// The relying party for `issuer`: its host is the RP ID and its origin the only origin
    /// accepted. (WebAuthn needs a domain: an issuer on an IP address cannot offer passkeys.)
    pub fn new(issuer: &str, rp_name: &str) -> Result<Self, PasskeyError> {
        let url = Url::parse(issuer).map_err(|e| PasskeyError::Setup(e.to_string()))?;
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|e| PasskeyError::Setup(e.to_string()))?;
        let rp_id = url
            .domain()
            .ok_or_else(|| PasskeyError::Setup(format!("{issuer} has no domain name")))?
            .to_owned();
        let relying_party = RelyingParty::new(&rp_id, &origin, rp_name, CEREMONY_TIMEOUT)
            .map_err(|e| PasskeyError::Setup(e.to_string()))?;
        Ok(Passkeys {
            relying_party: Arc::new(relying_party),
        })
    }

    /// Starts registering a passkey for `registrant` within `flow_id`, keeping `context` with
    /// the ceremony; returns the ceremony id and the options for
    /// `navigator.credentials.create()` (a `CreationChallengeResponse` as JSON).
    pub async fn begin_registration(
        &self,
        store: &Store,
        registrant: Registrant<'_>,
        (flow_id, context): (Option<Uuid>, serde_json::Value),
        now: DateTime<Utc>,
    ) -> Result<(Uuid, serde_json::Value), PasskeyError> {
        // An account's passkeys are excluded, so an authenticator does not register twice.
        let exclude = match registrant {
            Registrant::Account(account) => {
                let account_id = account.account_id;
                store
                    .run(move |conn| rows::devices_of(conn, account_id))
                    .await?
                    .iter()
                    .filter_map(|d| serde_json::from_value::<Passkey>(d.credential.clone()).ok())
                    .map(|p| p.cred_id().clone())
                    .collect::<Vec<_>>()
            }
            Registrant::SignUp(_) => Vec::new(),
        };
        let (options, state): (CreationChallengeResponse, _) = self
            .relying_party
            .start_registration(
                registrant.account_id(),
                registrant.username(),
                &registrant.display_name(),
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(refused)?;
        // Ask for a discoverable credential, so that the next sign-in needs no username. It is
        // a preference: authenticators that cannot store one still register. (webauthn-rs
        // discourages one and verifies the answer the same way either way.)
        let mut options = to_json(&options)?;
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(serde_json::Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "preferred".into());
            selection.insert("requireResidentKey".into(), false.into());
        }
        let (account_id, sign_up) = match registrant {
            Registrant::Account(account) => (Some(account.account_id), None),
            Registrant::SignUp(sign_up) => (None, Some(sign_up.clone())),
        };
        let ceremony_id = self
            .store_ceremony(
                store,
                (CeremonyKind::Registration, account_id, flow_id),
                to_json(&RegistrationState {
                    state,
                    context,
                    sign_up,
                })?,
                now,
            )
            .await?;
        Ok((ceremony_id, options))
    }

    /// Verifies the authenticator's answer and stores the new passkey under `name` (for a
    /// sign-up, together with the new account). The ceremony must have been begun by `flow_id`
    /// and, when `owner` is given, for that account (nothing is stored otherwise).
    pub async fn finish_registration(
        &self,
        store: &Store,
        (ceremony_id, flow_id, owner): (Uuid, Option<Uuid>, Option<Uuid>),
        response: &RegisterPublicKeyCredential,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<RegisteredPasskey, PasskeyError> {
        let ceremony = take(store, ceremony_id, CeremonyKind::Registration, flow_id, now).await?;
        let RegistrationState {
            state,
            context,
            sign_up,
        } = serde_json::from_value(ceremony.state).map_err(|_| PasskeyError::CeremonyGone)?;
        let account_id = match (&sign_up, ceremony.account_id) {
            (None, Some(account_id)) => account_id,
            (Some(sign_up), None) => sign_up.account_id,
            _ => return Err(PasskeyError::CeremonyGone),
        };
        if owner.is_some_and(|owner| owner != account_id) {
            return Err(PasskeyError::CeremonyGone);
        }
        let passkey = self
            .relying_party
            .finish_registration(response, &state)
            .map_err(refused)?;
        let device = DeviceRow {
            device_id: Uuid::new_v4(),
            account_id,
            device_type: "webauthn".into(),
            credential_id: AsRef::<[u8]>::as_ref(passkey.cred_id()).to_vec(),
            credential: to_json(&passkey)?,
            name: device_name(name, now),
            aaguid: crate::aaguid::from_attestation_object(
                response.response.attestation_object.as_ref(),
            ),
            sign_count: 0,
            backup_eligible: false,
            backup_state: false,
            created_at: now,
            last_used_at: None,
        };
        let device_id = device.device_id;
        let stored = match sign_up {
            None => store
                .run(move |conn| rows::insert_device(conn, &device))
                .await?
                .eq(&DeviceInsert::Stored)
                .then_some(())
                .ok_or(PasskeyError::AlreadyRegistered),
            Some(sign_up) => store
                .run(move |conn| {
                    tessera_store::accounts::create_with_passkey(
                        conn,
                        &sign_up.new_account(),
                        &device,
                    )
                })
                .await?
                .map_err(|conflict| match conflict {
                    SignUpConflict::Taken(Taken::Username) => PasskeyError::Taken("username"),
                    SignUpConflict::Taken(Taken::Email) => PasskeyError::Taken("email address"),
                    // A sign-up brings no legacy subject; listed for completeness.
                    SignUpConflict::Taken(Taken::LegacySubject) => PasskeyError::Taken("subject"),
                    SignUpConflict::CredentialRegistered => PasskeyError::AlreadyRegistered,
                }),
        };
        stored.map(|()| RegisteredPasskey {
            account_id,
            device_id,
            context,
        })
    }

    /// Starts a sign-in: with `account`, for that account's passkeys (none registered:
    /// [`PasskeyError::UnknownCredential`]); without, for any discoverable passkey.
    pub async fn begin_authentication(
        &self,
        store: &Store,
        account: Option<Uuid>,
        flow_id: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<(Uuid, RequestChallengeResponse), PasskeyError> {
        let (options, state) = match account {
            Some(account_id) => {
                let passkeys: Vec<Passkey> = store
                    .run(move |conn| rows::devices_of(conn, account_id))
                    .await?
                    .into_iter()
                    .filter_map(|d| serde_json::from_value(d.credential).ok())
                    .collect();
                if passkeys.is_empty() {
                    return Err(PasskeyError::UnknownCredential);
                }
                let (options, state) = self
                    .relying_party
                    .webauthn
                    .start_passkey_authentication(&passkeys)
                    .map_err(refused)?;
                (options, AuthenticationState::Account(state))
            }
            None => {
                let (options, state) = self
                    .relying_party
                    .webauthn
                    .start_discoverable_authentication()
                    .map_err(refused)?;
                (options, AuthenticationState::Discoverable(state))
            }
        };
        let ceremony_id = self
            .store_ceremony(
                store,
                (CeremonyKind::Authentication, account, flow_id),
                to_json(&state)?,
                now,
            )
            .await?;
        Ok((ceremony_id, options))
    }

    /// Starts a sign-in with any discoverable passkey within `flow`, in one statement that also
    /// checks the flow is open and the posting browser's; `None` (nothing stored) when it is not.
    /// The flow's policy comes back for the caller to check that it allows passkeys.
    pub async fn begin_discoverable_in_flow(
        &self,
        store: &Store,
        (flow_id, browser_hash): (Uuid, Vec<u8>),
        now: DateTime<Utc>,
    ) -> Result<Option<FlowChallenge>, PasskeyError> {
        let (options, state) = self
            .relying_party
            .webauthn
            .start_discoverable_authentication()
            .map_err(refused)?;
        let row = ceremony_row(
            (CeremonyKind::Authentication, None, Some(flow_id)),
            to_json(&AuthenticationState::Discoverable(state))?,
            now,
        );
        let ceremony_id = row.ceremony_id;
        let policy = store
            .run(move |conn| {
                let flow = rows::BrowserFlow {
                    flow_id,
                    browser_hash: &browser_hash,
                };
                rows::insert_ceremony_in_flow(conn, &row, flow, now)
            })
            .await?;
        Ok(policy.map(|flow_policy| FlowChallenge {
            flow_policy,
            ceremony_id,
            options,
        }))
    }

    /// Verifies a sign-in: the ceremony is taken (it cannot be answered again) and the answer
    /// checked against the passkey it names. Within a flow (its id and the posting browser's
    /// cookie hash), only a ceremony that flow began while it is open is taken, and the flow's
    /// policy is returned for the caller to enforce. The passkey's new counter is returned in
    /// [`PasskeySignIn::usage`], to be stored by the caller.
    pub async fn finish_authentication(
        &self,
        store: &Store,
        (ceremony_id, flow): (Uuid, Option<(Uuid, Vec<u8>)>),
        response: &PublicKeyCredential,
        now: DateTime<Utc>,
    ) -> Result<PasskeySignIn, PasskeyError> {
        let nothing_more = |_: &mut PgConn, signed_in| Ok(signed_in);
        self.finish_authentication_then(
            store,
            (ceremony_id, flow),
            response.clone(),
            now,
            nothing_more,
        )
        .await
    }

    /// [`finish_authentication`](Self::finish_authentication), then `then` with the verified
    /// sign-in on the same connection, all in one task on the blocking pool: a sign-in that
    /// completes a flow hands its work to the database threads once, not twice. An answer that
    /// fails verification never reaches `then`; a database failure in `then` is the caller's
    /// `PasskeyError::Store`, and marks the connection for a test before its next use.
    pub async fn finish_authentication_then<T, F>(
        &self,
        store: &Store,
        (ceremony_id, flow): (Uuid, Option<(Uuid, Vec<u8>)>),
        response: PublicKeyCredential,
        now: DateTime<Utc>,
        then: F,
    ) -> Result<T, PasskeyError>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgConn, PasskeySignIn) -> Result<T, StoreError> + Send + 'static,
    {
        let relying_party = Arc::clone(&self.relying_party);
        let credential_id = response.get_credential_id().to_vec();
        let finished = store
            .run(move |conn| {
                // One round trip: the flow checked, the ceremony taken and the credential
                // looked up together.
                let flow = flow
                    .as_ref()
                    .map(|(flow_id, browser_hash)| rows::BrowserFlow {
                        flow_id: *flow_id,
                        browser_hash,
                    });
                let taken =
                    rows::take_authentication(conn, ceremony_id, flow, &credential_id, now)?;
                match verify_answer(&relying_party, taken, &response, now) {
                    Ok(signed_in) => then(conn, signed_in).map(Ok),
                    Err(refused) => Ok(Err(refused)),
                }
            })
            .await??;
        Ok(finished)
    }

    /// Stores a sign-in's new counter and last use, for a sign-in that completes no flow.
    pub async fn record_use(
        &self,
        store: &Store,
        sign_in: &PasskeySignIn,
    ) -> Result<(), StoreError> {
        let (device_id, usage) = (sign_in.device_id, sign_in.usage.clone());
        store
            .run(move |conn| rows::record_use(conn, device_id, &usage))
            .await
    }

    async fn store_ceremony(
        &self,
        store: &Store,
        (kind, account_id, flow_id): (CeremonyKind, Option<Uuid>, Option<Uuid>),
        state: serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Uuid, PasskeyError> {
        let row = ceremony_row((kind, account_id, flow_id), state, now);
        let id = row.ceremony_id;
        store
            .run(move |conn| rows::insert_ceremony(conn, &row))
            .await?;
        Ok(id)
    }
}

/// A new ceremony's row, expiring with the ceremony timeout.
fn ceremony_row(
    (kind, account_id, flow_id): (CeremonyKind, Option<Uuid>, Option<Uuid>),
    state: serde_json::Value,
    now: DateTime<Utc>,
) -> CeremonyRow {
    CeremonyRow {
        ceremony_id: Uuid::new_v4(),
        kind,
        account_id,
        flow_id,
        state,
        expires_at: now
            + chrono::Duration::from_std(CEREMONY_TIMEOUT)
                .unwrap_or_else(|_| chrono::Duration::minutes(5)),
    }
}

async fn take(
    store: &Store,
    ceremony_id: Uuid,
    kind: CeremonyKind,
    flow_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<CeremonyRow, PasskeyError> {
    store
        .run(move |conn| rows::take_ceremony(conn, ceremony_id, kind, flow_id, now))
        .await?
        .ok_or(PasskeyError::CeremonyGone)
}

/// "Given Family" when the account has them, else the username.
fn display_name(account: &AccountRow) -> String {
    let attr = |k: &str| {
        account
            .attributes
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    match (attr("given_name"), attr("family_name")) {
        (Some(g), Some(f)) => format!("{g} {f}"),
        (Some(g), None) => g.to_owned(),
        _ => account.username.clone(),
    }
}

/// The owner's name for a passkey, trimmed to something displayable.
fn device_name(name: &str, now: DateTime<Utc>) -> String {
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect::<String>()
        .trim()
        .to_owned();
    if name.is_empty() {
        format!("Passkey added {}", now.format("%Y-%m-%d"))
    } else {
        name
    }
}

/// Stores a sign-in's new counter and last use, on a connection the caller holds.
pub fn record_use_in(conn: &mut PgConn, sign_in: &PasskeySignIn) -> Result<(), StoreError> {
    rows::record_use(conn, sign_in.device_id, &sign_in.usage)
}

/// Checks an authentication answer against the ceremony taken for it and the passkey it
/// names; returns the sign-in with the passkey's new counter, to be stored by the caller.
fn verify_answer(
    relying_party: &RelyingParty,
    taken: Option<rows::TakenAuthentication>,
    response: &PublicKeyCredential,
    now: DateTime<Utc>,
) -> Result<PasskeySignIn, PasskeyError> {
    let rows::TakenAuthentication {
        ceremony,
        credential: device,
        flow_policy,
    } = taken.ok_or(PasskeyError::CeremonyGone)?;
    let state: AuthenticationState =
        serde_json::from_value(ceremony.state).map_err(|_| PasskeyError::CeremonyGone)?;
    let device = device.ok_or(PasskeyError::UnknownCredential)?;
    let mut passkey: Passkey = serde_json::from_value(device.credential)
        .map_err(|e| PasskeyError::Setup(format!("stored passkey unreadable: {e}")))?;
    let result = match state {
        AuthenticationState::Account(state) => {
            if ceremony.account_id != Some(device.account_id) {
                return Err(PasskeyError::UnknownCredential);
            }
            relying_party
                .webauthn
                .finish_passkey_authentication(response, &state)
        }
        AuthenticationState::Discoverable(state) => {
            let (user, _) = relying_party
                .webauthn
                .identify_discoverable_authentication(response)
                .map_err(refused)?;
            if user != device.account_id {
                return Err(PasskeyError::UnknownCredential);
            }
            relying_party.webauthn.finish_discoverable_authentication(
                response,
                state,
                &[(&passkey).into()],
            )
        }
    }
    .map_err(|e| {
        if matches!(e, WebauthnError::CredentialPossibleCompromise) {
            // The operator's signal that a copy of this key may be in use.
            tracing::warn!(
                device_id = %device.device_id,
                account_id = %device.account_id,
                "passkey answer refused: its signature counter did not move forward \
                 (a cloned authenticator?)"
            );
        }
        refused(e)
    })?;
    if !result.user_verified() {
        return Err(PasskeyError::Refused(
            "user verification is required".into(),
        ));
    }
    // webauthn-rs refuses a counter that did not move forward (a cloned authenticator);
    // what remains is to keep the new counter and backup state.
    passkey.update_credential(&result);
    let usage = rows::DeviceUse {
        credential: to_json(&passkey)?,
        sign_count: i64::from(result.counter()),
        backup_eligible: result.backup_eligible(),
        backup_state: result.backup_state(),
        used_at: now,
    };
    let key = if result.backup_eligible() {
        "swk"
    } else {
        "hwk"
    };
    Ok(PasskeySignIn {
        account_id: device.account_id,
        device_id: device.device_id,
        amr: vec![key.into(), "user".into()],
        usage,
        flow_policy,
    })
}

/// The passkeys of an account, for the account page.
pub async fn list(store: &Store, account_id: Uuid) -> Result<Vec<DeviceRow>, StoreError> {
    store
        .run(move |conn| rows::devices_of(conn, account_id))
        .await
}
