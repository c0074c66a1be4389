//! What a sign-in may offer: computed in one place from the client's policy, the live
//! configuration and what this server can do (passkeys need a domain, mail needs a provider),
//! so that every page and every step asks the same question and gets the same answer. Steps
//! ask again when a form is posted: an operator's commit applies to flows already under way.

use tessera_admin::Snapshot;
use tessera_admin::config::model::{AuthenticatorKind, EmailDelivery, EmailProvider, Username};

use crate::email::CodeRules;
use crate::flow::{self, Policy};

/// What this server can do whatever the configuration says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// It is a WebAuthn relying party (its issuer has a domain).
    pub passkeys: bool,
    /// How mail leaves it, if at all.
    pub mail: MailRoute,
}

/// How mail leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRoute {
    /// No mail can be sent (no key to open SMTP passwords).
    None,
    /// Through each email authenticator's configured SMTP provider.
    Smtp,
    /// Development: into a drop folder, whatever the configuration says.
    DropFolder,
}

/// An email authenticator with the way its mail goes out.
#[derive(Debug, Clone, Copy)]
pub struct Mailer<'a> {
    /// The authenticator's id.
    pub id: &'a str,
    /// Its rules (code or link, tries, lifetime).
    pub rules: CodeRules,
    /// Where its mail goes out.
    pub via: Via<'a>,
}

impl Mailer<'_> {
    /// True when it mails links rather than codes.
    pub fn sends_links(&self) -> bool {
        self.rules.delivery == EmailDelivery::Link
    }

    /// The same mailer, sending links instead of codes when `linked` (an account whose wrong
    /// codes reached the bound gets a link).
    pub fn linked(self, linked: bool) -> Self {
        if linked {
            Mailer {
                rules: CodeRules {
                    delivery: EmailDelivery::Link,
                    ..self.rules
                },
                ..self
            }
        } else {
            self
        }
    }
}

/// How one mail goes out.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// Through this SMTP provider.
    Smtp(&'a EmailProvider),
    /// Into the development drop folder.
    DropFolder,
}

/// A passkeys authenticator registered after an emailed code proves the account.
#[derive(Debug, Clone, Copy)]
pub struct EmailEnrolment<'a> {
    /// The passkeys authenticator (the sign-in completes with it).
    pub passkeys: &'a str,
    /// The email authenticator that proves the account.
    pub email: Mailer<'a>,
    /// Its account manager lets people create their own accounts.
    pub sign_up: bool,
}

/// Everything a sign-in under a policy may offer.
#[derive(Debug, Clone)]
pub struct Offers<'a> {
    /// The first password (html-form) authenticator.
    pub password: Option<&'a str>,
    /// Identifier-first: the username is asked alone first.
    pub username_first: Option<&'a Username>,
    /// Signing in with a discoverable passkey, through this authenticator.
    pub passkey_sign_in: Option<&'a str>,
    /// Any passkeys authenticator at all (an identified account's passkeys).
    pub passkeys: Option<&'a str>,
    /// Creating a passkey right after a password, through this authenticator.
    pub passkey_after_password: Option<&'a str>,
    /// Creating a passkey after an emailed code (enrolment, recovery, passkey sign-up).
    pub passkey_by_email: Option<EmailEnrolment<'a>>,
    /// Signing in with an emailed code or link.
    pub email_sign_in: Option<Mailer<'a>>,
    /// Signing up with a password: its authenticator and the one that verifies the address.
    pub password_sign_up: Option<(&'a str, Mailer<'a>)>,
}

/// How someone without a passkey proves who they are before creating one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prerequisite {
    /// The password form (then the ceremony).
    Password,
    /// A code or link mailed to the account's address (then the ceremony).
    Email,
}

