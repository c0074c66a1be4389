//! HMAC-SHA-256 (RFC 2104) over OpenSSL's SHA-256.
//!
//! Every form post checks a CSRF token, every session cookie and client secret is a MAC, and
//! pairwise subjects are one: OpenSSL 3's `EVP` MAC path builds a key object and fetches its
//! algorithms from the provider on each call, which is a visible share of a passkey sign-in's
//! CPU (figures in `docs/performance.md`). This construction over the low-level SHA-256 fetches
//! nothing; it is checked against RFC 4231's vectors and OpenSSL's own HMAC below.

use openssl::sha::{Sha256, sha256};

/// SHA-256's block size.
const BLOCK: usize = 64;

/// HMAC-SHA-256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // A key longer than a block is hashed first; a shorter one is padded with zeros.
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&sha256(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|k| k ^ byte);

    let mut inner = Sha256::new();
    inner.update(&pad(0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(&pad(0x5c));
    outer.update(&inner.finish());
    outer.finish()
}

#[cfg(test)]
mod tests {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;

    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc_4231_test_vectors_match() {
        let cases: [(&[u8], &[u8], &str); 5] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 20],
                &[0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            // Keys longer than a block: hashed first.
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                &[0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, message, expected) in cases {
            assert_eq!(hex(&hmac_sha256(key, message)), expected);
        }
    }

    #[test]
    fn agrees_with_openssl_hmac_for_every_key_length_around_the_block_size() {
        // (OpenSSL refuses an empty HMAC key; ours are never empty.)
        for key_len in [1, 31, 32, 63, 64, 65, 100, 200] {
            for message_len in [0, 1, 55, 56, 64, 1000] {
                let key: Vec<u8> = (0..key_len).map(|i| (i * 7 + 3) as u8).collect();
                let message: Vec<u8> = (0..message_len).map(|i| (i * 13) as u8).collect();
                let pkey = PKey::hmac(&key).unwrap();
                let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
                signer.update(&message).unwrap();
                assert_eq!(
                    hmac_sha256(&key, &message).to_vec(),
                    signer.sign_to_vec().unwrap(),
                    "key {key_len} bytes, message {message_len} bytes"
                );
            }
        }
    }
}
