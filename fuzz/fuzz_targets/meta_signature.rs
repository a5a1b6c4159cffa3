//! Meta's `X-Hub-Signature-256` as the WhatsApp webhook checks it: any header, app secret and
//! body are judged without a panic, and a signature computed here over the body always
//! verifies — and stops verifying once the body changes.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use switchyard_ingress::verify::meta::{HubSignature, sign};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: Option<&'a [u8]>,
    app_secret: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    if let Ok(signature) = HubSignature::parse(input.header) {
        let _ = signature.matches(input.app_secret, input.body);
    }

    let header = sign(input.app_secret, input.body);
    let signature = HubSignature::parse(Some(header.as_bytes())).expect("our own header parses");
    assert!(signature.matches(input.app_secret, input.body));
    let mut tampered = input.body.to_vec();
    tampered.push(b' ');
    assert!(!signature.matches(input.app_secret, &tampered));
});
