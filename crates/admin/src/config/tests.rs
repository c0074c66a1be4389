//! The configuration language end to end: files in, model out, and back.

use super::model::*;
use super::*;
use crate::secrets::ConfigSecrets;

const BASE: &str = include_str!("../../../../config/base.xml");
const UPGRADE: &str = include_str!("../../../../config/upgrade-authentication.xml");
const SEED_UPGRADE: &str = include_str!("../../tests/fixtures/seed-000-upgrade.xml");

const CLIENTS: &str = r#"<profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id>
<settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed>"#;
const CLIENTS_END: &str =
    "</config-backed></client-store></authorization-server></settings></profile></profiles>";

fn secrets() -> ConfigSecrets {
    ConfigSecrets::ephemeral().unwrap()
}

fn base(s: &ConfigSecrets) -> Configuration {
    let config = parse(BASE, s).unwrap();
    validate(&config).unwrap();
    config
}

fn doc(body: &str) -> Vec<u8> {
    format!(r#"<config xmlns="http://tail-f.com/ns/config/1.0" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">{body}</config>"#)
        .into_bytes()
}

fn problems(e: ReadError) -> Vec<Problem> {
    match e {
        ReadError::Invalid(Problems(p)) => p,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn merging_the_upgrade_onto_the_base_gives_the_passwordless_model() {
    let s = secrets();
    let merged = apply(&base(&s), UPGRADE.as_bytes(), UploadMode::Merge, &s).unwrap();
    validate(&merged).unwrap();

    assert_eq!(merged.default_email_provider.as_deref(), Some("smtp"));
    let smtp = &merged.email_providers[0].smtp;
    assert_eq!(
        (smtp.host.as_str(), smtp.port, smtp.tls),
        ("127.0.0.1", 1025, SmtpTls::None)
    );
    assert_eq!(smtp.default_sender, "noreply@democluster.example");
    let sealed = smtp.sealed_password.as_deref().unwrap();
    assert_eq!(s.open("smtp:smtp", sealed).unwrap(), "Password1");

    let ids: Vec<&str> = merged
        .authenticators
        .iter()
        .map(|a| a.id.as_str())
        .collect();
    assert_eq!(ids, ["html-form", "email", "passkeys"]);
    let AuthenticatorKind::Email(email) = &merged.authenticator("email").unwrap().kind else {
        panic!("email authenticator has the wrong type");
    };
    assert_eq!(email.delivery, EmailDelivery::Code);
    assert_eq!(
        (email.max_challenges_sent, email.max_allowed_attempts),
        (3, 3)
    );
    let passkeys = merged.authenticator("passkeys").unwrap();
    assert_eq!(passkeys.required_for_registration.as_deref(), Some("email"));
    let AuthenticatorKind::Passkeys(p) = &passkeys.kind else {
        panic!("wrong type")
    };
    assert!(p.enable_discoverable_credentials && p.allow_registration_during_login);
    assert_eq!(
        p.account_manager.as_deref(),
        Some("default-account-manager")
    );
    assert!(
        !base(&s).account_managers[0].enable_registration,
        "sign-up is closed unless enabled"
    );
    assert!(merged.account_managers[0].enable_registration);

    for id in [
        "demo-web-client",
        "bff-oauth-client",
        "demo-console-client",
        "demo-desktop-client",
        "demo-mobile-client",
    ] {
        let client = merged.client(id).unwrap();
        assert_eq!(client.allowed_authenticators, ["passkeys"], "{id}");
        // Everything else about the client is kept.
        assert_eq!(
            client.redirect_uris,
            base(&s).client(id).unwrap().redirect_uris,
            "{id}"
        );
    }
    assert!(
        merged
            .client("demo-api-client")
            .unwrap()
            .allowed_authenticators
            .is_empty()
    );
}

#[test]
fn the_seed_000_upgrade_file_in_its_original_shape_merges_and_validates() {
    let s = secrets();
    let merged = apply(&base(&s), SEED_UPGRADE.as_bytes(), UploadMode::Merge, &s).unwrap();
    validate(&merged).unwrap();
    assert_eq!(merged.email_providers[0].smtp.host, "smtpserver-svc");
    // No <tls>: STARTTLS, required.
    assert_eq!(merged.email_providers[0].smtp.tls, SmtpTls::StartTls);
    assert_eq!(
        merged
            .client("demo-console-client")
            .unwrap()
            .allowed_authenticators,
        ["passkeys"]
    );
}

#[test]
fn merging_a_leaf_list_adds_and_replace_swaps_it() {
    let s = secrets();
    let mut config = base(&s);
    config.authenticators.push(Authenticator {
        id: "passkeys".into(),
        description: None,
        required_for_registration: Some("html-form".into()),
        kind: AuthenticatorKind::Passkeys(Passkeys::default()),
    });
    config
        .clients
        .iter_mut()
        .find(|c| c.id == "demo-web-client")
        .unwrap()
        .allowed_authenticators = vec!["html-form".into()];

    let add = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><user-authentication><allowed-authenticators>passkeys</allowed-authenticators></user-authentication></client>{CLIENTS_END}"
    ));
    let merged = apply(&config, &add, UploadMode::Merge, &s).unwrap();
    assert_eq!(
        merged
            .client("demo-web-client")
            .unwrap()
            .allowed_authenticators,
        ["html-form", "passkeys"]
    );

    let swap = doc(&format!(
        r#"{CLIENTS}<client><id>demo-web-client</id><user-authentication nc:operation="replace"><allowed-authenticators>passkeys</allowed-authenticators></user-authentication></client>{CLIENTS_END}"#
    ));
    let swapped = apply(&config, &swap, UploadMode::Merge, &s).unwrap();
    let client = swapped.client("demo-web-client").unwrap();
    assert_eq!(client.allowed_authenticators, ["passkeys"]);
    // replace swaps the whole container: its other leaf-list went with it.
    assert!(client.post_logout_redirect_uris.is_empty());
    validate(&swapped).unwrap();
}

#[test]
fn delete_remove_and_create_follow_netconf() {
    let s = secrets();
    let config = base(&s);
    let op = |op: &str, id: &str| {
        doc(&format!(
            r#"{CLIENTS}<client nc:operation="{op}"><id>{id}</id><no-authentication>true</no-authentication><redirect-uris>com.example.x:/cb</redirect-uris><capabilities><code/></capabilities></client>{CLIENTS_END}"#
        ))
    };

    let deleted = apply(
        &config,
        &op("delete", "demo-mobile-client"),
        UploadMode::Merge,
        &s,
    )
    .unwrap();
    assert!(deleted.client("demo-mobile-client").is_none());
    assert_eq!(deleted.clients.len(), config.clients.len() - 1);

    let p = problems(apply(&config, &op("delete", "nobody"), UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("cannot delete"), "{p:?}");
    assert!(p[0].path.ends_with("/client[nobody]"), "{p:?}");

    let removed = apply(&config, &op("remove", "nobody"), UploadMode::Merge, &s).unwrap();
    assert_eq!(removed, config);

    let p = problems(
        apply(
            &config,
            &op("create", "demo-web-client"),
            UploadMode::Merge,
            &s,
        )
        .unwrap_err(),
    );
    assert!(p[0].message.contains("already exists"), "{p:?}");
    let created = apply(&config, &op("create", "new-client"), UploadMode::Merge, &s).unwrap();
    assert!(created.client("new-client").unwrap().is_public());
}

#[test]
fn export_then_upload_is_the_identity() {
    let s = secrets();
    let merged = apply(&base(&s), UPGRADE.as_bytes(), UploadMode::Merge, &s).unwrap();
    let exported = export(&merged, Root::Config);
    assert!(
        !exported.contains("Password1"),
        "clear SMTP password exported"
    );
    assert!(
        !exported.contains("Demo-BFF-Secret"),
        "clear client secret exported"
    );
    let again = apply(
        &Configuration::default(),
        exported.as_bytes(),
        UploadMode::Replace,
        &s,
    )
    .unwrap();
    assert_eq!(again, merged);
    assert_eq!(export(&again, Root::Config), exported);
    // The RESTCONF root reads the same.
    let data = export(&merged, Root::Data);
    assert_eq!(parse(&data, &s).unwrap(), merged);
}

#[test]
fn replace_makes_the_upload_the_whole_configuration() {
    let s = secrets();
    let replaced = apply(&base(&s), SEED_UPGRADE.as_bytes(), UploadMode::Replace, &s).unwrap_err();
    // The partial upgrade file alone is no configuration: its clients are incomplete.
    let p = problems(replaced);
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(p.iter().all(|p| p.message.contains("needs a <secret>")));
    // A complete file replaces everything: the old authenticators are gone.
    let upgraded = apply(&base(&s), UPGRADE.as_bytes(), UploadMode::Merge, &s).unwrap();
    let mut without_password = upgraded.clone();
    without_password
        .authenticators
        .retain(|a| a.id != "html-form");
    let file = export(&without_password, Root::Config);
    let replaced = apply(&upgraded, file.as_bytes(), UploadMode::Replace, &s).unwrap();
    assert!(replaced.authenticator("html-form").is_none());
    validate(&replaced).unwrap();
}

#[test]
fn every_problem_of_a_bad_file_is_listed_with_path_and_line() {
    let s = secrets();
    let bad = "<config xmlns=\"http://tail-f.com/ns/config/1.0\">\n<facilities xmlns=\"https://curity.se/ns/conf/base\">\n  <sms-providers/>\n</facilities>\n<nacm xmlns=\"urn:ietf:params:xml:ns:yang:ietf-netconf-acm\"/>\n</config>";
    let p = problems(apply(&base(&s), bad.as_bytes(), UploadMode::Merge, &s).unwrap_err());
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        (p[0].path.as_str(), p[0].line),
        ("/facilities/sms-providers", Some(3))
    );
    assert!(
        p[0].message
            .contains("unknown or unsupported element <sms-providers>")
    );
    assert_eq!((p[1].path.as_str(), p[1].line), ("/nacm", Some(5)));
}

#[test]
fn each_class_of_bad_file_gets_a_precise_answer() {
    let s = secrets();
    let config = base(&s);
    let check = |body: &[u8]| apply(&config, body, UploadMode::Merge, &s);

    assert!(matches!(
        check(b"<config xmlns=\"http://tail-f.com/ns/config/1.0\"><profiles"),
        Err(ReadError::Invalid(_))
    ));
    let p = problems(check(b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><config xmlns=\"http://tail-f.com/ns/config/1.0\">&a;</config>").unwrap_err());
    assert!(p[0].message.contains("DTD"), "{p:?}");
    assert_eq!(
        check(&vec![b' '; MAX_DOCUMENT_BYTES + 1]).unwrap_err(),
        ReadError::TooLarge
    );
    assert_eq!(
        check(b"<config xmlns=\"http://tail-f.com/ns/config/1.0\">\xff</config>").unwrap_err(),
        ReadError::NotUtf8
    );
    let p = problems(check(b"<other/>").unwrap_err());
    assert!(p[0].message.contains("root"), "{p:?}");
    let p = problems(
        check(&doc(
            r#"<profiles xmlns="https://curity.se/ns/conf/wrong"/>"#,
        ))
        .unwrap_err(),
    );
    assert!(p[0].message.contains("namespace"), "{p:?}");

    let dup = doc(&format!(
        "{CLIENTS}<client><id>a</id></client><client><id>a</id></client>{CLIENTS_END}"
    ));
    let p = problems(check(&dup).unwrap_err());
    assert!(p[0].message.contains("duplicate"), "{p:?}");

    let short = doc(&format!(
        "{CLIENTS}<client><id>demo-api-client</id><secret>short</secret></client>{CLIENTS_END}"
    ));
    let p = problems(check(&short).unwrap_err());
    assert!(p[0].message.contains("at least 32"), "{p:?}");

    let bad_uri = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><redirect-uris>http://evil.example/cb</redirect-uris></client>{CLIENTS_END}"
    ));
    let merged = check(&bad_uri).unwrap();
    let Err(Problems(p)) = validate(&merged) else {
        panic!("accepted a plain-http redirect URI")
    };
    assert!(
        p[0].message.contains("http is only allowed for loopback"),
        "{p:?}"
    );

    let dangling = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><user-authentication><allowed-authenticators>nope</allowed-authenticators></user-authentication></client>{CLIENTS_END}"
    ));
    let merged = check(&dangling).unwrap();
    let Err(Problems(p)) = validate(&merged) else {
        panic!("accepted a dangling reference")
    };
    assert!(
        p[0].message.contains("\"nope\", which is not defined"),
        "{p:?}"
    );
    assert!(
        p[0].path
            .ends_with("client[demo-web-client]/user-authentication/allowed-authenticators"),
        "{p:?}"
    );
}

