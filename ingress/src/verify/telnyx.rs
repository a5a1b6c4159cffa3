//! Telnyx webhook signatures (messaging, voice and AI assistant webhooks all use this one).
//!
//! Telnyx signs every webhook with the account's Ed25519 key and sends two headers:
//!
//! - `telnyx-timestamp`: unix seconds, as decimal text;
//! - `telnyx-signature-ed25519`: base64 of the 64-byte signature over
//!   `<telnyx-timestamp> | <raw body bytes>` — the header text exactly as received, an ASCII
//!   pipe, then the body, with no spaces.
//!
//! The public half of the key is shown base64 in the Telnyx portal and is one per Telnyx
//! account, so a tenant on its own account brings its own; it is parsed once into a
//! [`TelnyxPublicKey`]. A signature is only accepted within [`TOLERANCE_SECS`] of the
//! receiver's clock, in either direction, which bounds how long a captured request can be
//! replayed. The clock is a parameter (`now`), so tests can use fixed vectors.
//!
//! Verification uses `verify_strict`, which also refuses the malleable signature forms that
//! plain Ed25519 verification lets through; Telnyx's own signatures are never of that form.
//!
//! The check happens on the raw bytes, before any parsing; [`TelnyxSignature::parse`] reads the
//! headers and [`TelnyxSignature::verify`] does the rest. [`verify`] does both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};

/// The header carrying the base64 signature.
pub const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
/// The header carrying the unix-seconds timestamp the signature covers.
pub const TIMESTAMP_HEADER: &str = "telnyx-timestamp";
/// How far (seconds) a webhook's timestamp may be from our clock, either way: Telnyx's own SDKs
/// allow 300.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a Telnyx webhook was refused. The messages are fit for a 401 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelnyxSignatureError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("malformed telnyx-timestamp header (expected unix seconds)")]
    MalformedTimestamp,
    #[error("telnyx-timestamp is more than 300 s in the past")]
    Stale,
    #[error("telnyx-timestamp is more than 300 s in the future")]
    Future,
    #[error("the configured Telnyx public key is invalid (expected base64 of 32 bytes)")]
    BadKey,
    #[error("malformed telnyx-signature-ed25519 header (expected base64 of 64 bytes)")]
    MalformedSignature,
    #[error("Telnyx signature does not match")]
    WrongSignature,
}

/// A Telnyx account's Ed25519 public key. Holding one means it decoded to a usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelnyxPublicKey(VerifyingKey);

impl TelnyxPublicKey {
    /// From the base64 text shown in the Telnyx portal (surrounding whitespace is ignored).
    pub fn parse(base64: &str) -> Result<Self, TelnyxSignatureError> {
        let bytes = STANDARD
            .decode(base64.trim())
            .map_err(|_| TelnyxSignatureError::BadKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| TelnyxSignatureError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    /// From the 32 raw key bytes. Keys of small order are refused: no signature verifies
    /// under them.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, TelnyxSignatureError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| TelnyxSignatureError::BadKey)?;
        if key.is_weak() {
            return Err(TelnyxSignatureError::BadKey);
        }
        Ok(Self(key))
    }

    /// The base64 text form, as Telnyx shows it.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0.as_bytes())
    }
}

/// The two signature headers, parsed. Holding one means both had the right shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelnyxSignature {
    signature: Signature,
    timestamp: i64,
    /// The header as received: the signed message starts with these exact bytes.
    timestamp_text: Vec<u8>,
}

impl TelnyxSignature {
    /// Read the `telnyx-signature-ed25519` and `telnyx-timestamp` header values.
    pub fn parse(
        signature: Option<&[u8]>,
        timestamp: Option<&[u8]>,
    ) -> Result<Self, TelnyxSignatureError> {
        let signature = signature.ok_or(TelnyxSignatureError::MissingHeader(SIGNATURE_HEADER))?;
        let timestamp_text =
            timestamp.ok_or(TelnyxSignatureError::MissingHeader(TIMESTAMP_HEADER))?;
        let timestamp = std::str::from_utf8(timestamp_text)
            .ok()
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<i64>().ok())
            .ok_or(TelnyxSignatureError::MalformedTimestamp)?;
        let signature: [u8; 64] = STANDARD
            .decode(signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(TelnyxSignatureError::MalformedSignature)?;
        Ok(Self {
            signature: Signature::from_bytes(&signature),
            timestamp,
            timestamp_text: timestamp_text.to_vec(),
        })
    }

