//! Graph's answer to `POST /{phone_number_id}/messages`, as the WhatsApp sender reads it: the
//! first two bytes are the HTTP status, the rest the body. A wamid that reads is returned, and
//! any refusal is classified without a panic.

#![no_main]

#[path = "answer.rs"]
mod answer;

use libfuzzer_sys::fuzz_target;
use switchyard_workers::senders::whatsapp::interpret;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = answer::status_and_rest(data) else {
        return;
    };
    let _ = interpret(status, body);
});