#[test]
fn a_public_client_cannot_opt_out_of_pkce_but_a_confidential_one_can() {
    let s = secrets();
    let config = base(&s);
    let opt_out = |id: &str| {
        doc(&format!(
            "{CLIENTS}<client><id>{id}</id><proof-key><require-proof-key>false</require-proof-key></proof-key></client>{CLIENTS_END}"
        ))
    };
    let public = apply(&config, &opt_out("demo-web-client"), UploadMode::Merge, &s).unwrap();
    assert!(validate(&public).is_err());
    let confidential = apply(&config, &opt_out("bff-oauth-client"), UploadMode::Merge, &s).unwrap();
    validate(&confidential).unwrap();
    assert!(
        !confidential
            .client("bff-oauth-client")
            .unwrap()
            .require_pkce
    );
}

#[test]
fn diff_lists_changed_paths() {
    let s = secrets();
    let before = base(&s);
    let after = apply(&before, UPGRADE.as_bytes(), UploadMode::Merge, &s).unwrap();
    let changes = diff(&before, &after);
    assert!(
        changes.iter().any(|c| c
            .path
            .ends_with("/client[demo-web-client]/user-authentication/allowed-authenticators")
            && c.old.is_none()
            && c.new.as_deref() == Some("passkeys")),
        "{changes:#?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.path == "/facilities/email-providers/email-provider[smtp]/smtp/smtp-host")
    );
    assert!(diff(&after, &after).is_empty());
}

