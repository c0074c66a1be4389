//! The WebAuthn relying party of one issuer: what it asks authenticators for, and how it checks
//! their answers.
//!
//! webauthn-rs's `Webauthn` registers passkeys with its fixed list of algorithms, ES256 and
//! RS256. Tessera also accepts Ed25519 (EdDSA), which security keys prefer when they may, so
//! registration goes through webauthn-rs-core with the policy `Webauthn` itself uses for
//! passkeys (user verification required, no attestation, credProtect) and [`ALGORITHMS`].
//! Authentication does not depend on the list and stays with `Webauthn`.

use std::time::Duration;

use webauthn_rs::prelude::{
    COSEAlgorithm, CreationChallengeResponse, CredentialID, Passkey, RegisterPublicKeyCredential,
    Url, Webauthn, WebauthnBuilder, WebauthnError,
};
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, CredProtect, CredentialProtectionPolicy, RegistrationState,
    RequestRegistrationExtensions, UserVerificationPolicy,
};

/// The signature algorithms a new passkey may use, in the order the authenticator is asked to
/// prefer them: ES256 first (every platform authenticator has it, and it is the cheapest to
/// verify), then EdDSA, then RS256 (Windows Hello).
pub const ALGORITHMS: [COSEAlgorithm; 3] = [
    COSEAlgorithm::ES256,
    COSEAlgorithm::EDDSA,
    COSEAlgorithm::RS256,
];

/// One relying party: its RP ID, its one origin and the ceremony timeout.
pub(crate) struct RelyingParty {
    /// Authentication ceremonies.
    pub(crate) webauthn: Webauthn,
    /// Registration ceremonies, with [`ALGORITHMS`].
    registrar: WebauthnCore,
}

impl RelyingParty {
    pub(crate) fn new(
        rp_id: &str,
        origin: &Url,
        rp_name: &str,
        timeout: Duration,
    ) -> Result<Self, WebauthnError> {
        // The builder checks that the RP ID is the origin's domain or a parent of it.
        let webauthn = WebauthnBuilder::new(rp_id, origin)?
            .rp_name(rp_name)
            .timeout(timeout)
            .build()?;
        let registrar = WebauthnCore::new_unsafe_experts_only(
            rp_name,
            rp_id,
            vec![origin.clone()],
            timeout,
            Some(false),
            Some(false),
        );
        Ok(RelyingParty {
            webauthn,
            registrar,
        })
    }

    /// Options for `navigator.credentials.create()` and the relying party's half of the
    /// ceremony, as `Webauthn::start_passkey_registration` makes them but with [`ALGORITHMS`].
    pub(crate) fn start_registration(
        &self,
        user_id: uuid::Uuid,
        user_name: &str,
        display_name: &str,
        exclude: Option<Vec<CredentialID>>,
    ) -> Result<(CreationChallengeResponse, RegistrationState), WebauthnError> {
        let extensions = RequestRegistrationExtensions {
            // Enforced by authenticators that know it; not demanded, because many that do not
            // would fail the registration instead of ignoring it.
            cred_protect: Some(CredProtect {
                credential_protection_policy: CredentialProtectionPolicy::UserVerificationRequired,
                enforce_credential_protection_policy: Some(false),
            }),
            uvm: Some(true),
            cred_props: Some(true),
            min_pin_length: None,
            hmac_create_secret: None,
        };
        let builder = self
            .registrar
            .new_challenge_register_builder(user_id.as_bytes(), user_name, display_name)?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(ALGORITHMS.to_vec())
            .require_resident_key(false)
            .authenticator_attachment(None)
            .user_verification_policy(UserVerificationPolicy::Required)
            .reject_synchronised_authenticators(false)
            .exclude_credentials(exclude)
            .hints(None)
            .extensions(Some(extensions));
        self.registrar.generate_challenge_register(builder)
    }

    /// Verifies a registration answer against its ceremony: challenge, origin, RP ID, user
    /// verification, and a public key of one of [`ALGORITHMS`].
    pub(crate) fn finish_registration(
        &self,
        response: &RegisterPublicKeyCredential,
        state: &RegistrationState,
    ) -> Result<Passkey, WebauthnError> {
        self.registrar
            .register_credential(response, state, None)
            .map(Passkey::from)
    }
}
