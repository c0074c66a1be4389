//! What the admin pages ask of the side that sends mail. Mail belongs to `authn`, which sits
//! above this crate, so the admin pages hold this trait and the server plugs `authn`'s
//! implementation in.

use std::future::Future;
use std::pin::Pin;

/// A pending send.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Mails an account's owner the way back in.
pub trait RecoveryMail: Send + Sync {
    /// Mails `to` (the address of the account `username`) how to get back in: the recovery
    /// path a user would start themselves ("lost your passkey?"), which proves the address
    /// with a code or link before anything changes. The mail itself carries no secret.
    fn send<'a>(&'a self, to: &'a str, username: &'a str) -> Sending<'a>;
}