#[test]
fn a_stored_configuration_larger_than_the_upload_limit_still_loads() {
    let s = secrets();
    let mut config = base(&s);
    let template = config.clients[0].clone();
    for i in 0..3000 {
        let mut c = template.clone();
        c.id = format!("generated-client-{i}");
        config.clients.push(c);
    }
    let exported = export(&config, Root::Config);
    assert!(exported.len() > MAX_DOCUMENT_BYTES);
    assert_eq!(parse(&exported, &s).unwrap(), config);
    // Uploading it is still refused.
    assert_eq!(
        apply(&config, exported.as_bytes(), UploadMode::Replace, &s).unwrap_err(),
        ReadError::TooLarge
    );
}

#[test]
fn a_repeated_leaf_or_an_operation_on_a_key_is_refused_rather_than_silently_winning() {
    let s = secrets();
    let config = base(&s);
    let renamed = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><id>demo-mobile-client</id></client>{CLIENTS_END}"
    ));
    let p = problems(apply(&config, &renamed, UploadMode::Merge, &s).unwrap_err());
    assert!(
        p[0].message.contains("<id> appears more than once"),
        "{p:?}"
    );
    let keyless = doc(&format!(
        r#"{CLIENTS}<client><id nc:operation="delete">demo-web-client</id></client>{CLIENTS_END}"#
    ));
    let p = problems(apply(&config, &keyless, UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("cannot carry an operation"), "{p:?}");
}

