//! Google's OAuth token endpoint answer, as the worker reads it when it refreshes a mailbox's
//! access token: the first two bytes are the HTTP status, the next four the clock (seconds after 2026-01-01), the rest
//! the body. Whatever comes back is read without a panic, and an access token it gives has an
//! expiry no earlier than the clock.

#![no_main]

#[path = "answer.rs"]
mod answer;

use chrono::DateTime;
use libfuzzer_sys::fuzz_target;
use switchyard_workers::gmail::oauth::interpret_token;

fuzz_target!(|data: &[u8]| {
    let Some((status, [c0, c1, c2, c3, body @ ..])) = answer::status_and_rest(data) else {
        return;
    };
    let offset = u32::from_be_bytes([*c0, *c1, *c2, *c3]);
    let now = DateTime::from_timestamp(1_767_225_600 + i64::from(offset), 0)
        .expect("a date within two centuries of 2026");
    if let Ok(token) = interpret_token(status, body, now) {
        assert!(token.expires_at >= now);
        let _ = token.is_fresh(now);
    }
});
