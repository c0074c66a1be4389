//! JWT access tokens per RFC 9068 (`typ: at+jwt`), signed with the current ES256 key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use josekit::jwt::JwtPayload;
use tessera_admin::Snapshot;
use tessera_admin::config::model::{Client, TokenSettings};

use crate::Issuer;
use crate::keys::{KeyError, SigningAlgorithm, SigningKeys};

/// What an access token says.
#[derive(Debug, Clone)]
pub struct AccessTokenClaims<'a> {
    /// `sub`: the stable subject, or the client id for client credentials (RFC 9068 §2.2).
    pub subject: &'a str,
    /// The client it was issued to.
    pub client: &'a Client,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// The user's authentication, when a user is involved.
    pub authentication: Option<UserAuthentication<'a>>,
    /// The names of the user's groups, when the `groups` scope was granted.
    pub groups: Option<&'a [String]>,
}

/// `auth_time`, `acr` and `amr` of the user behind a token.
#[derive(Debug, Clone, Copy)]
pub struct UserAuthentication<'a> {
    /// When the user authenticated.
    pub auth_time: DateTime<Utc>,
    /// Which authenticator.
    pub acr: Option<&'a str>,
    /// Methods.
    pub amr: &'a [String],
}

/// A signed access token and its lifetime.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    /// The compact JWT.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// The access token lifetime of `client`: its own, else the issuer-wide one, else the default.
pub fn access_token_lifetime(snapshot: &Snapshot, client: &Client) -> Duration {
    let std = client
        .lifetimes
        .access_token
        .or(snapshot.config.token_settings.lifetimes.access_token)
        .unwrap_or(TokenSettings::ACCESS);
    Duration::from_std(std).unwrap_or(Duration::MAX)
}

/// The instant `lifetime` after `now`, or the latest instant there is if that is beyond it:
/// lifetimes are bounded when configuration is committed, and date arithmetic must not panic
/// on a request even if one were not.
pub(crate) fn expiry(now: DateTime<Utc>, lifetime: Duration) -> DateTime<Utc> {
    now.checked_add_signed(lifetime)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A JWT NumericDate (RFC 7519 §2) in whole seconds. Fractions are allowed by the RFC, but
/// Envoy's JWT filter, libjwt, `jwt-simple` and several Go libraries refuse or misread them,
/// and API gateways are where access tokens are checked.
pub(crate) fn numeric_date(at: DateTime<Utc>) -> serde_json::Value {
    at.timestamp().into()
}

fn jti() -> Result<String, KeyError> {
    let bytes = tessera_admin::crypto::random_bytes::<16>().map_err(|e| KeyError::Material {
        kid: "(jti)".into(),
        reason: e.to_string(),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Signs an access token valid from `now`.
pub fn issue(
    keys: &SigningKeys,
    issuer: &Issuer,
    snapshot: &Snapshot,
    claims: &AccessTokenClaims<'_>,
    now: DateTime<Utc>,
) -> Result<IssuedAccessToken, KeyError> {
    let lifetime = access_token_lifetime(snapshot, claims.client);
    let mut payload = JwtPayload::new();
    payload.set_issuer(issuer.as_str());
    payload.set_subject(claims.subject);
    let audience: Vec<&str> = if claims.client.audience.is_empty() {
        vec![claims.client.id.as_str()]
    } else {
        claims.client.audience.iter().map(String::as_str).collect()
    };
    payload.set_audience(audience);
    payload.set_jwt_id(jti()?);
    let set = |payload: &mut JwtPayload, name: &str, value: serde_json::Value| {
        payload
            .set_claim(name, Some(value))
            .map_err(|e| KeyError::Material {
                kid: "(claims)".into(),
                reason: e.to_string(),
            })
    };
    set(&mut payload, "iat", numeric_date(now))?;
    set(&mut payload, "exp", numeric_date(expiry(now, lifetime)))?;
    set(&mut payload, "client_id", claims.client.id.clone().into())?;
    if !claims.scopes.is_empty() {
        set(&mut payload, "scope", claims.scopes.join(" ").into())?;
    }
    if let Some(groups) = claims.groups {
        set(&mut payload, "groups", serde_json::json!(groups))?;
    }
    if let Some(user) = claims.authentication {
        set(&mut payload, "auth_time", numeric_date(user.auth_time))?;
        if let Some(acr) = user.acr {
            set(&mut payload, "acr", acr.into())?;
        }
        set(&mut payload, "amr", serde_json::json!(user.amr))?;
    }
    let token = keys.sign(SigningAlgorithm::Es256, "at+jwt", &payload, now)?;
    Ok(IssuedAccessToken {
        token,
        expires_in: lifetime.num_seconds(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_beyond_the_calendar_saturates_instead_of_panicking() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 12, 0, 0).unwrap();
        assert_eq!(expiry(now, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            numeric_date(expiry(now, Duration::MAX)),
            DateTime::<Utc>::MAX_UTC.timestamp()
        );
        assert_eq!(
            expiry(now, Duration::seconds(300)),
            now + Duration::seconds(300)
        );
    }
}

/// An access token this issuer signed, still valid.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The client it was issued to.
    pub client_id: Option<String>,
    /// Its `sub`.
    pub subject: Option<String>,
    /// The scopes it carries.
    pub scopes: Vec<String>,
}

/// Verifies a presented access token: signed by one of `keys`, `typ` `at+jwt`, issued by
/// `issuer`, not expired at `now`. `None` for anything else.
pub fn verify(
    keys: &SigningKeys,
    issuer: &Issuer,
    token: &str,
    now: DateTime<Utc>,
) -> Option<Verified> {
    let (typ, claims) = keys.verify(token, now).ok()?;
    let expired = claims
        .expires_at()
        .is_none_or(|exp| exp <= std::time::SystemTime::from(now));
    if typ.as_deref() != Some("at+jwt") || claims.issuer() != Some(issuer.as_str()) || expired {
        return None;
    }
    let text = |name: &str| {
        claims
            .claim(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    Some(Verified {
        client_id: text("client_id"),
        subject: claims.subject().map(str::to_owned),
        scopes: text("scope")
            .map(|s| s.split(' ').map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}
