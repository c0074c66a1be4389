//! Tessera's authentication service: the flow engine (identifier-first → selector →
//! authenticator → optional enrolment), the authenticators (password, email one-time code and
//! link, passkeys), accounts and devices, sign-up, recovery and rate limits, and the login pages.
//!
//! It is asked to authenticate a browser under a policy and answers with an authentication
//! (`account_id`, `amr`, `acr`, `auth_time`). It knows nothing of OAuth and never signs a token.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod aaguid;
pub mod accounts;
pub mod email;
pub mod flow;
pub mod guesses;
pub mod http;
pub mod limits;
pub mod passkeys;
pub mod password;
pub mod relying_party;

/// 256 random bits, base64url: cookie secrets, session ids.
pub fn random_token() -> Result<String, tessera_store::StoreError> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)
        .map_err(|e| tessera_store::StoreError::Task(format!("random: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
