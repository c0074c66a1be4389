//! The typed configuration: what every other crate reads (through `ActiveConfig`).
//! It is built from a checked tree ([`super::read_model`]) and written back to one
//! ([`super::write_model`]); nothing else in the program handles XML.

use std::time::Duration;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Configuration {
    /// The zone's default email provider.
    pub default_email_provider: Option<String>,
    /// Email providers by id, in document order.
    pub email_providers: Vec<EmailProvider>,
    /// Account managers by id.
    pub account_managers: Vec<AccountManager>,
    /// Id of the authentication profile (holding the authenticators).
    pub authentication_profile: Option<String>,
    /// Authenticators, in document order (the order users see in a selector).
    pub authenticators: Vec<Authenticator>,
    /// Id of the token-service profile (holding the clients).
    pub token_profile: Option<String>,
    /// The authentication profile the token profile names as its own (Curity's
    /// `authorization-server/authentication-service/authentication-profile`).
    pub token_authentication_profile: Option<String>,
    /// Issuer-wide token settings.
    pub token_settings: TokenSettings,
    /// The capabilities the token profile switches on (`client-capabilities`); `None` allows
    /// every capability Tessera has.
    pub profile_capabilities: Option<Capabilities>,
    /// Scopes the token profile defines, with the claims each releases.
    pub scopes: Vec<ScopeDefinition>,
    /// Claims the token profile defines (their values come from the account).
    pub claims: Vec<ClaimDefinition>,
    /// OAuth clients, in document order.
    pub clients: Vec<Client>,
}

/// How to reach an SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailProvider {
    /// Id.
    pub id: String,
    /// Free text.
    pub description: Option<String>,
    /// SMTP settings.
    pub smtp: Smtp,
}

/// SMTP settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smtp {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// `From` address.
    pub default_sender: String,
    /// Login user, if the server needs one.
    pub username: Option<String>,
    /// Login password, sealed under the key-encryption key.
    pub sealed_password: Option<String>,
    /// The operator accepts `none` or `opportunistic` to a host that is not on loopback
    /// (`<allow-insecure-transport>true</allow-insecure-transport>`).
    pub allow_insecure_transport: bool,
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: the password and every code in clear (loopback, or allowed explicitly).
    None,
    /// STARTTLS when the server offers it: anyone on the path can strip it (loopback, or
    /// allowed explicitly).
    Opportunistic,
    /// STARTTLS required (the default, except on port 465).
    StartTls,
    /// TLS from the first byte (the default on port 465).
    Tls,
}

impl SmtpTls {
    /// What an SMTP block without `<tls>` gets: TLS on port 465 (SMTPS), required STARTTLS on
    /// any other.
    pub fn default_for_port(port: u16) -> Self {
        if port == 465 {
            SmtpTls::Tls
        } else {
            SmtpTls::StartTls
        }
    }

    /// True when the connection may carry the password and codes in clear.
    pub fn is_insecure(self) -> bool {
        matches!(self, SmtpTls::None | SmtpTls::Opportunistic)
    }

    /// The XML value.
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::Opportunistic => "opportunistic",
            SmtpTls::StartTls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }

    /// Parses the XML value.
    pub fn parse(value: &str) -> Option<Self> {
        [
            SmtpTls::None,
            SmtpTls::Opportunistic,
            SmtpTls::StartTls,
            SmtpTls::Tls,
        ]
        .into_iter()
        .find(|t| t.as_str() == value)
    }
}

/// Where accounts live and how they are identified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountManager {
    /// Id.
    pub id: String,
    /// Free text.
    pub description: Option<String>,
    /// Name of the data source (informational: accounts are always in Tessera's database).
    pub account_data_source: Option<String>,
    /// Usernames are email addresses.
    pub username_is_email: bool,
    /// People may create their own accounts (`<enable-registration>`). The email address is
    /// always verified before the account exists.
    pub enable_registration: bool,
}

/// One authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticator {
    /// Id (what clients list in `allowed-authenticators`).
    pub id: String,
    /// Free text.
    pub description: Option<String>,
    /// Authenticator a user must pass before registering with this one (passkeys).
    pub required_for_registration: Option<String>,
    /// Type and type-specific settings.
    pub kind: AuthenticatorKind,
}

/// The type of an authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticatorKind {
    /// Username and password.
    HtmlForm(HtmlForm),
    /// WebAuthn passkeys.
    Passkeys(Passkeys),
    /// Email one-time code or link.
    Email(Email),
    /// Identifier-first username step.
    Username(Username),
}

