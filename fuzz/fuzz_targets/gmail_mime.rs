//! The email the worker stores from a Gmail `messages.get?format=full` answer: a MIME tree of
//! any shape — header names and values, MIME types, part bodies of any bytes, nesting as deep
//! as Gmail's JSON can carry — is decoded without a panic.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use switchyard_workers::gmail::mime::{GmailMessage, Header, MessagePart, PartBody, decode};

/// A `format=full` answer is JSON, which serde_json reads at most 128 levels deep: two levels
/// per part (the part object and its `parts` array).
const MAX_DEPTH: usize = 63;

#[derive(Arbitrary, Debug)]
struct Part {
    mime_type: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    attachment: bool,
    parts: Vec<Part>,
}

impl Part {
    fn into_gmail(self, depth: usize) -> MessagePart {
        MessagePart {
            mime_type: self.mime_type,
            headers: self
                .headers
                .into_iter()
                .map(|(name, value)| Header { name, value })
                .collect(),
            body: PartBody {
                data: self.body.map(|bytes| URL_SAFE_NO_PAD.encode(bytes)),
                attachment_id: self.attachment.then(|| "attachment".to_owned()),
            },
            parts: if depth < MAX_DEPTH {
                self.parts
                    .into_iter()
                    .map(|p| p.into_gmail(depth + 1))
                    .collect()
            } else {
                Vec::new()
            },
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    internal_date: Option<String>,
    payload: Option<Part>,
}

fuzz_target!(|input: Input| {
    let message = GmailMessage {
        id: "fuzz".into(),
        thread_id: "fuzz".into(),
        label_ids: vec!["INBOX".into()],
        history_id: None,
        internal_date: input.internal_date,
        payload: input.payload.map(|p| p.into_gmail(0)),
    };
    if let Ok(email) = decode(&message) {
        assert!(!email.from.address.trim().is_empty());
    }
});
