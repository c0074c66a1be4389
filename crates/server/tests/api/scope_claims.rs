//! The token profile's `scopes` decide what UserInfo releases (Curity's meaning), and its
//! `openid-connect` switch decides whether the metadata is published.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_admin::config::UploadMode;

use crate::helpers::spawn_app;
use crate::oidc::{browser, create_kim};
use crate::token_claims::code_flow_in;

const PROFILE: &str = r#"<profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth">"#;
const PROFILE_END: &str = "</authorization-server></settings></profile></profiles>";

fn edit(settings: &str) -> Vec<u8> {
    format!(r#"<config xmlns="http://tail-f.com/ns/config/1.0">{PROFILE}{settings}{PROFILE_END}</config>"#)
        .into_bytes()
}

#[tokio::test]
async fn userinfo_releases_the_claims_the_profile_gives_a_scope_and_oidc_cores_for_the_rest() {
    let app = spawn_app().await;
    create_kim(&app).await;
    // `profile` narrowed to the username; `email` left to OpenID Connect Core §5.4.
    app.config
        .edit_and_commit(
            edit("<scopes><scope><id>profile</id><claims>preferred_username</claims></scope></scopes>"),
            UploadMode::Merge,
            "narrow profile",
        )
        .await
        .unwrap();
    let tokens = code_flow_in(&app, &browser(), "openid profile email").await;
    let info: Value = app
        .client
        .get(format!("{}/oauth/userinfo", app.issuer))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["preferred_username"], "kim", "{info}");
    assert_eq!(info["email"], "kim@example.com", "{info}");
    assert!(info.get("email_verified").is_some(), "{info}");
    for withheld in ["name", "given_name", "family_name"] {
        assert!(info.get(withheld).is_none(), "{withheld} released: {info}");
    }
}

#[tokio::test]
async fn an_openid_connect_profile_without_expose_metadata_publishes_no_discovery_document() {
    let app = spawn_app().await;
    let discovery = || async {
        app.client
            .get(format!("{}/.well-known/openid-configuration", app.issuer))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(discovery().await, StatusCode::OK);
    // A merge keeps what it does not name: the switch is removed with a NETCONF delete.
    app.config
        .edit_and_commit(
            edit(r#"<openid-connect><expose-metadata xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="delete"/></openid-connect>"#),
            UploadMode::Merge,
            "hide",
        )
        .await
        .unwrap();
    assert_eq!(discovery().await, StatusCode::NOT_FOUND);
    app.config
        .edit_and_commit(
            edit("<openid-connect><expose-metadata/></openid-connect>"),
            UploadMode::Merge,
            "show",
        )
        .await
        .unwrap();
    assert_eq!(discovery().await, StatusCode::OK);
}