impl AuthenticatorKind {
    /// The XML element name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthenticatorKind::HtmlForm(_) => "html-form",
            AuthenticatorKind::Passkeys(_) => "passkeys",
            AuthenticatorKind::Email(_) => "email",
            AuthenticatorKind::Username(_) => "username",
        }
    }

    /// The account manager it uses, if any.
    pub fn account_manager(&self) -> Option<&str> {
        match self {
            AuthenticatorKind::HtmlForm(a) => a.account_manager.as_deref(),
            AuthenticatorKind::Passkeys(a) => a.account_manager.as_deref(),
            AuthenticatorKind::Email(a) => a.account_manager.as_deref(),
            AuthenticatorKind::Username(_) => None,
        }
    }
}

/// html-form settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HtmlForm {
    /// Account manager id.
    pub account_manager: Option<String>,
    /// Credential manager id (informational).
    pub credential_manager: Option<String>,
    /// Only the password form, no registration link.
    pub password_only: bool,
}

/// passkeys settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkeys {
    /// Account manager id.
    pub account_manager: Option<String>,
    /// Users may register a passkey while signing in.
    pub allow_registration_during_login: bool,
    /// Sign in without a username (discoverable credentials, autofill).
    pub enable_discoverable_credentials: bool,
    /// Ask the user to name each passkey.
    pub require_user_to_set_alias: bool,
    /// Account attribute shown as the passkey's display name.
    pub user_display_name_attribute: String,
}

impl Default for Passkeys {
    fn default() -> Self {
        Passkeys {
            account_manager: None,
            allow_registration_during_login: true,
            enable_discoverable_credentials: false,
            require_user_to_set_alias: false,
            user_display_name_attribute: "subject".into(),
        }
    }
}

/// How an email authenticator proves ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailDelivery {
    /// A code the user types (`send-otp-as-code`).
    Code,
    /// A link the user opens (default when `send-otp-as-code` is absent).
    Link,
}

/// email settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Account manager id.
    pub account_manager: Option<String>,
    /// Code or link.
    pub delivery: EmailDelivery,
    /// Provider override (else the zone default).
    pub email_provider: Option<String>,
    /// Challenges sent per sign-in (0 = unlimited).
    pub max_challenges_sent: u32,
    /// Wrong tries per challenge (0 = unlimited).
    pub max_allowed_attempts: u32,
    /// How long a code or link stays valid.
    pub otp_lifetime: Duration,
    /// Accept accounts that are not active.
    pub allow_inactive_accounts: bool,
}

impl Default for Email {
    fn default() -> Self {
        Email {
            account_manager: None,
            delivery: EmailDelivery::Link,
            email_provider: None,
            max_challenges_sent: 3,
            max_allowed_attempts: 3,
            otp_lifetime: Duration::from_secs(300),
            allow_inactive_accounts: false,
        }
    }
}

/// username settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    /// Skip the form when a username is remembered or hinted.
    pub auto_submit_preferred_user_name: bool,
    /// Remember the username in a cookie.
    pub remember_username: bool,
}

impl Default for Username {
    fn default() -> Self {
        Username {
            auto_submit_preferred_user_name: false,
            remember_username: true,
        }
    }
}

/// Token lifetimes; at the profile level every value is set, per client they override.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetimes {
    /// Authorization code.
    pub authorization_code: Option<Duration>,
    /// Access token.
    pub access_token: Option<Duration>,
    /// ID token.
    pub id_token: Option<Duration>,
    /// Refresh token idle lifetime.
    pub refresh_token: Option<Duration>,
    /// Refresh token absolute lifetime (the whole rotation family).
    pub refresh_token_max_rolling_lifetime: Option<Duration>,
}

/// Issuer-wide token settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    /// Lifetimes explicitly configured at the profile level.
    pub lifetimes: Lifetimes,
    /// Pairwise subjects for every client unless it says otherwise.
    pub require_pairwise_subject_identifiers: bool,
    /// Publish the discovery document (`openid-connect/expose-metadata`).
    pub expose_metadata: bool,
}

impl Default for TokenSettings {
    fn default() -> Self {
        TokenSettings {
            lifetimes: Lifetimes::default(),
            require_pairwise_subject_identifiers: false,
            expose_metadata: true,
        }
    }
}

/// A scope the token profile defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDefinition {
    /// The scope value.
    pub id: String,
    /// Free text.
    pub description: Option<String>,
    /// Claims a token or userinfo answer for this scope carries (when the account has them).
    pub claims: Vec<String>,
}

/// A claim the token profile defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimDefinition {
    /// The claim name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
}

