//! HTTPS with a certificate from the settings.

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};

use crate::helpers::{Options, spawn_app_with};

/// A self-signed P-256 certificate for localhost; returns (cert PEM, key PEM).
fn self_signed_localhost() -> (Vec<u8>, Vec<u8>) {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut builder = X509::builder().unwrap();
    builder.set_version(2).unwrap();
    builder
        .set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    builder
        .append_extension(BasicConstraints::new().critical().build().unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(None, None))
        .unwrap();
    builder.append_extension(san).unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    (
        builder.build().to_pem().unwrap(),
        key.private_key_to_pem_pkcs8().unwrap(),
    )
}

#[tokio::test]
async fn the_server_speaks_https_with_the_configured_certificate() {
    let dir = std::env::temp_dir().join(format!("tessera-tls-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = self_signed_localhost();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, &cert).unwrap();
    std::fs::write(&key_path, &key).unwrap();

    let app = spawn_app_with(Options {
        tls: Some((
            cert_path.display().to_string(),
            key_path.display().to_string(),
        )),
        ..Options::default()
    })
    .await;
    assert!(app.issuer.starts_with("https://localhost:"));
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/.well-known/openid-configuration", app.issuer))
        .send()
        .await
        .expect("TLS handshake with the configured certificate");
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("strict-transport-security"));
    let doc: serde_json::Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], app.issuer);

    // Plain HTTP on the TLS port does not get a response.
    let plain = reqwest::get(format!("http://127.0.0.1:{}/healthz", app.port)).await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    std::fs::remove_dir_all(dir).unwrap();
}
