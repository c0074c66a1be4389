//! SCIM 2.0 as provisioning clients use it: a client-credentials token with the `scim` scope,
//! filters and paging, PATCH, ETags, the account lifecycle it drives, and what bad requests get.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::spawn_admin_app;
use crate::helpers::TestApp;
use crate::oidc::{create_kim, refresh, tokens_for_kim};

const PROVISIONER: &str = "hr-provisioning";
const PROVISIONER_SECRET: &str = "Provisioning-Secret-0123456789-abcdefgh";
pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const TESSERA: &str = "urn:ietf:params:scim:schemas:extension:tessera:2.0:User";

/// A confidential client that may get `scim` tokens.
async fn add_provisioner(app: &TestApp) {
    merge_clients(
        app,
        &format!(
            "<client><id>{PROVISIONER}</id><secret>{PROVISIONER_SECRET}</secret>\
             <scope>scim</scope><capabilities><client-credentials/></capabilities></client>"
        ),
    )
    .await;
}

pub(crate) async fn merge_clients(app: &TestApp, client: &str) {
    let xml = format!(
        r#"<config xmlns="http://tail-f.com/ns/config/1.0"><profiles xmlns="https://curity.se/ns/conf/base"><profile><id>token-service</id><settings><authorization-server xmlns="https://curity.se/ns/conf/profile/oauth"><client-store><config-backed>{client}</config-backed></client-store></authorization-server></settings></profile></profiles></config>"#
    );
    assert_eq!(app.upload("merge", xml).await.status(), StatusCode::OK);
    assert_eq!(app.commit("provisioning").await.status(), StatusCode::OK);
}

async fn client_token(app: &TestApp, client: &str, secret: &str, scope: &str) -> String {
    let res: Value = app
        .client
        .post(format!("{}/oauth/token", app.issuer))
        .basic_auth(client, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_owned()
}

/// A test server with the provisioning client, and a `scim` token for it.
pub(crate) async fn scim_app() -> (TestApp, String) {
    let app = spawn_admin_app().await;
    add_provisioner(&app).await;
    let token = client_token(&app, PROVISIONER, PROVISIONER_SECRET, "scim").await;
    (app, token)
}

pub(crate) struct Scim<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) token: &'a str,
}