#[test]
fn hostile_documents_are_refused_cheaply() {
    let s = secrets();
    let config = base(&s);
    let deep = format!(
        "<config xmlns=\"http://tail-f.com/ns/config/1.0\">{}",
        "<a>".repeat(300_000)
    );
    let p = problems(apply(&config, deep.as_bytes(), UploadMode::Merge, &s).unwrap_err());
    assert!(
        p.iter().any(|p| p.message.contains("nested more than")),
        "{p:?}"
    );
    let two_roots = b"<config xmlns=\"http://tail-f.com/ns/config/1.0\"/><config xmlns=\"http://tail-f.com/ns/config/1.0\"/>";
    let p = problems(apply(&config, two_roots, UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("after the root"), "{p:?}");
    let trailing = b"<config xmlns=\"http://tail-f.com/ns/config/1.0\"/>trailing";
    let p = problems(apply(&config, trailing, UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("outside the root"), "{p:?}");
    let control = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><client-name>a\u{1}b</client-name></client>{CLIENTS_END}"
    ));
    let p = problems(apply(&config, &control, UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("control characters"), "{p:?}");
}

#[test]
fn operations_inside_a_replaced_element_still_apply() {
    let s = secrets();
    let config = base(&s);
    let replace = doc(&format!(
        r#"{CLIENTS}<client nc:operation="replace"><id>demo-web-client</id><no-authentication>true</no-authentication>
        <redirect-uris>http://localhost:3000/callback</redirect-uris>
        <redirect-uris nc:operation="remove">http://localhost:4000/callback</redirect-uris>
        <capabilities><code/></capabilities></client>{CLIENTS_END}"#
    ));
    let replaced = apply(&config, &replace, UploadMode::Merge, &s).unwrap();
    assert_eq!(
        replaced.client("demo-web-client").unwrap().redirect_uris,
        ["http://localhost:3000/callback"]
    );
}

#[test]
fn deleting_a_whole_leaf_list_clears_it() {
    let s = secrets();
    let config = base(&s);
    let clear = doc(&format!(
        r#"{CLIENTS}<client><id>demo-web-client</id><scope nc:operation="delete"/></client>{CLIENTS_END}"#
    ));
    let cleared = apply(&config, &clear, UploadMode::Merge, &s).unwrap();
    assert!(cleared.client("demo-web-client").unwrap().scopes.is_empty());
    let missing = doc(&format!(
        r#"{CLIENTS}<client><id>demo-api-client</id><allowed-origins nc:operation="delete"/></client>{CLIENTS_END}"#
    ));
    let p = problems(apply(&config, &missing, UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("cannot delete"), "{p:?}");
}

#[test]
fn a_private_key_jwt_client_keeps_its_public_keys_and_refuses_private_ones() {
    let s = secrets();
    let config = base(&s);
    let jwk = r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}"#;
    let upload = doc(&format!(
        "{CLIENTS}<client><id>pk</id><jwks>{jwk}</jwks><capabilities><client-credentials/></capabilities></client>{CLIENTS_END}"
    ));
    let merged = apply(&config, &upload, UploadMode::Merge, &s).unwrap();
    assert!(matches!(
        merged.client("pk").unwrap().authentication,
        ClientAuthentication::PrivateKeyJwt(_)
    ));
    validate(&merged).unwrap();
    assert_eq!(parse(&export(&merged, Root::Config), &s).unwrap(), merged);

    let private = jwk.replace(r#""kid":"k1""#, r#""kid":"k1","d":"secret""#);
    let upload = doc(&format!(
        "{CLIENTS}<client><id>pk</id><jwks>{private}</jwks></client>{CLIENTS_END}"
    ));
    let p = problems(apply(&config, &upload, UploadMode::Merge, &s).unwrap_err());
    assert!(p[0].message.contains("private key"), "{p:?}");
}

#[test]
fn a_curity_hashed_client_secret_is_kept_as_a_hash_and_exported_as_curity_writes_it() {
    let s = secrets();
    let config = base(&s);
    // Curity exports client secrets as SHA-256-crypt; this one is Drepper's test vector for
    // the secret "This is just a test".
    let hash = "$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5";
    let upload = doc(&format!(
        "{CLIENTS}<client><id>gateway</id><secret>{hash}</secret><capabilities><client-credentials/></capabilities></client>{CLIENTS_END}"
    ));
    let merged = apply(&config, &upload, UploadMode::Merge, &s).unwrap();
    assert_eq!(
        merged.client("gateway").unwrap().authentication,
        ClientAuthentication::SecretHash(hash.to_owned()),
        "the hash is not taken for the secret"
    );
    validate(&merged).unwrap();
    let exported = export(&merged, Root::Config);
    assert!(
        exported.contains(&format!("<secret>{hash}</secret>")),
        "{exported}"
    );
    assert_eq!(parse(&exported, &s).unwrap(), merged);
}

#[test]
fn a_secret_placeholder_is_taken_from_the_environment_when_staged_and_never_stored() {
    let s = secrets().with_environment(std::sync::Arc::new(|name: &str| {
        (name == "INTROSPECT_CLIENT_SECRET")
            .then(|| "from-the-environment-0123456789-abcdef".to_owned())
    }));
    let config = base(&s);
    let upload = |name: &str| {
        doc(&format!(
            "{CLIENTS}<client><id>introspector</id><secret>#{{{name}}}</secret><capabilities><client-credentials/></capabilities></client>{CLIENTS_END}"
        ))
    };
    let merged = apply(
        &config,
        &upload("INTROSPECT_CLIENT_SECRET"),
        UploadMode::Merge,
        &s,
    )
    .unwrap();
    let ClientAuthentication::SecretDigest(digest) =
        &merged.client("introspector").unwrap().authentication
    else {
        panic!("a digest")
    };
    assert!(s.verify(
        "introspector",
        "from-the-environment-0123456789-abcdef",
        digest
    ));
    assert!(!s.verify("introspector", "#{INTROSPECT_CLIENT_SECRET}", digest));
    assert!(
        !export(&merged, Root::Config).contains("#{"),
        "never stored as written"
    );

    let p = problems(
        apply(
            &config,
            &upload("MIGRATION_CLIENT_SECRET"),
            UploadMode::Merge,
            &s,
        )
        .unwrap_err(),
    );
    assert!(
        p[0].message
            .contains("environment variable MIGRATION_CLIENT_SECRET is not set"),
        "{p:?}"
    );
}

#[test]
fn enable_registration_round_trips_and_only_email_verification_is_accepted() {
    let s = secrets();
    let manager = |registration: &str| {
        doc(&format!(
            r#"<processing xmlns="https://curity.se/ns/conf/base"><account-managers><account-manager>
            <id>default-account-manager</id>{registration}</account-manager></account-managers></processing>"#
        ))
    };
    let open = apply(
        &base(&s),
        &manager("<enable-registration/>"),
        UploadMode::Merge,
        &s,
    )
    .unwrap();
    assert!(open.account_managers[0].enable_registration);
    let exported = export(&open, Root::Config);
    assert!(
        exported.contains(
            "<account-verification-method>email-verification</account-verification-method>"
        ),
        "{exported}"
    );
    assert_eq!(parse(&exported, &s).unwrap(), open);

    let refused = apply(
        &base(&s),
        &manager(
            "<enable-registration><account-verification-method>none</account-verification-method></enable-registration>",
        ),
        UploadMode::Merge,
        &s,
    );
    let p = problems(refused.unwrap_err());
    assert!(
        p[0].path
            .ends_with("enable-registration/account-verification-method")
            && p[0].message.contains("email-verification"),
        "{p:?}"
    );
}

#[test]
fn a_lifetime_beyond_a_year_is_refused_at_commit_naming_its_path() {
    let s = secrets();
    let config = base(&s);
    let huge = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><access-token-ttl>9223372036854775</access-token-ttl></client>{CLIENTS_END}"
    ));
    let p = problems(apply(&config, &huge, UploadMode::Merge, &s).unwrap_err());
    assert!(
        p.iter()
            .any(|p| p.path.ends_with("access-token-ttl") && p.message.contains("at most")),
        "{p:?}"
    );
    let year = doc(&format!(
        "{CLIENTS}<client><id>demo-web-client</id><refresh-token-max-rolling-lifetime>31536000</refresh-token-max-rolling-lifetime></client>{CLIENTS_END}"
    ));
    assert!(apply(&config, &year, UploadMode::Merge, &s).is_ok());
}

