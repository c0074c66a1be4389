//! Validating an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636,
//! RFC 9700). Errors that cannot be sent to a verified redirect URI (unknown client, bad
//! redirect URI) are shown to the user; every other error goes back to the client.

use tessera_admin::Snapshot;
use tessera_admin::config::model::Client;

use super::pkce::is_valid_challenge;
use super::redirect_uri::redirect_uri_matches;
use crate::params::Params;

/// Longest value accepted for any authorization parameter.
const MAX_PARAM_LEN: usize = 2048;

/// The longest value accepted for each parameter kept with a sign-in in progress: every
/// unauthenticated visitor can make the server store one, so each is as short as real
/// clients need (a `state` may carry an application's own data; a `nonce` is a random value;
/// a `login_hint` is a username or an email address).
const STORED_PARAM_LENS: [(&str, usize); 6] = [
    ("state", 2048),
    ("nonce", 512),
    ("scope", 1024),
    ("login_hint", 320),
    ("acr_values", 512),
    ("code_challenge", 128),
];

/// How the authorization response is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ResponseMode {
    /// In the redirect URI's query (default for `code`).
    Query,
    /// As an auto-submitted HTML form POST.
    FormPost,
}

/// The `prompt` parameter, as far as it changes what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Prompt {
    /// Default: use the SSO session if it satisfies the policy, else sign in.
    #[default]
    Default,
    /// Never show a page: answer from the session or `login_required`.
    None,
    /// Always authenticate afresh.
    Login,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuthorizationRequest {
    /// The client.
    pub client_id: String,
    /// The redirect URI as presented (it matched a registered one).
    pub redirect_uri: String,
    /// Delivery of the response.
    pub response_mode: ResponseMode,
    /// Echoed back.
    pub state: Option<String>,
    /// Bound into the ID token.
    pub nonce: Option<String>,
    /// The requested scopes the client is registered for (the others are dropped).
    pub scopes: Vec<String>,
    /// S256 code challenge (absent only for confidential clients that opted out).
    pub code_challenge: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// Pre-fills the username.
    pub login_hint: Option<String>,
    /// Requested ACR values.
    pub acr_values: Vec<String>,
}

impl AuthorizationRequest {
    /// True for an OpenID Connect request.
    pub fn is_openid(&self) -> bool {
        self.scopes.iter().any(|s| s == "openid")
    }
}

/// Why a request was refused, and where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// Shown to the user; never redirected (unknown client, unverified redirect URI).
    Page {
        /// What went wrong, for the user.
        message: String,
    },
    /// Sent back to the client's verified redirect URI.
    Redirect {
        /// Where.
        redirect_uri: String,
        /// How.
        response_mode: ResponseMode,
        /// RFC 6749 §4.1.2.1 error code.
        error: &'static str,
        /// Detail.
        description: String,
        /// The request's state.
        state: Option<String>,
    },
}

fn page(message: impl Into<String>) -> AuthorizeError {
    AuthorizeError::Page {
        message: message.into(),
    }
}

/// Finds the client and its redirect URI: errors here can only be shown to the user.
fn client_and_redirect<'a>(
    params: &Params,
    snapshot: &'a Snapshot,
) -> Result<(&'a Client, String), AuthorizeError> {
    let client_id = params
        .get("client_id")
        .ok_or_else(|| page("The request names no client (client_id is missing)."))?;
    if client_id.len() > MAX_PARAM_LEN {
        return Err(page("The client_id is too long."));
    }
    let client = snapshot
        .client(client_id)
        .ok_or_else(|| page("The application that sent you here is not registered."))?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) => uri.to_owned(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(page("The request names no redirect_uri.")),
    };
    let registered = client
        .redirect_uris
        .iter()
        .any(|r| redirect_uri_matches(r, &redirect_uri, client.validate_port_on_loopback));
    if !registered {
        return Err(page(
            "The address this application asked to return to is not registered for it.",
        ));
    }
    Ok((client, redirect_uri))
}

