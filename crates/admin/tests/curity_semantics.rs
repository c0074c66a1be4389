//! Curity's meaning of the elements Tessera reads in their Curity form, whether a file is
//! uploaded or imported: each test pins one element and its export.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use tessera_admin::config::model::Configuration;
use tessera_admin::config::{self, Root, UploadMode};
use tessera_admin::secrets::ConfigSecrets;

const PROFILE: &str = r#"<profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><type xmlns:as="https://curity.se/ns/conf/profile/oauth">as:oauth-service</type><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth">"#;
const PROFILE_END: &str = "</authorization-server></settings></profile></profiles>";
const GATEWAY: &str = "<client-store><config-backed><client><id>gateway</id><secret>$5$B4U/JTO4ZH7bgcJB$ut5slpp4Xk7lMw2LIDxMXmdctcLiwnhqmMWhTtf8sKC</secret><capabilities><introspection/></capabilities></client></config-backed></client-store>";

fn upload(settings: &str) -> Result<Configuration, Vec<String>> {
    let secrets = ConfigSecrets::ephemeral().unwrap();
    let document = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0">{PROFILE}{settings}{PROFILE_END}</config>"#
    );
    let config = config::apply(
        &Configuration::default(),
        document.as_bytes(),
        UploadMode::Replace,
        &secrets,
    )
    .map_err(|e| vec![e.to_string()])?;
    config::validate(&config)
        .map_err(|p| p.0.iter().map(ToString::to_string).collect::<Vec<_>>())?;
    // Whatever reads, exports to a file that reads back the same.
    let again = config::parse(&config::export(&config, Root::Config), &secrets).unwrap();
    assert_eq!(again, config);
    Ok(config)
}

#[test]
fn an_introspection_only_client_is_valid_and_grants_nothing_else() {
    let config = upload(GATEWAY).unwrap();
    let gateway = config.client("gateway").unwrap();
    assert!(gateway.capabilities.introspection);
    assert!(!gateway.capabilities.code && !gateway.capabilities.client_credentials);
}

#[test]
fn openid_connect_id_token_ttl_sets_the_id_token_lifetime_once() {
    let config = upload(&format!(
        "<openid-connect><expose-metadata/><id-token-ttl>120</id-token-ttl></openid-connect>{GATEWAY}"
    ))
    .unwrap();
    assert_eq!(
        config.token_settings.lifetimes.id_token,
        Some(Duration::from_secs(120))
    );
    let twice = upload(&format!(
        "<id-token-ttl>60</id-token-ttl><openid-connect><id-token-ttl>120</id-token-ttl></openid-connect>{GATEWAY}"
    ))
    .unwrap_err();
    assert!(twice.iter().any(|p| p.contains("set it once")), "{twice:?}");
}

#[test]
fn require_pairwise_subject_identifiers_is_a_presence_element_and_the_old_value_form_still_reads() {
    for (element, pairwise) in [
        ("<require-pairwise-subject-identifiers/>", true),
        (
            "<require-pairwise-subject-identifiers>true</require-pairwise-subject-identifiers>",
            true,
        ),
        (
            "<require-pairwise-subject-identifiers>false</require-pairwise-subject-identifiers>",
            false,
        ),
    ] {
        let config = upload(&format!(
            "<openid-connect><expose-metadata/>{element}</openid-connect>{GATEWAY}"
        ))
        .unwrap();
        assert_eq!(
            config.token_settings.require_pairwise_subject_identifiers, pairwise,
            "{element}"
        );
    }
}

#[test]
fn an_openid_connect_element_without_expose_metadata_hides_the_metadata() {
    let hidden = upload(&format!("<openid-connect></openid-connect>{GATEWAY}")).unwrap();
    assert!(!hidden.token_settings.expose_metadata);
    let shown = upload(&format!(
        "<openid-connect><expose-metadata></expose-metadata></openid-connect>{GATEWAY}"
    ))
    .unwrap();
    assert!(shown.token_settings.expose_metadata);
    // Files from before the switch have no <openid-connect>: metadata stays published.
    assert!(upload(GATEWAY).unwrap().token_settings.expose_metadata);
}

