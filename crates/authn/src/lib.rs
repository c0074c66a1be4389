//! Tessera's authentication service: the flow engine (identifier-first → selector →
//! authenticator → optional enrolment), the authenticators (password, email one-time code and
//! link, passkeys), accounts and devices, sign-up, recovery and rate limits, and the login pages.
//!
//! It is asked to authenticate a browser under a policy and answers with an authentication
//! (`account_id`, `amr`, `acr`, `auth_time`). It knows nothing of OAuth and never signs a token.

pub mod aaguid;
pub mod accounts;
pub mod email;
pub mod flow;
pub mod guesses;
pub mod http;
pub mod limits;
pub mod passkeys;
pub mod recovery_mail;
pub mod relying_party;
pub mod signin;
