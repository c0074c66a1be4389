//! Names of passkey providers by AAGUID, for the account page ("iCloud Keychain" rather than a
//! UUID). A short list of widespread providers, from the community-maintained
//! passkey-authenticator-aaguids list; an unknown AAGUID (or the all-zero one many
//! authenticators send without attestation) has no name.

use uuid::Uuid;

const PROVIDERS: &[(Uuid, &str)] = &[
    (
        uuid(0xea9b8d66_4d01_1d21_3ce4_b6b48cb575d4),
        "Google Password Manager",
    ),
    (
        uuid(0xadce0002_35bc_c60a_648b_0b25f1f05503),
        "Chrome on Mac",
    ),
    (
        uuid(0xfbfc3007_154e_4ecc_8c0b_6e020557d7bd),
        "iCloud Keychain",
    ),
    (
        uuid(0xdd4ec289_e01d_41c9_bb89_70fa845d4bf2),
        "iCloud Keychain (Managed)",
    ),
    (
        uuid(0x08987058_cadc_4b81_b6e1_30de50dcbe96),
        "Windows Hello",
    ),
    (
        uuid(0x9ddd1817_af5a_4672_a2b9_3e3dd95000a9),
        "Windows Hello",
    ),
    (
        uuid(0x6028b017_b1d4_4c02_b4b3_afcdafc96bb2),
        "Windows Hello",
    ),
    (uuid(0xbada5566_a7aa_401f_bd96_45619a55120d), "1Password"),
    (uuid(0xd548826e_79b4_db40_a3d8_11116f7e8349), "Bitwarden"),
    (uuid(0x531126d6_e717_415c_9320_3d9aa6981239), "Dashlane"),
    (uuid(0xfdb141b2_5d84_443e_8a35_4698c205a502), "KeePassXC"),
    (uuid(0x53414d53_554e_4700_0000_000000000000), "Samsung Pass"),
    (uuid(0x50726f74_6f6e_5061_7373_50726f746f6e), "Proton Pass"),
];

const fn uuid(value: u128) -> Uuid {
    Uuid::from_u128(value)
}

/// The provider's name, when the AAGUID is a known one.
pub fn provider_name(aaguid: Uuid) -> Option<&'static str> {
    PROVIDERS
        .iter()
        .find(|(id, _)| *id == aaguid)
        .map(|(_, name)| *name)
}

/// The AAGUID of a new passkey, from the attestation object the browser sent (a CBOR map whose
/// `authData` holds it).
pub fn from_attestation_object(attestation_object: &[u8]) -> Option<Uuid> {
    let serde_cbor_2::Value::Map(map) =
        serde_cbor_2::from_slice::<serde_cbor_2::Value>(attestation_object).ok()?
    else {
        return None;
    };
    match map.get(&serde_cbor_2::Value::Text("authData".into()))? {
        serde_cbor_2::Value::Bytes(auth_data) => from_authenticator_data(auth_data),
        _ => None,
    }
}

/// The AAGUID in a registration's authenticator data (bytes 37 to 53, after the RP ID hash, the
/// flags and the counter), when the attested credential data is there and the AAGUID is not all
/// zeros.
pub fn from_authenticator_data(auth_data: &[u8]) -> Option<Uuid> {
    const ATTESTED_CREDENTIAL_DATA: u8 = 0x40;
    let flags = *auth_data.get(32)?;
    if flags & ATTESTED_CREDENTIAL_DATA == 0 {
        return None;
    }
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    let aaguid = Uuid::from_bytes(bytes);
    (!aaguid.is_nil()).then_some(aaguid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_providers_are_named_and_the_nil_aaguid_is_not_read() {
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").unwrap();
        assert_eq!(provider_name(icloud), Some("iCloud Keychain"));
        assert_eq!(provider_name(Uuid::nil()), None);
        let mut data = vec![0u8; 60];
        data[32] = 0x45; // UP, UV, AT
        data[37..53].copy_from_slice(icloud.as_bytes());
        assert_eq!(from_authenticator_data(&data), Some(icloud));
        data[37..53].fill(0);
        assert_eq!(from_authenticator_data(&data), None);
        data[32] = 0x05; // no attested credential data
        assert_eq!(from_authenticator_data(&data), None);
        assert_eq!(from_authenticator_data(&[0u8; 10]), None);
    }
}
