//! The fake Gmail's mailboxes: in-memory state that tests seed and the API handlers read.
//!
//! A seeded message is a full `users.messages` resource built from the Gmail fixture
//! (`tests/fixtures/gmail/message_full.json`): `multipart/alternative` with a plain and an HTML
//! part, with this message's sender, subject, text, thread and labels. Every change (a seeded
//! or sent message) takes the mailbox's history id a few steps forward and adds a
//! `messagesAdded` history record: ids grow but are not contiguous, like Gmail's.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde::Serialize;
use serde_json::{Value, json};
use switchyard_shared::payloads::pubsub::GmailNotification;

use super::FakeGoogle;

const MESSAGE_TEMPLATE: &str = include_str!("../../../tests/fixtures/gmail/message_full.json");
/// A new mailbox's history id.
const FIRST_HISTORY_ID: u64 = 1000;
/// How far one change moves the history id.
const HISTORY_STEP: u64 = 7;

/// A message to put in a mailbox, shaped like the fixture (`multipart/alternative` with a
/// plain and an HTML part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    pub from: String,
    pub subject: String,
    pub text: String,
    /// A new thread of its own unless given.
    pub thread_id: Option<String>,
    pub label_ids: Vec<String>,
}

impl NewMessage {
    /// An unread message in the inbox.
    pub fn inbound(from: &str, subject: &str, text: &str) -> Self {
        Self {
            from: from.into(),
            subject: subject.into(),
            text: text.into(),
            thread_id: None,
            label_ids: vec!["UNREAD".into(), "INBOX".into()],
        }
    }
}

/// A message sent through `messages.send`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentMail {
    pub id: String,
    pub thread_id: String,
    /// The RFC 2822 message, decoded from `raw`.
    pub message: String,
}

/// One mailbox's state.
pub(super) struct Mailbox {
    pub(super) history_id: u64,
    /// History before this id is gone: listing from earlier answers 404.
    pub(super) oldest_history_id: u64,
    /// Full message resources, oldest first.
    pub(super) messages: Vec<Value>,
    /// `(history id, {id, threadId, labelIds})` of each added message, oldest first.
    pub(super) history: Vec<(u64, Value)>,
    pub(super) sent: Vec<SentMail>,
    pub(super) watches: Vec<Value>,
}

impl Mailbox {
    pub(super) fn new() -> Self {
        Self {
            history_id: FIRST_HISTORY_ID,
            oldest_history_id: FIRST_HISTORY_ID,
            messages: Vec::new(),
            history: Vec::new(),
            sent: Vec::new(),
            watches: Vec::new(),
        }
    }

    /// Add `message` (a full resource with `id`, `threadId`, `labelIds`) as the next change.
    pub(super) fn add(&mut self, mut message: Value) -> u64 {
        self.history_id += HISTORY_STEP;
        message["historyId"] = json!(self.history_id.to_string());
        let summary = json!({
            "id": message["id"],
            "threadId": message["threadId"],
            "labelIds": message["labelIds"],
        });
        self.history.push((self.history_id, summary));
        self.messages.push(message);
        self.history_id
    }
}

/// A message resource like the fixture's, with this message's fields.
fn full_message(id: &str, mailbox: &str, new: &NewMessage) -> Value {
    let mut message: Value = serde_json::from_str(MESSAGE_TEMPLATE).unwrap_or_default();
    let header = |name: &str| match name {
        "From" => Some(new.from.clone()),
        "To" | "Delivered-To" => Some(mailbox.to_owned()),
        "Subject" => Some(new.subject.clone()),
        "Message-ID" => Some(format!("<{id}@sandbox.example>")),
        _ => None,
    };
    if let Some(headers) = message["payload"]["headers"].as_array_mut() {
        for entry in headers {
            if let Some(value) = entry["name"].as_str().and_then(header) {
                entry["value"] = json!(value);
            }
        }
    }
    let html = format!("<div dir=\"ltr\">{}</div>", new.text.replace('\n', "<br>"));
    for (index, body) in [new.text.as_str(), &html].into_iter().enumerate() {
        message["payload"]["parts"][index]["body"] =
            json!({ "size": body.len(), "data": URL_SAFE.encode(body) });
    }
    message["id"] = json!(id);
    message["threadId"] = json!(new.thread_id.as_deref().unwrap_or(id));
    message["labelIds"] = json!(new.label_ids);
    message["snippet"] = json!(new.text.chars().take(100).collect::<String>());
    message["internalDate"] = json!(chrono::Utc::now().timestamp_millis().to_string());
    message
}

impl FakeGoogle {
    pub(super) fn mailbox<R>(&self, mailbox: &str, f: impl FnOnce(&mut Mailbox) -> R) -> Option<R> {
        self.with(|inner| inner.mailboxes.get_mut(mailbox).map(f))
    }

    /// Put `new` in `mailbox` (created if need be); its message id and the history id after.
    pub fn add_message(&self, mailbox: &str, new: &NewMessage) -> (String, u64) {
        self.add_mailbox(mailbox);
        let id = self.with(|inner| inner.fresh("19c"));
        let message = full_message(&id, mailbox, new);
        let history_id = self
            .mailbox(mailbox, |m| m.add(message))
            .unwrap_or_default();
        (id, history_id)
    }

    /// Put the fixture message (`tests/fixtures/gmail/message_full.json`, unchanged but for
    /// its history id) in `mailbox`; the history id after.
    pub fn add_fixture_message(&self, mailbox: &str) -> u64 {
        self.add_mailbox(mailbox);
        let message = serde_json::from_str(MESSAGE_TEMPLATE).unwrap_or_default();
        self.mailbox(mailbox, |m| m.add(message))
            .unwrap_or_default()
    }

    /// Drop the history kept so far: listing from any earlier id answers 404.
    pub fn forget_history(&self, mailbox: &str) {
        self.mailbox(mailbox, |m| {
            m.oldest_history_id = m.history_id;
            m.history.clear();
        });
    }

    /// The mailbox's current history id.
    pub fn history_id(&self, mailbox: &str) -> Option<u64> {
        self.mailbox(mailbox, |m| m.history_id)
    }

    /// The notification Gmail would publish for the mailbox now.
    pub fn notification(&self, mailbox: &str) -> Option<GmailNotification> {
        Some(GmailNotification {
            email_address: mailbox.to_owned(),
            history_id: self.history_id(mailbox)?,
        })
    }

    /// Messages sent from `mailbox`, oldest first.
    pub fn sent(&self, mailbox: &str) -> Vec<SentMail> {
        self.mailbox(mailbox, |m| m.sent.clone())
            .unwrap_or_default()
    }

    /// The `watch` request bodies for `mailbox`, oldest first.
    pub fn watches(&self, mailbox: &str) -> Vec<Value> {
        self.mailbox(mailbox, |m| m.watches.clone())
            .unwrap_or_default()
    }
}