#[test]
fn the_profiles_client_capabilities_bound_what_its_clients_may_do() {
    let refused = upload(&format!(
        "<client-capabilities><code/></client-capabilities>{GATEWAY}"
    ))
    .unwrap_err();
    assert!(
        refused
            .iter()
            .any(|p| p.contains("client[gateway]/capabilities/introspection")),
        "{refused:?}"
    );
    upload(&format!(
        "<client-capabilities><introspection/></client-capabilities>{GATEWAY}"
    ))
    .unwrap();
}

#[test]
fn scopes_release_their_claims_and_must_name_defined_claims() {
    let config = upload(&format!(
        "<scopes><scope><id>profile</id><claims>preferred_username</claims></scope><scope><id>read</id></scope></scopes><claims><claim><name>preferred_username</name></claim></claims>{GATEWAY}"
    ))
    .unwrap();
    let granted = [
        "openid".to_owned(),
        "profile".to_owned(),
        "email".to_owned(),
    ];
    // A defined scope releases what it lists; an undefined standard one, OIDC Core's.
    assert_eq!(
        config.claims_for(&granted),
        ["preferred_username", "email", "email_verified"]
    );
    let undefined = upload(&format!(
        "<scopes><scope><id>profile</id><claims>shoe_size</claims></scope></scopes><claims><claim><name>name</name></claim></claims>{GATEWAY}"
    ))
    .unwrap_err();
    assert!(
        undefined.iter().any(|p| p.contains("\"shoe_size\"")),
        "{undefined:?}"
    );
}

#[test]
fn a_code_client_gets_refresh_tokens_unless_its_refresh_token_ttl_is_disabled() {
    let client = |extra: &str| {
        format!(
            "<client-store><config-backed><client><id>app</id><no-authentication>true</no-authentication><redirect-uris>https://app.example.com/cb</redirect-uris><capabilities><code/></capabilities>{extra}</client></config-backed></client-store>"
        )
    };
    let secrets = ConfigSecrets::ephemeral().unwrap();
    let read = |extra: &str| {
        let document = format!(
            r#"<config xmlns="http://tail-f.com/ns/config/1.0">{PROFILE}{}{PROFILE_END}</config>"#,
            client(extra)
        );
        config::apply(
            &Configuration::default(),
            document.as_bytes(),
            UploadMode::Replace,
            &secrets,
        )
        .unwrap()
    };
    assert!(read("").client("app").unwrap().capabilities.refresh);
    assert!(
        read("<refresh-token-ttl>3600</refresh-token-ttl>")
            .client("app")
            .unwrap()
            .capabilities
            .refresh
    );
    let off = read("<refresh-token-ttl>disabled</refresh-token-ttl>");
    assert!(!off.client("app").unwrap().capabilities.refresh);
    assert!(
        config::export(&off, Root::Config)
            .contains("<refresh-token-ttl>disabled</refresh-token-ttl>")
    );
}

#[test]
fn an_email_authenticator_may_name_its_provider_in_curitys_container_shape() {
    let secrets = ConfigSecrets::ephemeral().unwrap();
    let document = r#"<config xmlns="http://tail-f.com/ns/config/1.0">
  <facilities xmlns="https://curity.se/ns/conf/base"><email-providers><email-provider><id>smtp</id><smtp><smtp-host>127.0.0.1</smtp-host><smtp-port>1025</smtp-port><default-sender>noreply@example.com</default-sender></smtp></email-provider></email-providers></facilities>
  <profiles xmlns="https://curity.se/ns/conf/base"><profile><id>authentication-service</id><type xmlns:auth="https://curity.se/ns/conf/profile/authentication">auth:authentication-service</type><settings><authentication-service xmlns="https://curity.se/ns/conf/profile/authentication"><authenticators><authenticator><id>email</id><email><email-provider><id>smtp</id></email-provider></email></authenticator></authenticators></authentication-service></settings></profile></profiles>
</config>"#;
    let config = config::apply(
        &Configuration::default(),
        document.as_bytes(),
        UploadMode::Replace,
        &secrets,
    )
    .unwrap();
    let tessera_admin::config::model::AuthenticatorKind::Email(email) =
        &config.authenticator("email").unwrap().kind
    else {
        panic!("an email authenticator");
    };
    assert_eq!(email.email_provider.as_deref(), Some("smtp"));
}
