//! ID tokens (OIDC Core §2): signed with the client's algorithm, carrying the authentication
//! (`auth_time`, `amr`, `acr`, `sid`), the request's `nonce` and `at_hash`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use josekit::jwt::JwtPayload;
use tessera_admin::Snapshot;
use tessera_admin::config::model::{Client, IdTokenAlgorithm, TokenSettings};
use tessera_store::codes::CodeRow;

use crate::Issuer;
use crate::access_token::{expiry, numeric_date};
use crate::keys::{KeyError, SigningAlgorithm, SigningKeys};

fn claim_error(e: impl std::fmt::Display) -> KeyError {
    KeyError::Material {
        kid: "(id token)".into(),
        reason: e.to_string(),
    }
}

/// `at_hash`: the left half of SHA-256 of the access token (RS256 and ES256 both hash with it).
pub fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&tessera_admin::crypto::sha256(access_token.as_bytes())[..16])
}

/// What an ID token is about.
pub struct IdTokenSubject<'a> {
    /// The client (audience).
    pub client: &'a Client,
    /// Its view of the subject.
    pub subject: &'a str,
    /// The redeemed code (authentication, nonce, session).
    pub code: &'a CodeRow,
    /// The access token issued with it (for `at_hash`).
    pub access_token: &'a str,
    /// The names of the user's groups, when the `groups` scope was granted.
    pub groups: Option<&'a [String]>,
}

/// Signs the ID token of a redeemed code.
pub fn issue(
    keys: &SigningKeys,
    issuer: &Issuer,
    snapshot: &Snapshot,
    about: &IdTokenSubject<'_>,
    now: DateTime<Utc>,
) -> Result<String, KeyError> {
    let IdTokenSubject {
        client,
        subject,
        code,
        access_token,
        groups,
    } = *about;
    let lifetime = client
        .lifetimes
        .id_token
        .or(snapshot.config.token_settings.lifetimes.id_token)
        .unwrap_or(TokenSettings::ID);
    let lifetime = Duration::from_std(lifetime).unwrap_or(Duration::MAX);
    let mut payload = JwtPayload::new();
    payload.set_issuer(issuer.as_str());
    payload.set_subject(subject);
    payload.set_audience(vec![client.id.as_str()]);
    let mut set = |name: &str, value: serde_json::Value| {
        payload.set_claim(name, Some(value)).map_err(claim_error)
    };
    set("iat", numeric_date(now))?;
    set("exp", numeric_date(expiry(now, lifetime)))?;
    set("auth_time", numeric_date(code.auth_time))?;
    if let Some(nonce) = &code.nonce {
        set("nonce", nonce.clone().into())?;
    }
    set("amr", serde_json::json!(code.amr))?;
    if let Some(acr) = &code.acr {
        set("acr", acr.clone().into())?;
    }
    if let Some(sid) = &code.sid {
        set("sid", sid.clone().into())?;
    }
    set("at_hash", at_hash(access_token).into())?;
    set("azp", client.id.clone().into())?;
    if let Some(groups) = groups {
        set("groups", serde_json::json!(groups))?;
    }
    let alg = match client.id_token_algorithm {
        IdTokenAlgorithm::Rs256 => SigningAlgorithm::Rs256,
        IdTokenAlgorithm::Es256 => SigningAlgorithm::Es256,
    };
    keys.sign(alg, "JWT", &payload, now)
}
