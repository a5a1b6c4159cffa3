//! Google's signing-key set and its `Cache-Control`, as the push token verifier fetches them.
//! Any document and header value are read without a panic, and the time a set is kept for can
//! always be added to the clock.

#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use switchyard_ingress::verify::google_oidc::{max_age, parse_jwks};

fuzz_target!(|data: &[u8]| {
    let _ = parse_jwks(data);
    if let Ok(cache_control) = std::str::from_utf8(data) {
        let age = max_age(cache_control);
        assert!(
            Instant::now().checked_add(age).is_some(),
            "max-age {age:?} cannot be added to the clock"
        );
    }
});
