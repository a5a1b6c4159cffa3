//! Twilio's `X-Twilio-Signature` (legacy SMS webhooks).
//!
//! Twilio signs the request, not the bytes: base64 of HMAC-SHA1, keyed with the account's Auth
//! Token, over the full public URL it called (scheme, host, path and query, exactly as
//! configured in Twilio) followed by every POST form parameter, sorted by name, each written
//! as its name immediately followed by its value. Repeated names are sorted by value too, as
//! Twilio's own SDKs do.
//!
//! Two things to know before touching this:
//!
//! - The URL must be the one Twilio called, not the one we received: behind a TLS-terminating
//!   proxy the scheme and port differ. Callers build it from the configured public base URL
//!   plus the request's path and query.
//! - The parameters are the decoded form fields (see
//!   `switchyard_shared::payloads::twilio::FormParams`), in any order: sorting happens here.
//!
//! [`signature`] computes the header value; the sandbox uses it to sign sample webhooks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// Why a Twilio webhook was refused. The messages are fit for a 401 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioSignatureError {
    #[error("missing X-Twilio-Signature header")]
    Missing,
    #[error("malformed X-Twilio-Signature header (expected base64 of 20 bytes)")]
    Malformed,
    #[error("Twilio signature does not match")]
    WrongSignature,
}

/// The header, parsed. Holding one means the header had the right shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioSignature([u8; 20]);

impl TwilioSignature {
    pub fn parse(header: Option<&[u8]>) -> Result<Self, TwilioSignatureError> {
        let header = header.ok_or(TwilioSignatureError::Missing)?;
        STANDARD
            .decode(header)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .map(Self)
            .ok_or(TwilioSignatureError::Malformed)
    }

    /// Whether Twilio signed a request to `url` carrying `params` with `auth_token`. Compared
    /// in constant time.
    pub fn matches<K: AsRef<str>, V: AsRef<str>>(
        &self,
        auth_token: &[u8],
        url: &str,
        params: &[(K, V)],
    ) -> bool {
        mac(auth_token, url, params).verify_slice(&self.0).is_ok()
    }
}

/// Parse the header and check it, in one call.
pub fn verify<K: AsRef<str>, V: AsRef<str>>(
    header: Option<&[u8]>,
    auth_token: &[u8],
    url: &str,
    params: &[(K, V)],
) -> Result<(), TwilioSignatureError> {
    if TwilioSignature::parse(header)?.matches(auth_token, url, params) {
        Ok(())
    } else {
        Err(TwilioSignatureError::WrongSignature)
    }
}

/// The `X-Twilio-Signature` value Twilio sends for a request to `url` carrying `params`.
pub fn signature<K: AsRef<str>, V: AsRef<str>>(
    auth_token: &[u8],
    url: &str,
    params: &[(K, V)],
) -> String {
    STANDARD.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// The HMAC over the canonical form: the URL, then `name value` of every parameter sorted by
/// name and then value, without separators.
fn mac<K: AsRef<str>, V: AsRef<str>>(auth_token: &[u8], url: &str, params: &[(K, V)]) -> HmacSha1 {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()))
        .collect();
    sorted.sort_unstable();
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha1::new_from_slice(auth_token).unwrap_or_else(|_| unreachable!());
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];

    /// `expected` is what we compute, and what we accept.
    fn assert_vector<K: AsRef<str>, V: AsRef<str>>(
        token: &[u8],
        url: &str,
        params: &[(K, V)],
        expected: &str,
    ) {
        assert_eq!(signature(token, url, params), expected);
        assert_eq!(
            verify(Some(expected.as_bytes()), token, url, params),
            Ok(())
        );
    }

    #[test]
    fn documented_vector() {
        assert_vector(TOKEN, URL, &PARAMS, EXPECTED);
    }

    #[test]
    fn vector_file_entries() {
        let vectors: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/signature_vectors.json"
        ))
        .unwrap();
        let entries = vectors["twilio_x_twilio_signature"].as_array().unwrap();
        assert!(!entries.is_empty());
        for entry in entries {
            let params: Vec<(String, String)> = entry["form_params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            assert_vector(
                entry["auth_token"].as_str().unwrap().as_bytes(),
                entry["url"].as_str().unwrap(),
                &params,
                entry["expected"].as_str().unwrap(),
            );
        }
    }

    #[test]
    fn parameter_order_does_not_matter() {
        let mut reordered = PARAMS;
        reordered.reverse();
        assert_eq!(
            verify(Some(EXPECTED.as_bytes()), TOKEN, URL, &reordered),
            Ok(())
        );
    }

    #[test]
    fn wrong_token_url_or_params_are_refused() {
        let header = Some(EXPECTED.as_bytes());
        let refused = Err(TwilioSignatureError::WrongSignature);
        assert_eq!(verify(header, b"54321", URL, &PARAMS), refused);
        assert_eq!(
            verify(
                header,
                TOKEN,
                "http://mycompany.com/myapp.php?foo=1&bar=2",
                &PARAMS
            ),
            refused
        );
        assert_eq!(
            verify(header, TOKEN, "https://mycompany.com/myapp.php", &PARAMS),
            refused
        );
        assert_eq!(verify(header, TOKEN, URL, &PARAMS[1..]), refused);
        let mut changed = PARAMS;
        changed[2].1 = "1235";
        assert_eq!(verify(header, TOKEN, URL, &changed), refused);
    }

    #[test]
    fn missing_or_malformed_header() {
        let none: [(&str, &str); 0] = [];
        assert_eq!(
            verify(None, TOKEN, URL, &none),
            Err(TwilioSignatureError::Missing)
        );
        let long = STANDARD.encode([0u8; 32]);
        for bad in [
            &b""[..],
            b"not base64!",
            b"0/KCTR6DLpKmkAf8muzZqo1nD",
            long.as_bytes(),
        ] {
            assert_eq!(
                TwilioSignature::parse(Some(bad)),
                Err(TwilioSignatureError::Malformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn repeated_names_are_sorted_by_value() {
        // Canonical form: URL + "MediaUrla" + "MediaUrlb" + "To+1", whatever the arrival order.
        let arrived = [("To", "+1"), ("MediaUrl", "b"), ("MediaUrl", "a")];
        let canonical = [("MediaUrl", "a"), ("MediaUrl", "b"), ("To", "+1")];
        let signed = signature(TOKEN, URL, &canonical);
        assert_eq!(signature(TOKEN, URL, &arrived), signed);
        let mut by_hand = HmacSha1::new_from_slice(TOKEN).unwrap();
        by_hand.update(format!("{URL}MediaUrlaMediaUrlbTo+1").as_bytes());
        assert_eq!(signed, STANDARD.encode(by_hand.finalize().into_bytes()));
        // A parameter sent twice is signed twice.
        let twice = [("To", "+1"), ("To", "+1")];
        assert_ne!(
            signature(TOKEN, URL, &twice),
            signature(TOKEN, URL, &twice[..1])
        );
    }

    #[test]
    fn empty_params_sign_the_url_alone() {
        let none: [(&str, &str); 0] = [];
        let mut by_hand = HmacSha1::new_from_slice(TOKEN).unwrap();
        by_hand.update(URL.as_bytes());
        assert_eq!(
            signature(TOKEN, URL, &none),
            STANDARD.encode(by_hand.finalize().into_bytes())
        );
    }
}