fn smtp_provider(host: &str, port: u16, extra: &str) -> Vec<u8> {
    doc(&format!(
        r#"<facilities xmlns="https://curity.se/ns/conf/base"><email-providers><email-provider><id>mail</id><smtp><smtp-host>{host}</smtp-host><smtp-port>{port}</smtp-port><default-sender>noreply@example.com</default-sender>{extra}</smtp></email-provider></email-providers></facilities>"#
    ))
}

#[test]
fn smtp_without_tls_defaults_to_required_starttls_or_tls_on_465() {
    let s = secrets();
    let config = base(&s);
    let tls_of = |port| {
        apply(
            &config,
            &smtp_provider("mail.example.com", port, ""),
            UploadMode::Merge,
            &s,
        )
        .unwrap()
        .email_providers[0]
            .smtp
            .tls
    };
    assert_eq!(tls_of(587), SmtpTls::StartTls);
    assert_eq!(tls_of(465), SmtpTls::Tls);
}

#[test]
fn cleartext_or_strippable_smtp_to_another_host_is_refused_unless_explicitly_allowed() {
    let s = secrets();
    let config = base(&s);
    for tls in ["none", "opportunistic"] {
        let p = problems(
            apply(
                &config,
                &smtp_provider("mail.example.com", 25, &format!("<tls>{tls}</tls>")),
                UploadMode::Merge,
                &s,
            )
            .unwrap_err(),
        );
        assert!(
            p.iter()
                .any(|p| p.path.ends_with("smtp/tls")
                    && p.message.contains("allow-insecure-transport")),
            "{p:?}"
        );
        // On loopback (a local relay or sink) it is fine.
        for host in ["127.0.0.1", "localhost", "::1"] {
            let extra = format!("<tls>{tls}</tls>");
            assert!(
                apply(
                    &config,
                    &smtp_provider(host, 25, &extra),
                    UploadMode::Merge,
                    &s
                )
                .is_ok(),
                "{host} {tls}"
            );
        }
    }
    let allowed = apply(
        &config,
        &smtp_provider(
            "mail.example.com",
            25,
            "<tls>none</tls><allow-insecure-transport>true</allow-insecure-transport>",
        ),
        UploadMode::Merge,
        &s,
    )
    .unwrap();
    assert!(allowed.email_providers[0].smtp.allow_insecure_transport);
    let exported = crate::config::export(&allowed, crate::config::Root::Config);
    assert!(
        exported.contains("<allow-insecure-transport>true</allow-insecure-transport>"),
        "{exported}"
    );
}
