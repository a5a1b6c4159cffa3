//! Meta's `X-Hub-Signature-256`: `sha256=` + lowercase hex HMAC-SHA256 of the raw body, keyed
//! with the Meta app's App Secret. Compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header, parsed. Holding one means the header had the right shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSignature([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    #[error("malformed X-Hub-Signature-256 header (expected sha256=<64 hex>)")]
    Malformed,
}

impl HubSignature {
    pub fn parse(header: Option<&[u8]>) -> Result<Self, SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let hex_part = header
            .strip_prefix(b"sha256=")
            .ok_or(SignatureError::Malformed)?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut digest).map_err(|_| SignatureError::Malformed)?;
        Ok(Self(digest))
    }

    /// Whether `body` was signed with `app_secret`.
    pub fn matches(&self, app_secret: &[u8], body: &[u8]) -> bool {
        let Ok(mut mac) = HmacSha256::new_from_slice(app_secret) else {
            return false;
        };
        mac.update(body);
        mac.verify_slice(&self.0).is_ok()
    }
}

/// `sha256=<hex>` for `body` under `app_secret` — what Meta sends; used by the sandbox and the
/// tests to sign sample webhooks.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(app_secret).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_vector() {
        let sig = HubSignature::parse(Some(
            b"sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914",
        ))
        .unwrap();
        assert!(sig.matches(b"secret", b"test"));
        assert!(!sig.matches(b"secret", b"test "));
        assert!(!sig.matches(b"other", b"test"));
        assert_eq!(
            sign(b"secret", b"test"),
            "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
        );
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(HubSignature::parse(None), Err(SignatureError::Missing));
        for bad in [&b"sha1=00"[..], b"sha256=zz", b"sha256=", b"0329a06b"] {
            assert_eq!(
                HubSignature::parse(Some(bad)),
                Err(SignatureError::Malformed)
            );
        }
    }
}
