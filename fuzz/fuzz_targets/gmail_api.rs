//! Gmail API answers as the worker reads them: the first two bytes are the HTTP status, the
//! rest the body, read as each call's answer (`history.list`, `messages.get`, `messages.list`,
//! `messages.send`, `users.watch`). A message that reads is decoded as an email too.

#![no_main]

#[path = "answer.rs"]
mod answer;

use libfuzzer_sys::fuzz_target;
use switchyard_workers::gmail::client::{
    WatchAnswer, interpret_history_list, interpret_list, interpret_message_full, interpret_send,
};
use switchyard_workers::gmail::mime::decode;
use switchyard_workers::gmail::sync::HistoryId;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = answer::status_and_rest(data) else {
        return;
    };
    let _ = interpret_history_list(status, body);
    let _ = interpret_list(status, body);
    if let Ok(sent) = interpret_send(status, body) {
        assert!(!sent.id.is_empty());
    }
    if let Ok(watch) = serde_json::from_slice::<WatchAnswer>(body) {
        let _ = watch.expires_at();
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = text.parse::<HistoryId>();
    }
    if let Ok(message) = interpret_message_full(status, body) {
        let _ = decode(&message);
    }
});
