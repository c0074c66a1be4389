//! SCIM Groups: members added and removed as provisioning clients do it, and the `groups`
//! claim relying parties get from them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::oidc::create_kim;
use crate::scim::{PATCH, Scim, USER, encoded, merge_clients, scim_app};

#[tokio::test]
async fn groups_keep_members_added_and_removed_by_patch() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    let kim = scim
        .create_user(json!({"schemas": [USER], "userName": "kim"}))
        .await;
    let lee = scim
        .create_user(json!({"schemas": [USER], "userName": "lee"}))
        .await;
    let (status, group) = scim
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Staff",
                   "members": [{"value": kim["id"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().unwrap();
    let patch = |operations: Value| {
        scim.send(
            scim.request(reqwest::Method::PATCH, &format!("/Groups/{gid}"))
                .body(json!({"schemas": [PATCH], "Operations": operations}).to_string()),
        )
    };
    let (status, body) =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": lee["id"]}]}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), 2);
    let (status, body) = patch(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", kim["id"].as_str().unwrap())}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["members"],
        json!([{"value": lee["id"], "$ref": lee["meta"]["location"], "type": "User"}])
    );
    // Entra ID's shape: remove with the members as the value takes only those.
    let (status, body) =
        patch(json!([{"op": "add", "path": "members", "value": [{"value": kim["id"]}]}])).await;
    assert_eq!(
        (status, body["members"].as_array().unwrap().len()),
        (StatusCode::OK, 2)
    );
    let (status, body) =
        patch(json!([{"op": "Remove", "path": "members", "value": [{"value": kim["id"]}]}])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["members"][0]["value"], lee["id"], "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), 1);
    let (status, body) = patch(
        json!([{"op": "add", "path": "members", "value": [{"value": uuid::Uuid::new_v4()}]}]),
    )
    .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );
    let (_, found) = scim
        .get(&format!(
            "/Groups?filter={}",
            encoded(r#"displayName eq "staff""#)
        ))
        .await;
    assert_eq!(found["totalResults"], 1);
    let (status, body) = scim
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "STAFF"}))
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
}

#[tokio::test]
async fn a_client_asking_for_the_groups_scope_gets_the_users_groups_in_its_tokens_and_userinfo() {
    let (app, token) = scim_app().await;
    merge_clients(
        &app,
        "<client><id>demo-web-client</id><scope>groups</scope></client>",
    )
    .await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    create_kim(&app).await;
    let (_, found) = scim
        .get(&format!(
            "/Users?filter={}",
            encoded(r#"userName eq "kim""#)
        ))
        .await;
    let kim = found["Resources"][0]["id"].clone();
    for name in ["Staff", "Admins"] {
        let (status, _) = scim
            .post(
                "/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                       "displayName": name, "members": [{"value": kim}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }

    let tokens =
        crate::token_claims::code_flow_in(&app, &crate::oidc::browser(), "openid groups").await;
    let id = crate::token_claims::raw_payload(tokens["id_token"].as_str().unwrap());
    let access = crate::token_claims::raw_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!(id["groups"], json!(["Admins", "Staff"]));
    assert_eq!(access["groups"], json!(["Admins", "Staff"]));
    let userinfo: Value = app
        .client
        .get(format!("{}/oauth/userinfo", app.issuer))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["groups"], json!(["Admins", "Staff"]));

    let without = crate::token_claims::code_flow_in(&app, &crate::oidc::browser(), "openid").await;
    let id = crate::token_claims::raw_payload(without["id_token"].as_str().unwrap());
    assert!(
        id.get("groups").is_none(),
        "only with the groups scope: {id}"
    );
}