    /// The signed timestamp, unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// Whether `body` was signed by `key` within [`TOLERANCE_SECS`] of `now`.
    pub fn verify(
        &self,
        key: &TelnyxPublicKey,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), TelnyxSignatureError> {
        let age = now.timestamp().saturating_sub(self.timestamp);
        if age > TOLERANCE_SECS {
            return Err(TelnyxSignatureError::Stale);
        }
        if age < -TOLERANCE_SECS {
            return Err(TelnyxSignatureError::Future);
        }
        key.0
            .verify_strict(&signed_message(&self.timestamp_text, body), &self.signature)
            .map_err(|_| TelnyxSignatureError::WrongSignature)
    }
}

/// Parse the headers and verify `body` against `key` at `now`, in one call.
pub fn verify(
    key: &TelnyxPublicKey,
    signature_header: Option<&[u8]>,
    timestamp_header: Option<&[u8]>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), TelnyxSignatureError> {
    TelnyxSignature::parse(signature_header, timestamp_header)?.verify(key, body, now)
}

/// What Telnyx signs: the timestamp header's bytes, `|`, then the raw body. Shared with the
/// sandbox, which signs sample webhooks the same way.
pub fn signed_message(timestamp: &[u8], body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + 1 + body.len());
    message.extend_from_slice(timestamp);
    message.push(b'|');
    message.extend_from_slice(body);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 §7.1 test 1 key, as in the shared signature vectors.
    const KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    const TIMESTAMP: &[u8] = b"1767225600";
    const INLINE_BODY: &[u8] =
        br#"{"data":{"event_type":"message.received","id":"b0000000-0000-4000-8000-000000000001"}}"#;
    const INLINE_SIGNATURE: &[u8] =
        b"Cic+U1DV58EjbEBE0oOmcXbabd5AMVN0VoaUajSivYTUg8ERiEibA1FsD7QkB5XSHGHIAADlOI0kPEnrol6pCg==";
    const FIXTURE_BODY: &[u8] =
        include_bytes!("../../../tests/fixtures/telnyx/message_received.json");
    const FIXTURE_SIGNATURE: &[u8] =
        b"9t89fKlfnb5+n9+wHkAN8jvC0/eRfW7wUVG9np3cL7l2KnYYqqXH8LlkmMwq9E4296zoM5q0K5Sj6bX1aI1hAw==";
    const VECTORS: &str = include_str!("../../../tests/fixtures/signature_vectors.json");

    fn key() -> TelnyxPublicKey {
        TelnyxPublicKey::parse(KEY).unwrap()
    }

    /// The vectors' clock, plus `offset` seconds.
    fn at(offset: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600 + offset, 0).unwrap()
    }

    fn check(
        signature: &[u8],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), TelnyxSignatureError> {
        verify(&key(), Some(signature), Some(TIMESTAMP), body, now)
    }

    #[test]
    fn shared_vectors_verify() {
        assert_eq!(check(INLINE_SIGNATURE, INLINE_BODY, at(0)), Ok(()));
        assert_eq!(check(FIXTURE_SIGNATURE, FIXTURE_BODY, at(0)), Ok(()));
    }

    #[test]
    fn constants_match_the_vector_file() {
        let vectors: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        let telnyx = vectors["telnyx_ed25519"].as_array().unwrap();
        assert_eq!(telnyx.len(), 2);
        for vector in telnyx {
            assert_eq!(vector["public_key_base64"], KEY);
            assert_eq!(
                vector["telnyx-timestamp"].as_str().unwrap().as_bytes(),
                TIMESTAMP
            );
        }
        assert_eq!(
            telnyx[0]["body_utf8"].as_str().unwrap().as_bytes(),
            INLINE_BODY
        );
        assert_eq!(
            telnyx[0]["telnyx-signature-ed25519"]
                .as_str()
                .unwrap()
                .as_bytes(),
            INLINE_SIGNATURE
        );
        assert_eq!(telnyx[1]["body_file"], "telnyx/message_received.json");
        assert_eq!(telnyx[1]["body_len"], FIXTURE_BODY.len());
        assert_eq!(
            telnyx[1]["telnyx-signature-ed25519"]
                .as_str()
                .unwrap()
                .as_bytes(),
            FIXTURE_SIGNATURE
        );
    }

    #[test]
    fn tampered_body_or_other_key_is_refused() {
        let mut tampered = FIXTURE_BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            check(FIXTURE_SIGNATURE, &tampered, at(0)),
            Err(TelnyxSignatureError::WrongSignature)
        );
        // The signature of one body does not cover another.
        assert_eq!(
            check(INLINE_SIGNATURE, FIXTURE_BODY, at(0)),
            Err(TelnyxSignatureError::WrongSignature)
        );
        // RFC 8032 §7.1 test 2 key.
        let other = TelnyxPublicKey::parse("PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=").unwrap();
        assert_eq!(
            verify(
                &other,
                Some(INLINE_SIGNATURE),
                Some(TIMESTAMP),
                INLINE_BODY,
                at(0)
            ),
            Err(TelnyxSignatureError::WrongSignature)
        );
        // The timestamp is part of what is signed.
        assert_eq!(
            verify(
                &key(),
                Some(INLINE_SIGNATURE),
                Some(b"1767225601"),
                INLINE_BODY,
                at(0)
            ),
            Err(TelnyxSignatureError::WrongSignature)
        );
    }

    #[test]
    fn window_is_300_seconds_either_way() {
        assert_eq!(check(INLINE_SIGNATURE, INLINE_BODY, at(300)), Ok(()));
        assert_eq!(check(INLINE_SIGNATURE, INLINE_BODY, at(-300)), Ok(()));
        assert_eq!(
            check(INLINE_SIGNATURE, INLINE_BODY, at(301)),
            Err(TelnyxSignatureError::Stale)
        );
        assert_eq!(
            check(INLINE_SIGNATURE, INLINE_BODY, at(-301)),
            Err(TelnyxSignatureError::Future)
        );
        // Far-off timestamps do not overflow the arithmetic.
        let far = verify(
            &key(),
            Some(INLINE_SIGNATURE),
            Some(i64::MAX.to_string().as_bytes()),
            INLINE_BODY,
            at(0),
        );
        assert_eq!(far, Err(TelnyxSignatureError::Future));
    }

    #[test]
    fn missing_headers() {
        assert_eq!(
            TelnyxSignature::parse(None, Some(TIMESTAMP)),
            Err(TelnyxSignatureError::MissingHeader(SIGNATURE_HEADER))
        );
        assert_eq!(
            TelnyxSignature::parse(Some(INLINE_SIGNATURE), None),
            Err(TelnyxSignatureError::MissingHeader(TIMESTAMP_HEADER))
        );
        assert_eq!(
            TelnyxSignatureError::MissingHeader(TIMESTAMP_HEADER).to_string(),
            "missing telnyx-timestamp header"
        );
    }

    #[test]
    fn malformed_timestamps() {
        for bad in [
            &b""[..],
            b"soon",
            b"1767225600.5",
            b"-1767225600",
            b"+1767225600",
            b" 1767225600",
            b"99999999999999999999999",
            b"\xff",
        ] {
            assert_eq!(
                TelnyxSignature::parse(Some(INLINE_SIGNATURE), Some(bad)),
                Err(TelnyxSignatureError::MalformedTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn malformed_signatures() {
        let short = STANDARD.encode([0u8; 63]);
        let long = STANDARD.encode([0u8; 65]);
        for bad in [&b"not base64!"[..], b"", short.as_bytes(), long.as_bytes()] {
            assert_eq!(
                TelnyxSignature::parse(Some(bad), Some(TIMESTAMP)),
                Err(TelnyxSignatureError::MalformedSignature),
                "{bad:?}"
            );
        }
        // Right length but not a signature of anything: refused at verification.
        let zeros = STANDARD.encode([0u8; 64]);
        assert_eq!(
            check(zeros.as_bytes(), INLINE_BODY, at(0)),
            Err(TelnyxSignatureError::WrongSignature)
        );
    }

    #[test]
    fn public_keys() {
        assert_eq!(key().to_base64(), KEY);
        assert!(TelnyxPublicKey::parse(&format!("  {KEY}\n")).is_ok());
        let short = STANDARD.encode([7u8; 31]);
        let long = STANDARD.encode([7u8; 33]);
        // The identity point: small order, so useless as a key.
        let weak = STANDARD.encode({
            let mut identity = [0u8; 32];
            identity[0] = 1;
            identity
        });
        for bad in ["", "%%%", short.as_str(), long.as_str(), weak.as_str()] {
            assert_eq!(
                TelnyxPublicKey::parse(bad),
                Err(TelnyxSignatureError::BadKey),
                "{bad}"
            );
        }
    }
}
