//! Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic`,
//! `client_secret_post` and `none` for public clients. Secrets are checked against the keyed
//! digest from the configuration in constant time — never a slow hash on this endpoint.
// An edge: request handlers read the clock and pass the time on.
#![allow(clippy::disallowed_methods)]

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode_str;
use tessera_admin::Snapshot;
use tessera_admin::config::model::{Client, ClientAuthentication};
use tessera_admin::secrets::ConfigSecrets;

use crate::params::Params;
use crate::token_error::{TokenError, TokenErrorCode};

/// How the client presented itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Post,
    /// `client_id` only (public client).
    None,
    /// A signed assertion (`private_key_jwt`); its `jti` must be recorded against replay.
    PrivateKeyJwt,
}

/// The assertion type of RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest accepted assertion lifetime: assertions are one-shot, not credentials.
const MAX_ASSERTION_LIFETIME_SECS: i64 = 600;

/// What must be recorded after a `private_key_jwt` authentication.
#[derive(Debug, Clone)]
pub struct AssertionUse {
    /// The assertion's `jti`.
    pub jti: String,
    /// Until when it must be remembered.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

fn unverified_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_owned)
}

/// Verifies a client assertion (RFC 7523 §3) against the client's registered keys. Its `aud`
/// must be the issuer identifier, as a single string: the token endpoint's URL or an array
/// (which RFC 7523 once allowed) let an assertion meant for one server be replayed at another
/// that shares an endpoint name (the 2025 audience-injection finding behind RFC 7523bis).
fn verify_assertion(
    assertion: &str,
    client: &Client,
    jwks: &str,
    issuer: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<AssertionUse, TokenError> {
    let fail = || invalid_client(false);
    let header = josekit::jwt::decode_header(assertion).map_err(|_| fail())?;
    let alg = header
        .claim("alg")
        .and_then(|a| a.as_str())
        .unwrap_or_default()
        .to_owned();
    let kid = header
        .claim("kid")
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    let set: serde_json::Value = serde_json::from_str(jwks).map_err(|_| fail())?;
    let keys = set
        .get("keys")
        .and_then(|k| k.as_array())
        .cloned()
        .unwrap_or_default();
    let mut verified = None;
    for key in keys {
        if kid.is_some() && key.get("kid").and_then(|k| k.as_str()) != kid.as_deref() {
            continue;
        }
        let Some(map) = key.as_object().cloned() else {
            continue;
        };
        let Ok(jwk) = josekit::jwk::Jwk::from_map(map) else {
            continue;
        };
        let outcome = match alg.as_str() {
            "ES256" => josekit::jws::ES256
                .verifier_from_jwk(&jwk)
                .and_then(|v| josekit::jwt::decode_with_verifier(assertion, &v)),
            "RS256" => josekit::jws::RS256
                .verifier_from_jwk(&jwk)
                .and_then(|v| josekit::jwt::decode_with_verifier(assertion, &v)),
            _ => return Err(fail()),
        };
        if let Ok((payload, _)) = outcome {
            verified = Some(payload);
            break;
        }
    }
    let claims = verified.ok_or_else(fail)?;
    if claims.issuer() != Some(client.id.as_str()) || claims.subject() != Some(client.id.as_str()) {
        return Err(fail());
    }
    let audience_ok = claims
        .claim("aud")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|aud| aud == issuer);
    if !audience_ok {
        return Err(fail());
    }
    let exp = claims
        .expires_at()
        .map(chrono::DateTime::<chrono::Utc>::from)
        .ok_or_else(fail)?;
    if exp <= now || (exp - now).num_seconds() > MAX_ASSERTION_LIFETIME_SECS {
        return Err(fail());
    }
    let jti = claims
        .jwt_id()
        .filter(|j| !j.is_empty())
        .ok_or_else(fail)?
        .to_owned();
    Ok(AssertionUse {
        jti,
        expires_at: exp,
    })
}

fn invalid_client(basic: bool) -> TokenError {
    TokenError {
        basic_attempted: basic,
        ..TokenError::new(
            TokenErrorCode::InvalidClient,
            "Client authentication failed.",
        )
    }
}

fn decode_basic(req: &HttpRequest) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let parse = || -> Option<(String, String)> {
        let encoded = value.to_str().ok()?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
        let unescape = |s: &str| {
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        Some((unescape(id)?, unescape(secret)?))
    };
    parse().map(Some).ok_or_else(|| invalid_client(true))
}

