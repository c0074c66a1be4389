//! Account lifecycle as an operator runs it: a disabled account cannot sign in, and what it
//! had signed in (SSO sessions, refresh tokens) stops working at once; enabled again, it signs
//! in as before. Driven with the `tessera account` commands a real operator types.

use reqwest::StatusCode;

use crate::helpers::{TestApp, spawn_app, tessera};
use crate::oidc::{browser, create_kim, location, refresh, sign_in, tokens_for_kim};

/// `tessera account ARGS` on the test server's database, as an operator would run it.
fn account_command(app: &TestApp, args: &[&str]) -> std::process::Output {
    let kek = tessera_oauth_core::keys::KeyEncryptionKey::generate_base64().unwrap();
    tessera(app.db.url(), &kek)
        .arg("account")
        .args(args)
        .output()
        .unwrap()
}

/// [`account_command`], which must succeed; its output.
fn tessera_account(app: &TestApp, args: &[&str]) -> String {
    let out = account_command(app, args);
    assert!(
        out.status.success(),
        "tessera account {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_and_loses_its_sessions_and_refresh_tokens_until_enabled()
{
    let app = spawn_app().await;
    create_kim(&app).await;
    let (_, refresh_token, _) = tokens_for_kim(&app).await;
    let signed_in = browser();
    let authorize = crate::token_claims::authorize_url(&app, "openid");
    let first = sign_in(&app, &signed_in, &authorize, None).await;
    assert!(location(&first).contains("code="), "kim signs in");

    let out = tessera_account(&app, &["disable", "kim"]);
    assert!(out.contains("disabled kim"), "{out}");
    assert!(tessera_account(&app, &["list"]).contains("disabled since"));

    let (status, body) = refresh(&app, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The browser's SSO session ended: the next request needs a sign-in again …
    let again = signed_in.get(&authorize).send().await.unwrap();
    assert!(
        location(&again).contains("/login?flow="),
        "{}",
        location(&again)
    );
    // … which the right password no longer gets, with the wrong password's answer.
    let refused = sign_in(&app, &browser(), &authorize, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Wrong username or password.")
    );

    assert!(tessera_account(&app, &["enable", "kim"]).contains("enabled kim"));
    let back = sign_in(&app, &browser(), &authorize, None).await;
    assert!(location(&back).contains("code="), "kim signs in again");

    // Both changes are in the audit log, newest first, with who made them.
    let kek = tessera_oauth_core::keys::KeyEncryptionKey::generate_base64().unwrap();
    let out = tessera(app.db.url(), &kek)
        .args(["audit", "--account", "kim"])
        .env("USER", "operator-ann")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0].contains("user.enabled") && lines[1].contains("user.disabled"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .all(|l| l.contains("cli:") && l.contains("kim")),
        "{log}"
    );
}

#[tokio::test]
async fn a_deleted_account_is_gone_from_the_list_and_cannot_sign_in() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let refused = account_command(&app, &["delete", "kim"]);
    assert!(!refused.status.success(), "deleting needs --yes");
    assert!(tessera_account(&app, &["show", "kim"]).contains("status:    enabled"));

    tessera_account(&app, &["delete", "kim", "--yes"]);
    assert!(tessera_account(&app, &["list"]).contains("(0 of 0)"));
    let authorize = crate::token_claims::authorize_url(&app, "openid");
    let refused = sign_in(&app, &browser(), &authorize, None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

/// Signs `username` in with `password` in a new browser; true when the client got a code.
async fn signs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let authorize = crate::token_claims::authorize_url(app, "openid");
    let (http, html) = crate::oidc::open_login_page(app, &authorize).await;
    let posted = http
        .post(format!("{}/login", app.issuer))
        .form(&[
            ("flow", crate::oidc::field(&html, "flow")),
            ("csrf", crate::oidc::field(&html, "csrf")),
            ("username", username.into()),
            ("password", password.into()),
        ])
        .send()
        .await
        .unwrap();
    posted.status() == StatusCode::SEE_OTHER
}

fn stored_hash(app: &TestApp, username: &str) -> String {
    let mut conn = app.db.connect();
    let account = tessera_store::accounts::by_username(&mut conn, username)
        .unwrap()
        .unwrap();
    tessera_store::accounts::password_hash(&mut conn, account.account_id)
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn imported_bcrypt_and_keycloak_users_sign_in_with_their_old_passwords_and_are_rehashed() {
    use base64::Engine;
    let app = spawn_app().await;
    let bcrypt_hash = bcrypt::hash("Old-bcrypt-1", 4).unwrap();
    let salt = b"keycloak-salt-16";
    let mut derived = [0u8; 64];
    openssl::pkcs5::pbkdf2_hmac(
        b"Old-keycloak-1",
        salt,
        27_500,
        openssl::hash::MessageDigest::sha512(),
        &mut derived,
    )
    .unwrap();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    // An argon2id credential as Keycloak 24 exports it: its parameters and base64 salt and
    // value in two JSON strings.
    let phc = tessera_admin::crypto::passwords::hash_here("Old-keycloak-24").unwrap();
    let parts: Vec<&str> = phc.split('$').collect(); // "", argon2id, v=19, m=…,t=…,p=…, salt, hash
    let unpadded = |s: &str| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(s)
            .unwrap()
    };
    let param = |name: &str| {
        parts[3]
            .split(',')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let keycloak24 = serde_json::json!({
        "type": "password",
        "createdDate": 1_733_000_000_000_u64,
        "secretData": serde_json::json!({"value": b64(&unpadded(parts[5])), "salt": b64(&unpadded(parts[4])),
            "additionalParameters": {}}).to_string(),
        "credentialData": serde_json::json!({"hashIterations": param("t").parse::<u32>().unwrap(),
            "algorithm": "argon2", "additionalParameters": {"hashLength": ["32"],
            "memory": [param("m")], "type": ["id"], "version": ["1.3"], "parallelism": [param("p")]}}).to_string(),
    });
    let lines = [
        serde_json::json!({ "username": "ada", "email": "ada@example.com", "password_hash": bcrypt_hash }),
        serde_json::json!({ "username": "kc", "given_name": "Kay", "keycloak_credential": {
            "algorithm": "pbkdf2-sha512", "hashIterations": 27_500,
            "salt": b64(salt), "value": b64(&derived) } }),
        serde_json::json!({ "username": "md5", "password_hash": "5f4dcc3b5aa765d61d8327deb882cf99" }),
        serde_json::json!({ "username": "nopass", "email": "nopass@example.com" }),
        serde_json::json!({ "username": "kc24", "keycloak_credential": keycloak24 }),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{ not json\n");
    let file = std::env::temp_dir().join(format!("import-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, text).unwrap();

    let out = account_command(&app, &["import", file.to_str().unwrap()]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        !out.status.success(),
        "bad lines make the import fail after the rest"
    );
    assert!(
        stdout.contains("imported 4 accounts; 2 lines refused"),
        "{stdout}{stderr}"
    );
    assert!(
        stderr.contains("line 3:") && stderr.contains("line 6:"),
        "{stderr}"
    );

    assert!(!signs_in(&app, "ada", "wrong-password").await);
    assert!(
        stored_hash(&app, "ada").starts_with("$2b$"),
        "a wrong password changes nothing"
    );
    assert!(signs_in(&app, "ada", "Old-bcrypt-1").await);
    assert!(
        stored_hash(&app, "ada").starts_with("$argon2id$"),
        "rehashed"
    );
    assert!(
        signs_in(&app, "ada", "Old-bcrypt-1").await,
        "and still the same password"
    );
    assert!(signs_in(&app, "kc", "Old-keycloak-1").await);
    assert!(stored_hash(&app, "kc").starts_with("$argon2id$"));
    assert!(!signs_in(&app, "kc24", "old-keycloak-24").await);
    assert!(signs_in(&app, "kc24", "Old-keycloak-24").await);
    let _ = std::fs::remove_file(file);
}

/// The `sub` claim of a JWT, read without verifying it (the server's own tests verify it).
fn jwt_subject(jwt: &str) -> String {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_imported_legacy_subject_is_the_sub_of_id_access_refreshed_tokens_and_userinfo() {
    let app = spawn_app().await;
    let line = serde_json::json!({
        "username": "kim", "email": "kim@example.com", "email_verified": true,
        "given_name": "Kim", "legacy_subject": "auth0|5f1a9c",
        "password_hash": bcrypt::hash("Password1", 4).unwrap(),
    });
    let file = std::env::temp_dir().join(format!("import-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let out = tessera_account(&app, &["import", file.to_str().unwrap()]);
    assert!(out.contains("imported 1 accounts"), "{out}");
    let _ = std::fs::remove_file(file);

    let (id_subject, access, refresh_token) =
        crate::oidc::id_subject_and_tokens_for_kim(&app).await;
    assert_eq!(id_subject, "auth0|5f1a9c", "the ID token keeps the old sub");
    assert_eq!(
        jwt_subject(&access),
        "auth0|5f1a9c",
        "so does the access token"
    );
    let (status, refreshed) = refresh(&app, &refresh_token).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(
        jwt_subject(refreshed["access_token"].as_str().unwrap()),
        "auth0|5f1a9c"
    );
    let userinfo: serde_json::Value = app
        .client
        .get(format!("{}/oauth/userinfo", app.issuer))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "auth0|5f1a9c");
    let stored = tessera_store::accounts::by_username(&mut app.db.connect(), "kim")
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.attributes["email_verified"], true,
        "verified elsewhere, kept"
    );

    // Kim's legacy subject changes; the old one was issued as her `sub`, so it is never
    // given to anyone else.
    {
        let mut conn = app.db.connect();
        let kim = tessera_store::accounts::by_username(&mut conn, "kim")
            .unwrap()
            .unwrap();
        let profile = tessera_store::directory::Profile {
            username: kim.username.clone(),
            email: kim.email.clone(),
            external_id: None,
            legacy_subject: Some("auth0|renamed".into()),
            attributes: kim.attributes.clone(),
            active: true,
        };
        let now = chrono::Utc::now();
        let written =
            tessera_store::directory::replace(&mut conn, kim.account_id, &profile, &[], None, now)
                .unwrap();
        assert!(matches!(
            written,
            tessera_store::directory::Written::Stored(_)
        ));
    }
    // A second account cannot take the old legacy subject, nor one shaped like Tessera's own.
    let clash = serde_json::json!({"username": "lee", "legacy_subject": "auth0|5f1a9c"});
    let derived = serde_json::json!({"username": "max", "legacy_subject": "a".repeat(64)});
    let file = std::env::temp_dir().join(format!("import-{}.jsonl", uuid::Uuid::new_v4()));
    let mut bytes = format!("{clash}\n{derived}\n").into_bytes();
    bytes.extend_from_slice(b"{\"username\": \"\xff\"}\n");
    std::fs::write(&file, bytes).unwrap();
    let out = account_command(&app, &["import", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 1: the legacy subject belongs to another account"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 2: the legacy subject must not be 64 lowercase hex"),
        "{stderr}"
    );
    assert!(stderr.contains("line 3: not UTF-8 text"), "{stderr}");
    let _ = std::fs::remove_file(file);
}

/// Stores a passkey row for `username` (its credential is never used here).
pub(crate) fn give_passkey(app: &TestApp, username: &str, name: &str) -> uuid::Uuid {
    let mut conn = app.db.connect();
    let account = tessera_store::accounts::by_username(&mut conn, username)
        .unwrap()
        .unwrap();
    let device_id = uuid::Uuid::new_v4();
    let row = tessera_store::passkeys::DeviceRow {
        device_id,
        account_id: account.account_id,
        device_type: "webauthn".into(),
        credential_id: device_id.as_bytes().to_vec(),
        credential: serde_json::json!({}),
        name: name.into(),
        aaguid: None,
        sign_count: 0,
        backup_eligible: false,
        backup_state: false,
        created_at: chrono::Utc::now(),
        last_used_at: None,
    };
    tessera_store::passkeys::insert_device(&mut conn, &row).unwrap();
    device_id
}

#[tokio::test]
async fn an_operator_removes_a_lost_passkey_and_is_asked_to_confirm_removing_the_last_way_in() {
    let app = spawn_app().await;
    create_kim(&app).await;
    let changed_at = || {
        tessera_store::accounts::by_username(&mut app.db.connect(), "kim")
            .unwrap()
            .unwrap()
            .updated_at
    };
    let created = changed_at();
    let phone = give_passkey(&app, "kim", "Old phone");
    let registered = changed_at();
    assert!(
        registered > created,
        "a new passkey changes the account (its SCIM version)"
    );
    give_passkey(&app, "kim", "Laptop");
    assert!(tessera_account(&app, &["show", "kim"]).contains("Old phone"));

    let out = tessera_account(&app, &["remove-passkey", "kim", "Old phone"]);
    assert!(
        out.contains(&format!("removed passkey {phone} from kim")),
        "{out}"
    );
    assert!(changed_at() > registered, "so does removing one");
    let shown = tessera_account(&app, &["show", "kim"]);
    assert!(
        !shown.contains("Old phone") && shown.contains("Laptop"),
        "{shown}"
    );
    let missing = account_command(&app, &["remove-passkey", "kim", "Old phone"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no passkey"));

    // An account whose passkey is its only way in (no password).
    let line = serde_json::json!({"username": "lee"});
    let file = std::env::temp_dir().join(format!("import-{}.jsonl", uuid::Uuid::new_v4()));
    std::fs::write(&file, format!("{line}\n")).unwrap();
    tessera_account(&app, &["import", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(file);
    let only = give_passkey(&app, "lee", "Security key");
    let refused = account_command(&app, &["remove-passkey", "lee", &only.to_string()]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only way to sign in; add --yes"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let out = tessera_account(&app, &["remove-passkey", "lee", &only.to_string(), "--yes"]);
    assert!(out.contains("removed passkey"), "{out}");
}