/// Validates the parameters of an authorization request against the client's configuration.
/// `params` must already have refused repeated parameters.
pub fn validate(
    params: &Params,
    snapshot: &Snapshot,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let (client, redirect_uri) = client_and_redirect(params, snapshot)?;
    let state = params.get("state").map(str::to_owned);
    let response_mode = match params.get("response_mode") {
        None | Some("query") => ResponseMode::Query,
        Some("form_post") => ResponseMode::FormPost,
        Some(_) => ResponseMode::Query,
    };
    let fail = |error: &'static str, description: String| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        response_mode,
        error,
        description,
        state: state.clone(),
    };
    if let Some((name, longest)) = STORED_PARAM_LENS
        .into_iter()
        .find(|(n, longest)| params.get(n).is_some_and(|v| v.len() > *longest))
    {
        return Err(fail(
            "invalid_request",
            format!("Parameter {name} is too long (at most {longest} bytes)."),
        ));
    }
    if let Some(mode) = params.get("response_mode")
        && !matches!(mode, "query" | "form_post")
    {
        return Err(fail(
            "invalid_request",
            format!("response_mode {mode:?} is not supported."),
        ));
    }
    if params.get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "Request objects are not supported.".into(),
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported.".into(),
        ));
    }
    match params.get("response_type") {
        None => return Err(fail("invalid_request", "response_type is missing.".into())),
        Some("code") => {}
        Some(other) => {
            return Err(fail(
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code."),
            ));
        }
    }
    if !client.capabilities.code {
        return Err(fail(
            "unauthorized_client",
            "This client may not use the authorization code flow.".into(),
        ));
    }
    let requested = params
        .get("scope")
        .ok_or_else(|| fail("invalid_request", "scope is missing.".into()))?;
    let scopes = crate::scope::grant(requested, &client.scopes)
        .map_err(|refusal| fail("invalid_scope", refusal.description().into()))?;
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (Some(challenge), Some("S256")) if is_valid_challenge(challenge) => {
            Some(challenge.to_owned())
        }
        (Some(_), Some("S256")) => {
            return Err(fail(
                "invalid_request",
                "code_challenge is not a valid S256 challenge.".into(),
            ));
        }
        (Some(_), _) | (None, Some(_)) => {
            return Err(fail(
                "invalid_request",
                "Only PKCE with code_challenge_method=S256 is accepted.".into(),
            ));
        }
        (None, None) if client.require_pkce || client.is_public() => {
            return Err(fail(
                "invalid_request",
                "PKCE is required: send code_challenge and code_challenge_method=S256.".into(),
            ));
        }
        (None, None) => None,
    };
    let prompt = match params.get("prompt") {
        None => Prompt::Default,
        Some(value) => {
            let values: Vec<&str> = value.split(' ').filter(|s| !s.is_empty()).collect();
            if values.contains(&"none") && values.len() > 1 {
                return Err(fail(
                    "invalid_request",
                    "prompt=none cannot be combined with other values.".into(),
                ));
            }
            if let Some(unknown) = values
                .iter()
                .find(|v| !matches!(**v, "none" | "login" | "consent" | "select_account"))
            {
                return Err(fail(
                    "invalid_request",
                    format!("prompt value {unknown:?} is not supported."),
                ));
            }
            if values.contains(&"none") {
                Prompt::None
            } else if values.contains(&"login") {
                Prompt::Login
            } else {
                Prompt::Default
            }
        }
    };
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            fail(
                "invalid_request",
                "max_age must be a non-negative whole number of seconds.".into(),
            )
        })?),
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        response_mode,
        state: state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        scopes,
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        acr_values: params
            .get("acr_values")
            .map(|v| {
                v.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use tessera_admin::config::{self, model::Configuration};
    use tessera_admin::secrets::ConfigSecrets;

    use super::*;

    const BASE: &str = include_str!("../../../../config/base.xml");
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn snapshot() -> Snapshot {
        let config: Configuration =
            config::parse(BASE, &ConfigSecrets::ephemeral().unwrap()).unwrap();
        Snapshot::new(1, config)
    }

    fn params(query: &str) -> Params {
        Params::parse(query.as_bytes()).unwrap()
    }

    const GOOD: &str = "client_id=demo-web-client&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&response_type=code&scope=openid+profile&state=xyz&nonce=n1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

    #[test]
    fn a_complete_request_from_a_public_client_is_valid() {
        let request = validate(&params(GOOD), &snapshot()).unwrap();
        assert_eq!(request.scopes, ["openid", "profile"]);
        assert_eq!(request.code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(request.state.as_deref(), Some("xyz"));
        assert_eq!(request.response_mode, ResponseMode::Query);
        assert!(request.is_openid());
    }

    #[test]
    fn unknown_clients_and_unregistered_redirect_uris_are_shown_never_redirected() {
        let s = snapshot();
        for query in [
            GOOD.replace("demo-web-client", "nobody"),
            GOOD.replace("client_id=demo-web-client&", ""),
            GOOD.replace("localhost%3A3000", "evil.example"),
            GOOD.replace("callback", "callback%2F"),
        ] {
            assert!(
                matches!(
                    validate(&params(&query), &s),
                    Err(AuthorizeError::Page { .. })
                ),
                "{query}"
            );
        }
    }

    #[test]
    fn other_errors_go_back_to_the_client_with_the_right_code_and_state() {
        let s = snapshot();
        let cases = [
            (GOOD.replace("response_type=code", "response_type=token"), "unsupported_response_type"),
            (GOOD.replace("response_type=code&", ""), "invalid_request"),
            (GOOD.replace("scope=openid+profile", "scope=admin+address"), "invalid_scope"),
            (GOOD.replace("code_challenge_method=S256", "code_challenge_method=plain"), "invalid_request"),
            (GOOD.replace("&code_challenge_method=S256", ""), "invalid_request"),
            (GOOD.replace("&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256", ""), "invalid_request"),
            (GOOD.replace("E9Melhoa2", "E9Melhoa"), "invalid_request"),
            (format!("{GOOD}&prompt=none+login"), "invalid_request"),
            (format!("{GOOD}&max_age=soon"), "invalid_request"),
            (format!("{GOOD}&request=eyJ"), "request_not_supported"),
            (format!("{GOOD}&response_mode=fragment"), "invalid_request"),
        ];
        for (query, expected) in cases {
            match validate(&params(&query), &s) {
                Err(AuthorizeError::Redirect {
                    error,
                    state,
                    redirect_uri,
                    ..
                }) => {
                    assert_eq!(error, expected, "{query}");
                    assert_eq!(state.as_deref(), Some("xyz"), "{query}");
                    assert_eq!(redirect_uri, "http://localhost:3000/callback");
                }
                other => panic!("{query}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_a_sign_in_in_progress_keeps_is_bounded_per_parameter() {
        let s = snapshot();
        let with = |name: &str, len: usize| {
            let mut pairs: Vec<String> = GOOD
                .split('&')
                .filter(|p| !p.starts_with(&format!("{name}=")))
                .map(str::to_owned)
                .collect();
            pairs.push(format!("{name}={}", "a".repeat(len)));
            pairs.join("&")
        };
        for (name, longest) in STORED_PARAM_LENS {
            let fits = with(name, longest);
            let over = with(name, longest + 1);
            let fits_error = match validate(&params(&fits), &s) {
                Err(AuthorizeError::Redirect { description, .. }) => Some(description),
                _ => None,
            };
            assert!(
                !fits_error.is_some_and(|d| d.contains("too long")),
                "{name} of {longest} bytes is accepted"
            );
            assert!(
                matches!(
                    validate(&params(&over), &s),
                    Err(AuthorizeError::Redirect { error: "invalid_request", ref description, .. })
                        if description.contains(name)
                ),
                "{name} of {} bytes is refused",
                longest + 1
            );
        }
    }

    #[test]
    fn only_a_confidential_client_may_omit_pkce() {
        let s = snapshot();
        let bff = "client_id=bff-oauth-client&redirect_uri=http%3A%2F%2Flocalhost%3A3001%2Foauth%2Fcallback&response_type=code&scope=openid&state=a&nonce=b";
        // bff-oauth-client requires PKCE by default …
        assert!(matches!(
            validate(&params(bff), &s),
            Err(AuthorizeError::Redirect {
                error: "invalid_request",
                ..
            })
        ));
        // … unless configured not to.
        let mut config = s.config.clone();
        config
            .clients
            .iter_mut()
            .find(|c| c.id == "bff-oauth-client")
            .unwrap()
            .require_pkce = false;
        let relaxed = Snapshot::new(2, config);
        assert!(
            validate(&params(bff), &relaxed)
                .unwrap()
                .code_challenge
                .is_none()
        );
    }

    #[test]
    fn native_apps_use_any_loopback_port_and_prompt_values_are_read() {
        let s = snapshot();
        let console = format!(
            "client_id=demo-console-client&redirect_uri=http%3A%2F%2F127.0.0.1%3A53121%2Fcallback&response_type=code&scope=openid&code_challenge={CHALLENGE}&code_challenge_method=S256&prompt=login&max_age=0&login_hint=kim"
        );
        let request = validate(&params(&console), &s).unwrap();
        assert_eq!(request.redirect_uri, "http://127.0.0.1:53121/callback");
        assert_eq!(request.prompt, Prompt::Login);
        assert_eq!(request.max_age, Some(0));
        assert_eq!(request.login_hint.as_deref(), Some("kim"));
    }
}