impl TokenSettings {
    /// Default authorization code lifetime (RFC 9700: short).
    pub const CODE: Duration = Duration::from_secs(60);
    /// Default access token lifetime.
    pub const ACCESS: Duration = Duration::from_secs(300);
    /// Default ID token lifetime.
    pub const ID: Duration = Duration::from_secs(300);
    /// Default refresh token idle lifetime.
    pub const REFRESH: Duration = Duration::from_secs(8 * 3600);
    /// Default refresh family absolute lifetime.
    pub const REFRESH_MAX: Duration = Duration::from_secs(30 * 24 * 3600);
}

/// Which capabilities a client has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Authorization code flow.
    pub code: bool,
    /// Client credentials grant.
    pub client_credentials: bool,
    /// May introspect tokens (RFC 7662).
    pub introspection: bool,
    /// Refresh tokens with the code flow: Curity's rule, on unless the client's
    /// `refresh-token-ttl` is `disabled`.
    pub refresh: bool,
}

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// Public client (SPA, native app): no secret, PKCE mandatory.
    None,
    /// Confidential client with a shared secret, stored as a digest.
    SecretDigest(String),
    /// Confidential client whose shared secret came as another system stored it: a password
    /// hash (SHA-crypt `$5$`/`$6$`, as Curity exports client secrets, or bcrypt, PBKDF2,
    /// argon2id), checked with its own scheme (`crypto::legacy`).
    SecretHash(String),
    /// Confidential client authenticating with signed assertions (`private_key_jwt`,
    /// RFC 7523) verified against these public keys (a JWKS document).
    PrivateKeyJwt(String),
    /// `private_key_jwt` with the public keys published by the client at this URI (Curity's
    /// `<jwks-uri>`), fetched by the server when it needs them.
    PrivateKeyJwtUri(String),
}

/// ID token signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdTokenAlgorithm {
    /// RS256 (the OpenID Connect default).
    #[default]
    Rs256,
    /// ES256.
    Es256,
}

impl IdTokenAlgorithm {
    /// JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdTokenAlgorithm::Rs256 => "RS256",
            IdTokenAlgorithm::Es256 => "ES256",
        }
    }
}

/// An OAuth client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// client_id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Free text.
    pub description: Option<String>,
    /// Public or confidential.
    pub authentication: ClientAuthentication,
    /// Registered redirect URIs (exact match, RFC 8252 loopback port exception).
    pub redirect_uris: Vec<String>,
    /// Registered post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Origins allowed to call the token endpoint from a browser (CORS).
    pub allowed_origins: Vec<String>,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    /// Access token audiences.
    pub audience: Vec<String>,
    /// Grants.
    pub capabilities: Capabilities,
    /// PKCE required (always true for public clients).
    pub require_pkce: bool,
    /// Authenticators the client allows; empty means all.
    pub allowed_authenticators: Vec<String>,
    /// Pairwise subjects with this sector identifier.
    pub sector_identifier: Option<String>,
    /// Lifetime overrides.
    pub lifetimes: Lifetimes,
    /// ID token algorithm.
    pub id_token_algorithm: IdTokenAlgorithm,
    /// Match the port of loopback redirect URIs too (RFC 8252 says not to).
    pub validate_port_on_loopback: bool,
}

impl Client {
    /// True for a public client.
    pub fn is_public(&self) -> bool {
        self.authentication == ClientAuthentication::None
    }
}

impl Configuration {
    /// The authenticator with `id`.
    pub fn authenticator(&self, id: &str) -> Option<&Authenticator> {
        self.authenticators.iter().find(|a| a.id == id)
    }

    /// The client with `id`.
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The claims a set of granted scopes releases: for a scope the profile defines, its
    /// claims; for a standard OpenID Connect scope it does not define, the standard ones
    /// (OpenID Connect Core §5.4).
    pub fn claims_for<'a>(&'a self, scopes: &'a [String]) -> Vec<&'a str> {
        let mut claims: Vec<&str> = Vec::new();
        for scope in scopes {
            let released: Vec<&str> = match self.scopes.iter().find(|s| &s.id == scope) {
                Some(defined) => defined.claims.iter().map(String::as_str).collect(),
                None => standard_claims(scope).to_vec(),
            };
            for claim in released {
                if !claims.contains(&claim) {
                    claims.push(claim);
                }
            }
        }
        claims
    }

    /// The authenticators a client may use, in configuration order (all when it lists none).
    pub fn allowed_authenticators<'a>(&'a self, client: &'a Client) -> Vec<&'a Authenticator> {
        if client.allowed_authenticators.is_empty() {
            self.authenticators.iter().collect()
        } else {
            client
                .allowed_authenticators
                .iter()
                .filter_map(|id| self.authenticator(id))
                .collect()
        }
    }
}

/// The claims of a standard OpenID Connect scope (OpenID Connect Core §5.4), and Tessera's
/// `groups`.
pub fn standard_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        "groups" => &["groups"],
        _ => &[],
    }
}
