//! An envelope as the queue consumer decodes a broker body. What decodes must hold only values
//! the ingress could have built (its dedup key parses), and encode and decode back the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_shared::domain::DedupKey;
use switchyard_shared::envelope::Envelope;

fuzz_target!(|body: &[u8]| {
    let Ok(envelope) = Envelope::from_bytes(body) else {
        return;
    };
    assert_eq!(
        DedupKey::parse(envelope.dedup_key.as_str()).as_ref(),
        Ok(&envelope.dedup_key)
    );
    let _ = envelope.routing_key();
    let _ = envelope.conversation_key.contact();
    let bytes = envelope.to_bytes().expect("a decoded envelope encodes");
    let back = Envelope::from_bytes(&bytes).expect("an encoded envelope decodes");
    assert_eq!(back.to_bytes().expect("encodes again"), bytes);
});
