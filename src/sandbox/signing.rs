//! The providers' side of webhook signatures, for sample webhooks in tests and local runs.
//!
//! - Telnyx: [`TelnyxSigner`] signs `<timestamp>|<body>` with an Ed25519 key, exactly as the
//!   ingress verifier checks it (the message comes from
//!   [`switchyard_ingress::verify::telnyx::signed_message`]). The sandbox key is the public
//!   RFC 8032 test key, so the shared signature vectors come out of it; it is never a key
//!   Telnyx knows.
//! - Twilio: [`twilio_form`] encodes form fields and signs them with the ingress's own
//!   canonical form ([`switchyard_ingress::verify::twilio::signature`]).
//!
//! Signing is pure: the caller picks the timestamp, so a test can sign for any clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer, SigningKey};
use switchyard_ingress::verify::telnyx::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, TelnyxPublicKey, TelnyxSignatureError, signed_message,
};
use switchyard_ingress::verify::twilio;
use switchyard_shared::payloads::twilio::FormParams;

/// RFC 8032 §7.1 test 1 secret key: public, published, and for tests only.
const SANDBOX_SEED: [u8; 32] = [
    0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
    0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
];

/// Signs webhooks as a Telnyx account would.
pub struct TelnyxSigner(SigningKey);

/// The two headers of a signed Telnyx webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelnyxHeaders {
    /// `telnyx-signature-ed25519`.
    pub signature: String,
    /// `telnyx-timestamp`.
    pub timestamp: String,
}

impl TelnyxHeaders {
    /// `(name, value)` pairs, ready for a request builder.
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        [
            (SIGNATURE_HEADER, &self.signature),
            (TIMESTAMP_HEADER, &self.timestamp),
        ]
    }
}

impl TelnyxSigner {
    /// The sandbox account's key; its public half is [`TelnyxSigner::public_key_base64`].
    pub fn sandbox() -> Self {
        Self::from_seed(&SANDBOX_SEED)
    }

    /// A key from its 32-byte secret seed (no random source needed).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The public key as Telnyx shows it (what `TELNYX_PUBLIC_KEY` is set to).
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.0.verifying_key().as_bytes())
    }

    /// The public key, parsed as the ingress does.
    pub fn public_key(&self) -> Result<TelnyxPublicKey, TelnyxSignatureError> {
        TelnyxPublicKey::from_bytes(self.0.verifying_key().as_bytes())
    }

    /// The headers Telnyx would send with `body` at `timestamp` (unix seconds).
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> TelnyxHeaders {
        let timestamp = timestamp.to_string();
        let signature = self.0.sign(&signed_message(timestamp.as_bytes(), body));
        TelnyxHeaders {
            signature: STANDARD.encode(signature.to_bytes()),
            timestamp,
        }
    }
}

/// A Twilio form body carrying `params`, and its `X-Twilio-Signature` for a post to `url`
/// under `auth_token`.
pub fn twilio_form(url: &str, params: &FormParams, auth_token: &str) -> (String, String) {
    let signature = twilio::signature(auth_token.as_bytes(), url, params.pairs());
    (params.encode(), signature)
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use switchyard_ingress::verify::telnyx;

    use super::*;

    const FIXTURE: &[u8] = include_bytes!("../../tests/fixtures/telnyx/message_received.json");

    #[test]
    fn sandbox_key_reproduces_the_shared_vector() {
        let signer = TelnyxSigner::sandbox();
        assert_eq!(
            signer.public_key_base64(),
            "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
        assert_eq!(
            signer.sign(1_767_225_600, FIXTURE),
            TelnyxHeaders {
                signature: "9t89fKlfnb5+n9+wHkAN8jvC0/eRfW7wUVG9np3cL7l2KnYYqqXH8LlkmMwq9E4296zoM5q0K5Sj6bX1aI1hAw==".into(),
                timestamp: "1767225600".into(),
            }
        );
    }

    #[test]
    fn signed_bodies_pass_the_ingress_verifier() {
        let signer = TelnyxSigner::from_seed(&[7; 32]);
        let key = signer.public_key().unwrap();
        let now = chrono::Utc::now();
        let headers = signer.sign(now.timestamp(), FIXTURE);
        let [(sig_name, sig), (ts_name, ts)] = headers.pairs();
        assert_eq!((sig_name, ts_name), (SIGNATURE_HEADER, TIMESTAMP_HEADER));
        let check = |body: &[u8], at| {
            telnyx::verify(&key, Some(sig.as_bytes()), Some(ts.as_bytes()), body, at)
        };
        assert_eq!(check(FIXTURE, now), Ok(()));
        assert_eq!(check(b"{}", now), Err(TelnyxSignatureError::WrongSignature));
        let later = DateTime::from_timestamp(now.timestamp() + 301, 0).unwrap();
        assert_eq!(check(FIXTURE, later), Err(TelnyxSignatureError::Stale));
        // Another account's key does not accept it.
        let sandbox = TelnyxSigner::sandbox().public_key().unwrap();
        assert_eq!(
            telnyx::verify(
                &sandbox,
                Some(sig.as_bytes()),
                Some(ts.as_bytes()),
                FIXTURE,
                now
            ),
            Err(TelnyxSignatureError::WrongSignature)
        );
    }

    #[test]
    fn twilio_forms_pass_the_ingress_verifier() {
        let url = "https://ingress.example.test/webhooks/twilio?tenant=acme";
        let params = FormParams::from_pairs([
            ("To".to_owned(), "+15550003333".to_owned()),
            ("From".to_owned(), "+15550001111".to_owned()),
            ("Body".to_owned(), "Table for 4? 🍽 & more".to_owned()),
            ("MessageSid".to_owned(), "SM1".to_owned()),
        ]);
        let (body, signature) = twilio_form(url, &params, "token");
        // What the ingress does: decode the body, then check the fields against the header.
        let received = FormParams::parse(body.as_bytes());
        assert_eq!(received, params);
        let header = Some(signature.as_bytes());
        assert_eq!(
            twilio::verify(header, b"token", url, received.pairs()),
            Ok(())
        );
        assert_eq!(
            twilio::verify(header, b"other", url, received.pairs()),
            Err(twilio::TwilioSignatureError::WrongSignature)
        );
    }
}