impl<'a> Offers<'a> {
    /// What `policy` offers under `snapshot` on a server that `can` do this much.
    pub fn of(policy: &Policy, snapshot: &'a Snapshot, can: Capabilities) -> Self {
        let passwords = flow::password_authenticators(policy, snapshot);
        let passkeys = if can.passkeys {
            flow::passkey_authenticators(policy, snapshot)
        } else {
            Vec::new()
        };
        let mailer = |id: &'a str| mailer(snapshot, id, can.mail);
        Offers {
            password: passwords.first().copied(),
            username_first: flow::username_authenticator(policy, snapshot),
            passkey_sign_in: passkeys
                .iter()
                .find(|(_, p, _)| p.enable_discoverable_credentials)
                .map(|(id, _, _)| *id),
            passkeys: passkeys.first().map(|(id, _, _)| *id),
            // Registering while signing in needs the prerequisite the authenticator names to
            // be a password this policy allows (or none named).
            passkey_after_password: passkeys
                .iter()
                .find(|(_, p, required)| {
                    p.allow_registration_during_login
                        && required.is_none_or(|r| passwords.contains(&r))
                })
                .map(|(id, _, _)| *id),
            passkey_by_email: passkeys
                .iter()
                .filter(|(_, p, _)| p.allow_registration_during_login)
                .find_map(|&(id, p, required)| {
                    Some(EmailEnrolment {
                        passkeys: id,
                        email: mailer(required?)?,
                        sign_up: registration_enabled(snapshot, p.account_manager.as_deref()),
                    })
                }),
            email_sign_in: email_authenticators(snapshot)
                .filter(|id| flow::allows(policy, snapshot, id))
                .find_map(mailer),
            password_sign_up: password_sign_up(policy, snapshot, can.mail),
        }
    }

    /// Creating an account here, with a passkey or a password.
    pub fn sign_up(&self) -> bool {
        self.passkey_sign_up().is_some() || self.password_sign_up.is_some()
    }

    /// Signing up with a passkey: the enrolment whose account manager allows it.
    pub fn passkey_sign_up(&self) -> Option<EmailEnrolment<'a>> {
        self.passkey_by_email.filter(|e| e.sign_up)
    }

    /// The mailer a sign-up's "check your email" page speaks of.
    pub fn sign_up_mailer(&self) -> Option<Mailer<'a>> {
        self.passkey_sign_up()
            .map(|e| e.email)
            .or(self.password_sign_up.map(|(_, m)| m))
    }

    /// How someone without a passkey would prove who they are before creating one.
    pub fn prerequisite(&self) -> Option<Prerequisite> {
        if self.passkey_after_password.is_some() {
            Some(Prerequisite::Password)
        } else if self.passkey_by_email.is_some() {
            Some(Prerequisite::Email)
        } else {
            None
        }
    }

    /// The ways the identifier-first selector offers, as (value, label).
    pub fn methods(&self) -> Vec<(&'static str, &'static str)> {
        let mut methods = Vec::new();
        if self.prerequisite().is_some() {
            methods.push(("passkey", "Passkey"));
        }
        if self.password.is_some() {
            methods.push(("password", "Password"));
        }
        if let Some(mailer) = self.email_sign_in {
            methods.push(if mailer.sends_links() {
                ("email", "Email link")
            } else {
                ("email", "Email code")
            });
        }
        methods
    }
}

fn email_authenticators(snapshot: &Snapshot) -> impl Iterator<Item = &str> {
    snapshot
        .config
        .authenticators
        .iter()
        .filter(|a| matches!(a.kind, AuthenticatorKind::Email(_)))
        .map(|a| a.id.as_str())
}

fn registration_enabled(snapshot: &Snapshot, manager: Option<&str>) -> bool {
    manager.is_some_and(|manager| {
        snapshot
            .config
            .account_managers
            .iter()
            .any(|m| m.id == manager && m.enable_registration)
    })
}

/// The email authenticator `id` with its provider (its own, else the zone default), or the
/// development drop folder whenever one is set.
fn mailer<'a>(snapshot: &'a Snapshot, id: &'a str, route: MailRoute) -> Option<Mailer<'a>> {
    let config = &snapshot.config;
    let AuthenticatorKind::Email(mail) = &config.authenticator(id)?.kind else {
        return None;
    };
    let provider = mail
        .email_provider
        .as_deref()
        .or(config.default_email_provider.as_deref())
        .and_then(|provider_id| config.email_providers.iter().find(|p| p.id == provider_id));
    let via = match (route, provider) {
        (MailRoute::None, _) => return None,
        (MailRoute::DropFolder, _) => Via::DropFolder,
        (MailRoute::Smtp, Some(provider)) => Via::Smtp(provider),
        (MailRoute::Smtp, None) => return None,
    };
    Some(Mailer {
        id,
        rules: CodeRules {
            max_sends: mail.max_challenges_sent,
            max_attempts: mail.max_allowed_attempts,
            lifetime: mail.otp_lifetime,
            delivery: mail.delivery,
        },
        via,
    })
}

