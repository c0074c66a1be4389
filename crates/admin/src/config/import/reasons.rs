//! Why an element of a Curity file is not carried over: one sentence an operator can act on,
//! chosen by the element's name and where it sits.

/// The reason for leaving out `name`, found under `parent` (a path of element names).
pub fn not_carried_over(parent: &str, name: &str) -> &'static str {
    if let Some(reason) = by_name(name) {
        return reason;
    }
    if parent.starts_with("/environments") {
        return "the runtime environment (service roles, admin service, cluster, zone keys) is Tessera's settings file (tessera.toml), not this configuration";
    }
    if parent.contains("/claims") {
        return "claim values come from Tessera's accounts; this part of the claims setup has no counterpart";
    }
    if parent.contains("/client[") || parent.ends_with("/client") {
        return "a client setting Tessera does not have";
    }
    if parent.contains("/authenticator[") {
        return "an authenticator setting Tessera does not have";
    }
    "not supported by Tessera"
}

fn by_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "data-sources" => {
            "data sources: accounts live in Tessera's PostgreSQL; move them with `tessera account import`"
        }
        "crypto" => {
            "keys and certificates: Tessera keeps its own signing keys (`tessera keys`) and its TLS certificate in its settings"
        }
        "http-client" => {
            "Tessera fetches a client's published keys with its own HTTP client (system trust roots, five-second timeout, no redirects)"
        }
        "http-clients" => "outgoing HTTP clients: nothing carried over needs one",
        "sms-providers" => {
            "SMS providers: Tessera signs in with passkeys, email and passwords, not SMS"
        }
        "authentication-actions" => {
            "authentication actions (scripts, account linking, attribute transformers) are not supported"
        }
        "procedures" | "token-procedures" | "scripts" => {
            "procedures and scripts are not supported: tokens have Tessera's fixed, documented shape"
        }
        "credential-managers" => {
            "credential managers: Tessera hashes passwords itself (argon2id); imported hashes are checked in their own scheme and upgraded"
        }
        "bucket-settings" | "buckets" => "buckets are not supported",
        "plugin-manager" | "plugins" => "plugins are not supported",
        "nacm" | "aaa" | "admin-service" | "web-ui" => {
            "administration access: Tessera's admin API and pages have their own sign-in (settings: admin)"
        }
        "cluster" | "service-role" | "service-roles" | "base-url" => {
            "deployment (cluster, service roles, base URL) lives in tessera.toml"
        }
        "endpoints" => "endpoints: Tessera serves fixed paths, listed in its discovery document",
        "token-issuers" => {
            "token issuers: Tessera issues JWT access tokens signed with its own keys"
        }
        "protocols" => "authentication protocols: Tessera's sign-in pages are its own",
        "authentication-actions-list" => "authentication actions are not supported",
        "template-area" | "templates" | "localization" | "message-overrides" => {
            "templates and messages: Tessera's pages have their own theme"
        }
        "dynamic-client-registration" => {
            "dynamic client registration is not supported: clients are configured"
        }
        "claims-value-provider" => {
            "claim values come from Tessera's accounts (an account-manager claims provider carries over as that)"
        }
        "claims-mappers" => {
            "claims mappers: Tessera releases a scope's claims in userinfo (OpenID Connect Core §5.4)"
        }
        "value-provided-by" => "claim values come from Tessera's accounts",
        "transformation" => "claim transformations (procedures) are not supported",
        "expose-in-metadata" => "claims are not listed per claim in Tessera's metadata",
        "token-exchange" | "oauth-token-exchange" => "token exchange is not supported",
        "implicit" => "the implicit flow is not supported (RFC 9700 §2.1.2: use the code flow)",
        "resource-owner-password-credentials" => {
            "the password grant is not supported (RFC 9700 §2.4)"
        }
        "assisted-token" => "assisted tokens are not supported",
        "assertion" => "the JWT bearer assertion grant is not supported",
        "haapi" => "HAAPI (hypermedia authentication API) is not supported",
        "backchannel-authentication" => "CIBA is not supported",
        "device-authorization" | "device" => "the device flow is not supported",
        "logo" => "client logos are not shown on Tessera's pages",
        "properties" => "client properties are not used by Tessera",
        "user-consent" => "Tessera asks no consent for configured clients",
        "force-authn" => {
            "not carried over: a client asks for a fresh sign-in with prompt=login or max_age"
        }
        "secondary-authentication-method" => {
            "a second secret for rotation is not supported; the primary secret is carried over"
        }
        "account-manager" => "the profile-wide account manager: Tessera has one account store",
        "client-authentication" => {
            "client authentication settings: Tessera accepts client_secret_basic, client_secret_post and private_key_jwt (RS256, ES256), and checks assertions its own way"
        }
        "assertion-jwt-validation" => {
            "assertion validation settings: Tessera checks private_key_jwt assertions its own way (audience, expiry, single use)"
        }
        "include-attributes-of-all-authenticators" => {
            "attributes of other authenticators are not merged"
        }
        "authentication-service" => "not carried over",
        "device-data-source" => "device data sources: passkeys live in Tessera's PostgreSQL",
        "account-domain" | "account-domains" => "account domains are not supported",
        "expose-detailed-error-messages" => {
            "Tessera's errors are OAuth error codes with a short description; internal details are never shown"
        }
        "caching-services" => "caching services: Tessera keeps its state in PostgreSQL and memory",
        "license-key" => "Tessera needs no license key",
        "client-attestation" => "client attestation (HAAPI) is not supported",
        "persisted-sso-session" => "Tessera always keeps single sign-on sessions in PostgreSQL",
        "http" => "HTTP settings of the runtime live in tessera.toml",
        _ => return None,
    })
}
