//! Authorization-server metadata (OpenID Connect Discovery 1.0 and RFC 8414).
//!
//! One document serves both well-known locations. It advertises the whole protocol surface of
//! the token service; the field names follow the specifications and are checked in tests
//! against the `openidconnect` crate's `CoreProviderMetadata`.

use serde::Serialize;

use crate::Issuer;

/// Paths of the protocol endpoints, relative to the issuer.
pub mod paths {
    /// OpenID Connect Discovery document.
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
    /// RFC 8414 metadata document.
    pub const OAUTH_AUTHORIZATION_SERVER: &str = "/.well-known/oauth-authorization-server";
    /// Authorization endpoint.
    pub const AUTHORIZE: &str = "/oauth/authorize";
    /// Token endpoint.
    pub const TOKEN: &str = "/oauth/token";
    /// UserInfo endpoint.
    pub const USERINFO: &str = "/oauth/userinfo";
    /// JSON Web Key Set.
    pub const JWKS: &str = "/oauth/jwks";
    /// Token revocation (RFC 7009).
    pub const REVOKE: &str = "/oauth/revoke";
    /// Token introspection (RFC 7662).
    pub const INTROSPECT: &str = "/oauth/introspect";
    /// RP-initiated logout.
    pub const LOGOUT: &str = "/oauth/logout";
}

/// The metadata document.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderMetadata {
    /// Issuer identifier.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// UserInfo endpoint.
    pub userinfo_endpoint: String,
    /// JWKS location.
    pub jwks_uri: String,
    /// RP-initiated logout endpoint.
    pub end_session_endpoint: String,
    /// Revocation endpoint.
    pub revocation_endpoint: String,
    /// Introspection endpoint.
    pub introspection_endpoint: String,
    /// Scopes understood.
    pub scopes_supported: Vec<&'static str>,
    /// Only the authorization code flow.
    pub response_types_supported: Vec<&'static str>,
    /// How authorization responses are returned.
    pub response_modes_supported: Vec<&'static str>,
    /// Grants the token endpoint accepts.
    pub grant_types_supported: Vec<&'static str>,
    /// Subject identifier types.
    pub subject_types_supported: Vec<&'static str>,
    /// ID token signature algorithms.
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    /// Client authentication at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Algorithms accepted for `private_key_jwt` client assertions.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<&'static str>,
    /// Client authentication at the revocation endpoint.
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// Client authentication at the introspection endpoint.
    pub introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    /// PKCE methods: S256 only (RFC 9700 §2.1.1).
    pub code_challenge_methods_supported: Vec<&'static str>,
    /// Claims that may appear in ID tokens and UserInfo.
    pub claims_supported: Vec<&'static str>,
    /// `prompt` values understood.
    pub prompt_values_supported: Vec<&'static str>,
    /// RFC 9207: the authorization response carries `iss`.
    pub authorization_response_iss_parameter_supported: bool,
    /// The `claims` request parameter is not supported.
    pub claims_parameter_supported: bool,
    /// Request objects by value are not supported.
    pub request_parameter_supported: bool,
    /// Request objects by reference are not supported.
    pub request_uri_parameter_supported: bool,
    /// Access tokens are JWTs per RFC 9068; clients must not depend on it.
    pub access_token_signing_alg_values_supported: Vec<&'static str>,
}

impl ProviderMetadata {
    /// The document for `issuer`.
    pub fn for_issuer(issuer: &Issuer) -> Self {
        let client_auth = vec![
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ];
        ProviderMetadata {
            issuer: issuer.as_str().to_owned(),
            authorization_endpoint: issuer.endpoint(paths::AUTHORIZE),
            token_endpoint: issuer.endpoint(paths::TOKEN),
            userinfo_endpoint: issuer.endpoint(paths::USERINFO),
            jwks_uri: issuer.endpoint(paths::JWKS),
            end_session_endpoint: issuer.endpoint(paths::LOGOUT),
            revocation_endpoint: issuer.endpoint(paths::REVOKE),
            introspection_endpoint: issuer.endpoint(paths::INTROSPECT),
            scopes_supported: crate::scope::STANDARD_SCOPES.to_vec(),
            response_types_supported: vec!["code"],
            response_modes_supported: vec!["query", "form_post"],
            grant_types_supported: vec![
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ],
            subject_types_supported: vec!["public", "pairwise"],
            id_token_signing_alg_values_supported: vec!["RS256", "ES256"],
            token_endpoint_auth_methods_supported: client_auth.clone(),
            token_endpoint_auth_signing_alg_values_supported: vec!["RS256", "ES256"],
            revocation_endpoint_auth_methods_supported: client_auth,
            introspection_endpoint_auth_methods_supported: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            code_challenge_methods_supported: vec!["S256"],
            claims_supported: vec![
                "iss",
                "sub",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                "sid",
                "name",
                "given_name",
                "family_name",
                "preferred_username",
                "email",
                "email_verified",
                "phone_number",
                "phone_number_verified",
                "groups",
            ],
            prompt_values_supported: vec!["none", "login"],
            authorization_response_iss_parameter_supported: true,
            claims_parameter_supported: false,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            access_token_signing_alg_values_supported: vec!["ES256", "RS256"],
        }
    }
}