/// Password sign-up, when the policy allows an html-form authenticator whose account manager
/// enables registration and an email authenticator can verify the address.
fn password_sign_up<'a>(
    policy: &Policy,
    snapshot: &'a Snapshot,
    route: MailRoute,
) -> Option<(&'a str, Mailer<'a>)> {
    let password = snapshot.config.authenticators.iter().find(|a| {
        let AuthenticatorKind::HtmlForm(form) = &a.kind else {
            return false;
        };
        flow::allows(policy, snapshot, &a.id)
            && registration_enabled(snapshot, form.account_manager.as_deref())
    })?;
    let verifier = email_authenticators(snapshot).find_map(|id| mailer(snapshot, id, route))?;
    Some((password.id.as_str(), verifier))
}

#[cfg(test)]
mod tests {
    use tessera_admin::config::{self, UploadMode};
    use tessera_admin::secrets::ConfigSecrets;

    use super::*;

    const BASE: &str = include_str!("../../../../config/base.xml");
    const MIGRATE: &str = include_str!("../../../../config/migrate-to-passkeys.xml");
    const IDENTIFIER_FIRST: &str = include_str!("../../../../config/identifier-first.xml");

    /// The base configuration with the shipped fragments merged on top, as an operator would.
    fn snapshot(fragments: &[&str]) -> Snapshot {
        let secrets = ConfigSecrets::ephemeral().unwrap();
        let mut config = config::parse(BASE, &secrets).unwrap();
        for fragment in fragments {
            config =
                config::apply(&config, fragment.as_bytes(), UploadMode::Merge, &secrets).unwrap();
        }
        Snapshot::new(1, config)
    }

    const EVERYTHING: Capabilities = Capabilities {
        passkeys: true,
        mail: MailRoute::Smtp,
    };

    #[test]
    fn the_base_configuration_offers_a_password_and_nothing_else() {
        let snapshot = snapshot(&[]);
        let offers = Offers::of(&Policy::default(), &snapshot, EVERYTHING);
        assert_eq!(offers.password, Some("html-form"));
        assert!(offers.passkeys.is_none() && offers.email_sign_in.is_none());
        assert!(offers.username_first.is_none());
        assert_eq!(offers.prerequisite(), None);
        assert_eq!(offers.methods(), [("password", "Password")]);
    }

    #[test]
    fn migrating_to_passkeys_offers_discoverable_sign_in_and_a_passkey_after_the_password() {
        let snapshot = snapshot(&[MIGRATE]);
        let offers = Offers::of(&Policy::default(), &snapshot, EVERYTHING);
        assert_eq!(offers.passkey_sign_in, Some("passkeys"));
        assert_eq!(offers.passkey_after_password, Some("passkeys"));
        assert_eq!(offers.prerequisite(), Some(Prerequisite::Password));
        assert_eq!(
            offers.methods(),
            [("passkey", "Passkey"), ("password", "Password")]
        );
    }

    #[test]
    fn a_server_without_a_relying_party_offers_no_passkeys_whatever_the_configuration() {
        let snapshot = snapshot(&[MIGRATE]);
        let no_domain = Capabilities {
            passkeys: false,
            ..EVERYTHING
        };
        let offers = Offers::of(&Policy::default(), &snapshot, no_domain);
        assert!(offers.passkeys.is_none() && offers.passkey_sign_in.is_none());
        assert_eq!(offers.prerequisite(), None);
        assert_eq!(offers.password, Some("html-form"));
    }

    #[test]
    fn a_policy_limited_to_some_authenticators_offers_only_those() {
        let snapshot = snapshot(&[MIGRATE]);
        let passkeys_only = Policy {
            allowed: vec!["passkeys".into()],
            ..Policy::default()
        };
        let offers = Offers::of(&passkeys_only, &snapshot, EVERYTHING);
        assert_eq!(offers.password, None);
        assert_eq!(offers.passkey_sign_in, Some("passkeys"));
        // Its registration needs the password, which this policy does not allow.
        assert_eq!(offers.passkey_after_password, None);
        let unknown_client = Policy {
            client_id: Some("deleted-meanwhile".into()),
            ..Policy::default()
        };
        let offers = Offers::of(&unknown_client, &snapshot, EVERYTHING);
        assert!(offers.password.is_none() && offers.passkeys.is_none());
    }

    #[test]
    fn identifier_first_asks_for_the_username_alone_first() {
        let snapshot = snapshot(&[IDENTIFIER_FIRST]);
        let offers = Offers::of(&Policy::default(), &snapshot, EVERYTHING);
        assert!(offers.username_first.is_some_and(|u| u.remember_username));
        assert!(offers.methods().contains(&("password", "Password")));
    }
}