impl Scim<'_> {
    pub(crate) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, format!("{}/scim/v2{path}", self.app.origin))
            .bearer_auth(self.token)
            .header("Content-Type", "application/scim+json")
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let res = request.send().await.unwrap();
        let status = res.status();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
        };
        (status, body)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(
            self.request(reqwest::Method::POST, path)
                .body(body.to_string()),
        )
        .await
    }

    async fn patch(&self, id: &str, operations: Value) -> (StatusCode, Value) {
        let body = json!({"schemas": [PATCH], "Operations": operations});
        self.send(
            self.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
                .body(body.to_string()),
        )
        .await
    }

    pub(crate) async fn create_user(&self, user: Value) -> Value {
        let (status, body) = self.post("/Users", user).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn user_names(&self, query: &str) -> (i64, Vec<String>) {
        let (status, body) = self.get(&format!("/Users?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
        let names = body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap_or_default().to_owned())
            .collect();
        (body["totalResults"].as_i64().unwrap(), names)
    }
}

pub(crate) fn encoded(filter: &str) -> String {
    url::form_urlencoded::byte_serialize(filter.as_bytes()).collect()
}

#[tokio::test]
async fn scim_takes_a_scim_scoped_client_token_or_the_admin_token_and_refuses_anything_else() {
    let (app, token) = scim_app().await;
    let users = format!("{}/scim/v2/Users", app.origin);
    let scoped = app
        .client
        .get(&users)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(scoped.status(), StatusCode::OK);
    assert_eq!(
        scoped.headers()["content-type"],
        "application/scim+json",
        "SCIM answers in its media type"
    );
    let admin = app
        .client
        .get(&users)
        .bearer_auth(crate::admin::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), StatusCode::OK);

    let anonymous = app.client.get(&users).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "401");

    let other_scope = client_token(
        &app,
        "demo-api-client",
        "Demo-API-Secret-0123456789-abcdefghijk",
        "introspect",
    )
    .await;
    let wrong = app
        .client
        .get(&users)
        .bearer_auth(&other_scope)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    // A user's token for a client that holds the scope is not the client's own.
    merge_clients(
        &app,
        "<client><id>demo-web-client</id><scope>scim</scope></client>",
    )
    .await;
    create_kim(&app).await;
    let users_token =
        crate::token_claims::code_flow_in(&app, &crate::oidc::browser(), "openid scim").await;
    let as_user = app
        .client
        .get(&users)
        .bearer_auth(users_token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(as_user.status(), StatusCode::FORBIDDEN);
    let not_allowed = app
        .client
        .post(format!("{}/scim/v2/ServiceProviderConfig", app.origin))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = not_allowed.json().await.unwrap();
    assert_eq!(body["status"], "405");
    let forged = format!("{}x", &token[..token.len() - 1]);
    let forged = app
        .client
        .get(&users)
        .bearer_auth(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

/// Six users to filter and page through.
async fn six_users(scim: &Scim<'_>) {
    for (name, email, external, active) in [
        ("alice", "alice@example.com", "e-1", true),
        ("bob", "bob@corp.example", "e-2", true),
        ("carol", "carol@example.com", "e-3", false),
        ("dave", "dave@corp.example", "e-4", true),
        ("erin", "erin@example.com", "e-5", false),
        ("frank", "frank@example.org", "e-6", true),
    ] {
        let mut user = json!({
            "schemas": [USER],
            "userName": name,
            "externalId": external,
            "name": {"givenName": name.to_uppercase(), "familyName": "Tester"},
            "emails": [{"value": email, "type": "work", "primary": true}],
            "active": active,
        });
        if name == "frank" {
            user.as_object_mut().unwrap().remove("name");
        }
        scim.create_user(user).await;
    }
}

#[tokio::test]
async fn users_filter_sort_and_page_as_rfc_7644_says() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    six_users(&scim).await;
    for (filter, expected) in [
        (r#"userName eq "ALICE""#, vec!["alice"]),
        (r#"userName co "r""#, vec!["carol", "erin", "frank"]),
        (r#"userName sw "d""#, vec!["dave"]),
        (r#"userName ew "ob""#, vec!["bob"]),
        (
            r#"userName ne "bob" and active eq false"#,
            vec!["carol", "erin"],
        ),
        (r#"emails.value ew "@corp.example""#, vec!["bob", "dave"]),
        (r#"emails[value sw "frank@"]"#, vec!["frank"]),
        (
            r#"externalId eq "e-3" or externalId eq "e-5""#,
            vec!["carol", "erin"],
        ),
        (r#"externalId eq "E-3""#, vec![]),
        // Values are values, never patterns.
        (r#"userName co "%" or userName sw "_""#, vec![]),
        (
            "name.givenName pr",
            vec!["alice", "bob", "carol", "dave", "erin"],
        ),
        ("not (name.givenName pr)", vec!["frank"]),
        (
            r#"active eq true and (userName sw "a" or userName sw "f")"#,
            vec!["alice", "frank"],
        ),
        (
            r#"meta.lastModified gt "2000-01-01T00:00:00Z" and userName eq "bob""#,
            vec!["bob"],
        ),
        (r#"meta.created lt "2000-01-01T00:00:00Z""#, vec![]),
    ] {
        let (total, mut names) = scim
            .user_names(&format!("filter={}", encoded(filter)))
            .await;
        names.sort();
        assert_eq!(names, expected, "{filter}");
        assert_eq!(total, expected.len() as i64, "{filter}");
    }
    let (total, page) = scim
        .user_names("sortBy=userName&sortOrder=descending&startIndex=2&count=3")
        .await;
    assert_eq!(
        (total, page),
        (6, vec!["erin".into(), "dave".into(), "carol".into()])
    );
    let (_, past_the_end) = scim.user_names("startIndex=7&count=3").await;
    assert!(past_the_end.is_empty());
    let (total, none) = scim.user_names("count=0").await;
    assert_eq!((total, none.len()), (6, 0), "count=0 counts only");

    let (status, search) = scim
        .post(
            "/Users/.search",
            json!({"filter": "userName sw \"a\"", "attributes": ["userName"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{search}");
    let alice = &search["Resources"][0];
    assert_eq!(alice["userName"], "alice");
    assert!(
        alice.get("emails").is_none(),
        "only the asked-for attributes: {alice}"
    );
    assert!(alice.get("id").is_some(), "id is always returned");
    let (_, trimmed) = scim
        .get(&format!(
            "/Users/{}?excludedAttributes=emails,name",
            alice["id"].as_str().unwrap()
        ))
        .await;
    assert!(trimmed.get("emails").is_none() && trimmed.get("name").is_none());
    assert_eq!(trimmed["userName"], "alice");
}

#[tokio::test]
async fn bad_filters_paths_and_bodies_get_scim_errors_naming_the_problem() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    let kim = scim
        .create_user(json!({"schemas": [USER], "userName": "kim"}))
        .await;
    let id = kim["id"].as_str().unwrap();
    let long = format!("userName eq \"{}\"", "x".repeat(5000));
    for (query, scim_type, says) in [
        (
            r#"userName eq"#.to_owned(),
            "invalidFilter",
            "expected a value",
        ),
        (
            r#"password eq "x""#.to_owned(),
            "invalidFilter",
            "cannot be filtered on password",
        ),
        (
            r#"active eq "yes""#.to_owned(),
            "invalidFilter",
            "true or false",
        ),
        (long, "invalidFilter", "longer than"),
    ] {
        let (status, body) = scim
            .get(&format!("/Users?filter={}", encoded(&query)))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["scimType"], scim_type);
        assert!(body["detail"].as_str().unwrap().contains(says), "{body}");
    }
    let cases = [
        (
            json!([{"op": "replace", "path": "nickName", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
            "invalidPath",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "x"}]),
            "noTarget",
        ),
        (
            json!([{"op": "add", "path": "meta", "value": {}}]),
            "invalidPath",
        ),
        (
            json!([{"op": "add", "path": format!("{TESSERA}:passkeys"), "value": []}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": ""}]),
            "invalidValue",
        ),
        (
            json!([{"op": "jump", "path": "userName", "value": "x"}]),
            "invalidSyntax",
        ),
    ];
    for (operations, scim_type) in cases {
        let (status, body) = scim.patch(id, operations.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{operations}: {body}");
        assert_eq!(body["scimType"], scim_type, "{operations}: {body}");
    }
    let (status, body) = scim
        .send(
            scim.request(reqwest::Method::POST, "/Users")
                .body("{not json"),
        )
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidSyntax"))
    );
    let (status, body) = scim
        .post("/Users", json!({"schemas": [USER], "userName": "KIM"}))
        .await;
    assert_eq!(
        (status, body["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
    let (status, body) = scim.get("/Users/not-an-id").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("404"))
    );
    let (status, _) = scim.get("/Nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The account is as it was.
    let (_, unchanged) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(unchanged["meta"], kim["meta"]);
}

#[tokio::test]
async fn patch_adds_replaces_and_removes_emails_and_active() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    let kim = scim
        .create_user(json!({"schemas": [USER], "userName": "kim"}))
        .await;
    let id = kim["id"].as_str().unwrap();
    assert!(kim.get("active").is_none() && kim.get("emails").is_none());

    let steps = [
        (
            json!([{"op": "add", "path": "emails", "value": [{"value": "kim@example.com", "type": "work", "primary": true}]}]),
            json!([{"value": "kim@example.com", "type": "work", "primary": true}]),
            None,
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "kim@corp.example"}]),
            json!([{"value": "kim@corp.example", "type": "work", "primary": true}]),
            None,
        ),
        // Okta's shape: no path, an object of attributes.
        (
            json!([{"op": "replace", "value": {"active": true, "emails": [{"value": "kim@okta.example"}]}}]),
            json!([{"value": "kim@okta.example"}]),
            Some(json!(true)),
        ),
        // Entra ID's shape: capitalised op, a boolean as a string.
        (
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            json!([{"value": "kim@okta.example"}]),
            Some(json!(false)),
        ),
        (
            json!([{"op": "remove", "path": "emails[value eq \"kim@okta.example\"]"}, {"op": "replace", "path": "active", "value": true}]),
            Value::Null,
            Some(json!(true)),
        ),
        (
            json!([{"op": "remove", "path": "active"}]),
            Value::Null,
            None,
        ),
    ];
    for (operations, emails, active) in steps {
        let (status, body) = scim.patch(id, operations.clone()).await;
        assert_eq!(status, StatusCode::OK, "{operations}: {body}");
        assert_eq!(
            body.get("emails").cloned().unwrap_or(Value::Null),
            emails,
            "{operations}"
        );
        assert_eq!(body.get("active").cloned(), active, "{operations}");
        let (_, read) = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(read, body, "what PATCH answers is what is stored");
    }
}

#[tokio::test]
async fn a_write_with_a_stale_etag_is_refused_with_412_and_changes_nothing() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    let kim = scim
        .create_user(json!({"schemas": [USER], "userName": "kim"}))
        .await;
    let id = kim["id"].as_str().unwrap();
    let first = kim["meta"]["version"].as_str().unwrap().to_owned();
    let read = scim
        .request(reqwest::Method::GET, &format!("/Users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(read.headers()["etag"].to_str().unwrap(), first);

    let rename = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Kim A."}]});
    let (status, changed) = scim
        .send(
            scim.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
                .header("If-Match", &first)
                .body(rename.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(changed["meta"]["version"].as_str().unwrap(), first);
    for request in [
        scim.request(reqwest::Method::PATCH, &format!("/Users/{id}"))
            .body(rename.to_string()),
        scim.request(reqwest::Method::PUT, &format!("/Users/{id}"))
            .body(json!({"schemas": [USER], "userName": "kimberly"}).to_string()),
        scim.request(reqwest::Method::DELETE, &format!("/Users/{id}")),
    ] {
        let (status, body) = scim.send(request.header("If-Match", &first)).await;
        assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    }
    let (_, now) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(now, changed);
}

#[tokio::test]
async fn deactivating_through_scim_ends_refresh_tokens_and_introspection_of_issued_tokens() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    create_kim(&app).await;
    let (access, refresh_token, _) = tokens_for_kim(&app).await;
    let (_, found) = scim
        .get(&format!(
            "/Users?filter={}",
            encoded(r#"userName eq "kim""#)
        ))
        .await;
    let id = found["Resources"][0]["id"].as_str().unwrap().to_owned();
    let introspect = || async {
        let res: Value = app
            .client
            .post(format!("{}/oauth/introspect", app.issuer))
            .basic_auth(
                "demo-api-client",
                Some("Demo-API-Secret-0123456789-abcdefghijk"),
            )
            .form(&[("token", access.as_str())])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        res["active"].clone()
    };
    assert_eq!(introspect().await, true);

    let (status, _) = scim
        .patch(
            &id,
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        introspect().await,
        false,
        "the access token of a disabled account"
    );
    let userinfo = app
        .client
        .get(format!("{}/oauth/userinfo", app.issuer))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        userinfo.status(),
        StatusCode::UNAUTHORIZED,
        "nor does userinfo answer for it"
    );
    let (status, body) = refresh(&app, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );

    let (status, _) = scim
        .send(scim.request(reqwest::Method::DELETE, &format!("/Users/{id}")))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let account_id: uuid::Uuid = id.parse().unwrap();
    // The audit log keeps what was done, after the account is gone.
    let log = tessera_store::audit::recent(&mut app.db.connect(), Some(account_id), 10).unwrap();
    let seen: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("scim:hr-provisioning", "user.deleted", "kim"),
            ("scim:hr-provisioning", "user.disabled", "kim"),
        ]
    );
    for table in [
        "accounts",
        "password_credentials",
        "sso_sessions",
        "refresh_tokens",
        "authorization_codes",
        "account_subjects",
        "devices",
        "group_members",
        "sign_ins",
    ] {
        let left: i64 = {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {table} WHERE account_id = $1"
            ))
            .bind::<diesel::sql_types::Uuid, _>(account_id)
            .get_result::<Count>(&mut app.db.connect())
            .unwrap()
            .n
        };
        assert_eq!(left, 0, "{table} keeps nothing of the deleted user");
    }
    let (status, _) = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_put_that_does_not_speak_of_the_extension_or_active_keeps_them() {
    let (app, token) = scim_app().await;
    let scim = Scim {
        app: &app,
        token: &token,
    };
    let kim = scim
        .create_user(
            json!({"schemas": [USER, TESSERA], "userName": "kim", "active": false,
                            TESSERA: {"legacySubject": "okta|00u1", "emailVerified": true}}),
        )
        .await;
    let id = kim["id"].as_str().unwrap();
    // What Okta or Entra ID send: the core schema only, no `active`.
    let (status, body) = scim
        .send(
            scim.request(reqwest::Method::PUT, &format!("/Users/{id}"))
                .body(
                    json!({"schemas": [USER], "userName": "kim", "displayName": "Kim"}).to_string(),
                ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[TESSERA]["legacySubject"], "okta|00u1");
    assert_eq!(body[TESSERA]["emailVerified"], true);
    assert_eq!(
        body["active"], false,
        "a PUT without active leaves the account disabled"
    );
    assert_eq!(body["displayName"], "Kim");
    // A PUT that names the extension replaces it.
    let (status, body) = scim
        .send(
            scim.request(reqwest::Method::PUT, &format!("/Users/{id}"))
                .body(
                    json!({"schemas": [USER, TESSERA], "userName": "kim", "active": true})
                        .to_string(),
                ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get(TESSERA).is_none(), "{body}");
    assert_eq!(body["active"], true);
}

/// Where scim2-tester's command line is: `SCIM2_CLI`, else the virtual environment `.ci/run`
/// makes, else `scim2` on the PATH.
fn scim2_cli() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("SCIM2_CLI") {
        return path.into();
    }
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scim2-venv/bin/scim2");
    if venv.exists() {
        return venv;
    }
    "scim2".into()
}

#[tokio::test]
async fn scim2_tester_finds_no_failure() {
    let (app, token) = scim_app().await;
    let cli = scim2_cli();
    let out = tokio::process::Command::new(&cli)
        .args(["-u", &format!("{}/scim/v2", app.origin)])
        .args(["-h", &format!("Authorization: Bearer {token}"), "test"])
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "scim2-tester's CLI ({}) does not run: {e}. Install it as .ci/run does: \
                 python3 -m venv target/scim2-venv && target/scim2-venv/bin/pip install -r \
                 .ci/scim2-requirements.txt",
                cli.display()
            )
        });
    let report = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::create_dir_all(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/e2e"));
    let _ = std::fs::write(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/e2e/scim2-tester.txt"
        ),
        report.as_bytes(),
    );
    let checks = report.lines().filter(|l| l.starts_with("SUCCESS")).count();
    assert!(
        out.status.success(),
        "scim2-tester reported failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        checks > 50,
        "scim2-tester ran only {checks} checks:\n{report}"
    );
}
