//! Twilio's `X-Twilio-Signature` as `POST /webhooks/twilio` checks it: the form body decoded
//! into fields, then any header, auth token and URL judged without a panic. A signature
//! computed here verifies whatever the order of the fields, and stops verifying once a field
//! is added.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use switchyard_ingress::verify::twilio::{TwilioSignature, signature, verify};
use switchyard_shared::payloads::twilio::FormParams;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    header: Option<&'a [u8]>,
    auth_token: &'a [u8],
    url: &'a str,
    form: &'a [u8],
}

fuzz_target!(|input: Input<'_>| {
    let params = FormParams::parse(input.form);
    let pairs = params.pairs();
    if let Ok(header) = TwilioSignature::parse(input.header) {
        let _ = header.matches(input.auth_token, input.url, pairs);
    }
    let _ = verify(input.header, input.auth_token, input.url, pairs);

    let signed = signature(input.auth_token, input.url, pairs);
    assert_eq!(
        verify(Some(signed.as_bytes()), input.auth_token, input.url, pairs),
        Ok(())
    );
    let mut reversed = pairs.to_vec();
    reversed.reverse();
    assert_eq!(
        verify(
            Some(signed.as_bytes()),
            input.auth_token,
            input.url,
            &reversed
        ),
        Ok(())
    );
    let mut more = pairs.to_vec();
    more.push(("Body".to_owned(), "x".to_owned()));
    assert!(verify(Some(signed.as_bytes()), input.auth_token, input.url, &more).is_err());
});