/// The authenticated client, looked up in the configuration snapshot; for `private_key_jwt`
/// also the assertion use the caller must record (replay protection needs the database).
/// `published` is the key set of a client that publishes its keys at a URI (see
/// [`published_keys_uri`]), fetched by the caller.
pub fn authenticate<'a>(
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a Snapshot,
    secrets: &ConfigSecrets,
    issuer: &str,
    published: Option<&str>,
) -> Result<(&'a Client, AuthMethod, Option<AssertionUse>), TokenError> {
    if let Some(kind) = params.get("client_assertion_type") {
        if kind != JWT_BEARER {
            return Err(TokenError::new(
                TokenErrorCode::InvalidClient,
                "Unsupported client_assertion_type.",
            ));
        }
        if req.headers().contains_key(header::AUTHORIZATION)
            || params.get("client_secret").is_some()
        {
            return Err(TokenError::new(
                TokenErrorCode::InvalidRequest,
                "Use one client authentication method.",
            ));
        }
        let assertion = params.require("client_assertion")?;
        let client_id = match (params.get("client_id"), unverified_issuer(assertion)) {
            (Some(id), Some(iss)) if id != iss => return Err(invalid_client(false)),
            (Some(id), _) => id.to_owned(),
            (None, Some(iss)) => iss,
            (None, None) => return Err(invalid_client(false)),
        };
        let client = snapshot
            .client(&client_id)
            .ok_or_else(|| invalid_client(false))?;
        let jwks = match &client.authentication {
            ClientAuthentication::PrivateKeyJwt(jwks) => jwks.as_str(),
            ClientAuthentication::PrivateKeyJwtUri(_) => {
                published.ok_or_else(|| invalid_client(false))?
            }
            _ => return Err(invalid_client(false)),
        };
        let used = verify_assertion(assertion, client, jwks, issuer, chrono::Utc::now())?;
        return Ok((client, AuthMethod::PrivateKeyJwt, Some(used)));
    }
    let (client, method) = authenticate_shared(req, params, snapshot, secrets)?;
    Ok((client, method, None))
}

/// Where the client of a `private_key_jwt` request publishes its keys, when it does.
pub fn published_keys_uri<'a>(params: &Params, snapshot: &'a Snapshot) -> Option<&'a str> {
    params.get("client_assertion_type")?;
    let client_id = match params.get("client_id") {
        Some(id) => id.to_owned(),
        None => unverified_issuer(params.get("client_assertion")?)?,
    };
    match &snapshot.client(&client_id)?.authentication {
        ClientAuthentication::PrivateKeyJwtUri(uri) => Some(uri.as_str()),
        _ => None,
    }
}

fn authenticate_shared<'a>(
    req: &HttpRequest,
    params: &Params,
    snapshot: &'a Snapshot,
    secrets: &ConfigSecrets,
) -> Result<(&'a Client, AuthMethod), TokenError> {
    let basic = decode_basic(req)?;
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    let (client_id, secret, method) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::new(
                TokenErrorCode::InvalidRequest,
                "Use one client authentication method, not HTTP Basic and client_secret together.",
            ));
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    "client_id in the body does not match the HTTP Basic credentials.",
                ));
            }
            (id, Some(secret), AuthMethod::Basic)
        }
        (None, Some(secret)) => {
            let id = body_id.ok_or_else(|| {
                TokenError::new(TokenErrorCode::InvalidRequest, "client_id is missing.")
            })?;
            (id.to_owned(), Some(secret.to_owned()), AuthMethod::Post)
        }
        (None, None) => {
            let id = body_id.ok_or_else(|| {
                TokenError::new(
                    TokenErrorCode::InvalidClient,
                    "Client authentication is required.",
                )
            })?;
            (id.to_owned(), None, AuthMethod::None)
        }
    };
    let is_basic = method == AuthMethod::Basic;
    let client = snapshot.client(&client_id);
    match (client.map(|c| &c.authentication), secret) {
        (Some(ClientAuthentication::SecretDigest(digest)), Some(secret)) => {
            if secrets.verify(&client_id, &secret, digest) {
                client
                    .map(|c| (c, method))
                    .ok_or_else(|| invalid_client(is_basic))
            } else {
                Err(invalid_client(is_basic))
            }
        }
        (Some(ClientAuthentication::SecretHash(hash)), Some(secret)) => {
            // SHA-crypt with Curity's 5,000 rounds costs about a millisecond: a hashed secret
            // is slower to check than a digest, which is why Tessera writes digests itself.
            if tessera_admin::crypto::legacy::verify(secret.as_bytes(), hash) == Some(true) {
                client
                    .map(|c| (c, method))
                    .ok_or_else(|| invalid_client(is_basic))
            } else {
                Err(invalid_client(is_basic))
            }
        }
        (Some(ClientAuthentication::None), None) => client
            .map(|c| (c, AuthMethod::None))
            .ok_or_else(|| invalid_client(is_basic)),
        (None, Some(secret)) => {
            // Unknown client: spend the same work as a real check so timing says nothing.
            let _ = secrets.digest(&client_id, &secret);
            Err(invalid_client(is_basic))
        }
        _ => Err(invalid_client(is_basic)),
    }
}
