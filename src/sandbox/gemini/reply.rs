//! What the fake Gemini says: a deterministic reply made from the prompt, so a sandbox
//! conversation reads like a real one and a test can predict every byte.
//!
//! The reply repeats the customer's latest message (whitespace collapsed, cut at
//! [`ECHO_CHARS`] characters) and, when the system instruction names the business — a line
//! `Name: …` or `Business name: …`, as the rendered business profile has — greets in its
//! name: `(sandbox) Thanks for writing to Demo Dental. You said: "Can I book a cleaning?"`.
//! With `maxOutputTokens` smaller than the reply, the reply is cut there and finishes with
//! `MAX_TOKENS`, as Gemini's does.
//!
//! Tokens are counted as one per four characters (rounded up): the prompt is every text of
//! the system instruction and the contents, the candidate is the reply.

use serde_json::{Value, json};

use super::check::{content_text, contents, max_output_tokens, system_instruction};

/// Characters of the customer's message the reply repeats.
pub const ECHO_CHARS: usize = 80;

/// Tokens of `text` as the fake counts them.
pub fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

/// Every prompt text's tokens.
fn prompt_tokens(body: &Value) -> u64 {
    let instruction = system_instruction(body)
        .map(content_text)
        .unwrap_or_default();
    tokens(&instruction)
        + contents(body)
            .iter()
            .map(|c| tokens(&content_text(c)))
            .sum::<u64>()
}

/// The business's name, from a `Name:` or `Business name:` line of the system instruction.
pub fn business_name(body: &Value) -> Option<String> {
    let instruction = content_text(system_instruction(body)?);
    instruction.lines().find_map(|line| {
        let line = line.trim().trim_start_matches("- ").trim();
        let (label, value) = line.split_once(':')?;
        let label = label.trim().to_ascii_lowercase();
        let value = value.trim();
        (matches!(label.as_str(), "name" | "business name") && !value.is_empty())
            .then(|| value.to_owned())
    })
}

/// The latest `user` text, whitespace collapsed and cut at [`ECHO_CHARS`].
fn latest_customer_text(body: &Value) -> String {
    let text = contents(body)
        .iter()
        .rev()
        .find(|c| c.get("role").and_then(Value::as_str).unwrap_or("user") == "user")
        .map(content_text)
        .unwrap_or_default();
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= ECHO_CHARS {
        return collapsed;
    }
    let cut: String = collapsed.chars().take(ECHO_CHARS).collect();
    format!("{}…", cut.trim_end())
}

/// The reply text and its finish reason.
pub fn reply_text(body: &Value) -> (String, &'static str) {
    let said = latest_customer_text(body);
    let reply = match business_name(body) {
        Some(name) => format!("(sandbox) Thanks for writing to {name}. You said: \"{said}\""),
        None => format!("(sandbox) You said: \"{said}\""),
    };
    match max_output_tokens(body) {
        Some(max) if tokens(&reply) > max => {
            let chars = usize::try_from(max.saturating_mul(4)).unwrap_or(usize::MAX);
            (reply.chars().take(chars).collect(), "MAX_TOKENS")
        }
        _ => (reply, "STOP"),
    }
}

fn usage(prompt: u64, candidates: Option<u64>) -> Value {
    let mut usage = json!({
        "promptTokenCount": prompt,
        "totalTokenCount": prompt + candidates.unwrap_or(0),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    });
    if let Some(candidates) = candidates {
        usage["candidatesTokenCount"] = json!(candidates);
    }
    usage
}

fn safety_ratings(blocked: bool) -> Value {
    json!([
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": if blocked { "HIGH" } else { "NEGLIGIBLE" }},
        {"category": "HARM_CATEGORY_HATE_SPEECH", "probability": "NEGLIGIBLE"},
        {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "probability": "NEGLIGIBLE"},
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "NEGLIGIBLE"},
    ])
}

/// A 200 answer with the reply.
pub fn answer(body: &Value, model: &str, response_id: &str) -> Value {
    let (text, finish_reason) = reply_text(body);
    json!({
        "candidates": [{
            "content": {"parts": [{"text": text}], "role": "model"},
            "finishReason": finish_reason,
            "index": 0,
        }],
        "usageMetadata": usage(prompt_tokens(body), Some(tokens(&text))),
        "modelVersion": model,
        "responseId": response_id,
    })
}

/// A 200 answer refusing the prompt: no candidates, `promptFeedback.blockReason` `SAFETY`.
pub fn blocked_prompt(body: &Value, model: &str, response_id: &str) -> Value {
    json!({
        "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": safety_ratings(true)},
        "usageMetadata": usage(prompt_tokens(body), None),
        "modelVersion": model,
        "responseId": response_id,
    })
}

/// A 200 answer whose candidate was stopped by the safety filter, without content.
pub fn safety_stop(body: &Value, model: &str, response_id: &str) -> Value {
    json!({
        "candidates": [{
            "finishReason": "SAFETY",
            "index": 0,
            "safetyRatings": safety_ratings(true),
        }],
        "usageMetadata": usage(prompt_tokens(body), None),
        "modelVersion": model,
        "responseId": response_id,
    })
}
