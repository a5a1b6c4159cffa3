//! Telnyx's Ed25519 webhook signature as `POST /webhooks/telnyx` checks it: any public key
//! text, signature and timestamp headers, body and clock are judged without a panic; a body
//! signed here verifies exactly when its timestamp is within the 300 s window of the clock.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use switchyard_ingress::verify::telnyx::{
    TOLERANCE_SECS, TelnyxPublicKey, TelnyxSignature, TelnyxSignatureError, signed_message, verify,
};

/// RFC 8032 §7.1 test 1 key, as in the shared signature vectors.
const KNOWN_KEY: &str = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    public_key: &'a str,
    signature_header: Option<&'a [u8]>,
    timestamp_header: Option<&'a [u8]>,
    body: &'a [u8],
    now: i64,
    seed: [u8; 32],
    signed_at_offset: i16,
}

fuzz_target!(|input: Input<'_>| {
    let now = DateTime::from_timestamp(input.now, 0).unwrap_or_default();
    let key = TelnyxPublicKey::parse(input.public_key)
        .or_else(|_| TelnyxPublicKey::parse(KNOWN_KEY))
        .expect("the RFC 8032 key parses");
    assert_eq!(TelnyxPublicKey::parse(&key.to_base64()), Ok(key.clone()));
    let _ = verify(
        &key,
        input.signature_header,
        input.timestamp_header,
        input.body,
        now,
    );

    // A signature made here, `signed_at_offset` seconds away from the clock.
    let signing = SigningKey::from_bytes(&input.seed);
    let Ok(key) = TelnyxPublicKey::from_bytes(signing.verifying_key().as_bytes()) else {
        return;
    };
    let Some(signed_at) = now
        .timestamp()
        .checked_add(i64::from(input.signed_at_offset))
        .filter(|t| *t >= 0)
    else {
        return;
    };
    let timestamp = signed_at.to_string();
    let signature = signing.sign(&signed_message(timestamp.as_bytes(), input.body));
    let header = STANDARD.encode(signature.to_bytes());
    let parsed = TelnyxSignature::parse(Some(header.as_bytes()), Some(timestamp.as_bytes()))
        .expect("our own headers parse");
    assert_eq!(parsed.timestamp(), signed_at);
    let expected = match i64::from(input.signed_at_offset) {
        offset if offset > TOLERANCE_SECS => Err(TelnyxSignatureError::Future),
        offset if offset < -TOLERANCE_SECS => Err(TelnyxSignatureError::Stale),
        _ => Ok(()),
    };
    assert_eq!(parsed.verify(&key, input.body, now), expected);
    if expected.is_ok() {
        let mut tampered = input.body.to_vec();
        tampered.push(b' ');
        assert_eq!(
            parsed.verify(&key, &tampered, now),
            Err(TelnyxSignatureError::WrongSignature)
        );
    }
});
