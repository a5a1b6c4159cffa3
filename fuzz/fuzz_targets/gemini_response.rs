//! Gemini `generateContent` answers as the worker reads them: the first two bytes are the HTTP
//! status, the rest the body, read both as a 200 answer and as a refusal. A reply that reads is
//! never blank, and a retry delay Google asks for is a usable duration.

#![no_main]

#[path = "answer.rs"]
mod answer;

use libfuzzer_sys::fuzz_target;
use switchyard_workers::llm::error::{AttemptError, interpret_refusal, parse_duration};
use switchyard_workers::llm::response::interpret_success;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = answer::status_and_rest(data) else {
        return;
    };
    if let Ok(generated) = interpret_success(body) {
        assert!(!generated.text.trim().is_empty());
        assert_eq!(generated.text, generated.text.trim());
    }
    if let AttemptError::Retryable {
        retry_delay: Some(delay),
        ..
    } = interpret_refusal(status, body)
    {
        let _ = delay.as_secs_f64();
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = parse_duration(text);
    }
});
