//! A Twilio inbound SMS form body, read as the ingress reads it once the signature held, and
//! the envelope payload the worker reads back. The decoded fields re-encode to the same
//! fields, and an accepted message reads back from its envelope payload unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_shared::payloads::twilio::{FormParams, InboundSms};

fuzz_target!(|body: &[u8]| {
    let params = FormParams::parse(body);
    assert_eq!(FormParams::parse(params.encode().as_bytes()), params);
    let Ok(sms) = InboundSms::from_params(params) else {
        return;
    };
    assert!(sms.dedup_key().as_str().starts_with("twilio:"));
    let payload = sms.envelope_payload();
    assert!(InboundSms::is_envelope_payload(&payload));
    assert_eq!(InboundSms::from_envelope_payload(&payload), Ok(sms));
});
