//! What the token service's handlers share through `web::Data`: the issuer, keys, the live
//! configuration, the store, and how to find and limit the client.

use std::sync::Arc;

use crate::Issuer;
use crate::discovery::ProviderMetadata;
use crate::keys::SigningKeys;

/// What the token service's handlers need, shared through `web::Data`.
pub struct OAuthState {
    /// The issuer.
    pub issuer: Issuer,
    /// Pre-serialised metadata document (it only changes with the issuer).
    pub(crate) metadata_json: String,
    /// The live signing keys.
    pub keys: Arc<SigningKeys>,
    /// The live configuration (clients).
    pub config: Arc<tessera_admin::ActiveConfig>,
    /// Client secret verification.
    pub secrets: tessera_admin::secrets::ConfigSecrets,
    /// Database (codes, flows, sessions).
    pub store: tessera_store::Store,
    /// Subject derivation.
    pub subjects: crate::subject::Subjects,
    /// Mark cookies `Secure`.
    pub secure_cookies: bool,
    /// The operator's reverse proxies, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Sign-ins one client address may start per window.
    pub sign_ins_per_address: u32,
    /// Key sets clients publish at a URI, for `private_key_jwt`.
    pub remote_jwks: Arc<crate::remote_jwks::RemoteJwks>,
}

impl OAuthState {
    /// Builds the state for `issuer`.
    pub fn new(
        issuer: Issuer,
        keys: Arc<SigningKeys>,
        config: Arc<tessera_admin::ActiveConfig>,
        secrets: tessera_admin::secrets::ConfigSecrets,
        store: tessera_store::Store,
    ) -> Result<Self, String> {
        let metadata_json = serde_json::to_string(&ProviderMetadata::for_issuer(&issuer))
            .map_err(|e| e.to_string())?;
        let subjects = crate::subject::Subjects::new(&secrets).map_err(|e| e.to_string())?;
        Ok(OAuthState {
            secure_cookies: issuer.is_https(),
            issuer,
            metadata_json,
            keys,
            config,
            secrets,
            store,
            subjects,
            trusted_proxies: Vec::new(),
            sign_ins_per_address: tessera_authn::flow::FLOWS_PER_ADDRESS,
            remote_jwks: Arc::new(crate::remote_jwks::RemoteJwks::new()?),
        })
    }

    /// Finds the client's address behind `trusted_proxies` (their `X-Forwarded-For`), and
    /// lets each address start `sign_ins_per_address` sign-ins per window.
    pub fn with_client_limits(
        self,
        trusted_proxies: Vec<ipnet::IpNet>,
        sign_ins_per_address: u32,
    ) -> Self {
        OAuthState {
            trusted_proxies,
            sign_ins_per_address,
            ..self
        }
    }
}
