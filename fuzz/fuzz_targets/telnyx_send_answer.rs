//! Telnyx's answer to `POST /v2/messages`, as the SMS sender reads it: the first two bytes are
//! the HTTP status, the next byte the length of a `Retry-After` value that follows, the rest
//! the body. A message id that reads is never empty, and a `Retry-After` it reads can be added
//! to the clock the way the outbox schedules the retry.

#![no_main]

#[path = "answer.rs"]
mod answer;

use chrono::{DateTime, TimeDelta, Utc};
use libfuzzer_sys::fuzz_target;
use switchyard_workers::senders::telnyx::interpret;

fuzz_target!(|data: &[u8]| {
    let Some((status, [n, rest @ ..])) = answer::status_and_rest(data) else {
        return;
    };
    let (retry_after, body) = rest.split_at(usize::from(*n).min(rest.len()));
    let retry_after = std::str::from_utf8(retry_after).ok();
    let now: DateTime<Utc> = DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01");
    match interpret(status, retry_after, body, now) {
        Ok(id) => assert!(!id.is_empty()),
        Err(e) => {
            if let Some(delay) = e.retry_after {
                let delay = TimeDelta::from_std(delay).expect("a delay fits a TimeDelta");
                assert!(Utc::now().checked_add_signed(delay).is_some());
            }
        }
    }
});
