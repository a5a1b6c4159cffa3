//! WhatsApp Cloud API webhook body (`object: whatsapp_business_account`).
//!
//! ```text
//! { object, entry: [ { id: WABA_ID, changes: [ { field: "messages",
//!     value: { messaging_product, metadata: { display_phone_number, phone_number_id },
//!              contacts?: [...], messages?: [...], statuses?: [...], errors?: [...] } } ] } ] }
//! ```
//!
//! All ids and timestamps are strings. Since 2026 a sender may come without `from`/`wa_id`
//! (username users) but with a business-scoped user id (`from_user_id` / `user_id`), so both are
//! optional here.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct WebhookBody {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    /// WABA id.
    pub id: String,
    #[serde(default)]
    pub changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    pub field: String,
    /// Kept as JSON: its shape depends on `field`; see [`MessagesValue`] for `messages`.
    pub value: Value,
}

/// `value` of a `messages` change.
#[derive(Debug, Deserialize)]
pub struct MessagesValue {
    pub metadata: Metadata,
    #[serde(default)]
    pub contacts: Vec<Value>,
    #[serde(default)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub statuses: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub phone_number_id: String,
    #[serde(default)]
    pub display_phone_number: Option<String>,
}

/// The keys of one inbound message.
#[derive(Debug, Deserialize)]
pub struct MessageKeys {
    pub id: String,
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub from_user_id: Option<String>,
}

/// The keys of one delivery receipt.
#[derive(Debug, Deserialize)]
pub struct StatusKeys {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub recipient_id: Option<String>,
    #[serde(default)]
    pub recipient_user_id: Option<String>,
}

/// One entry of `contacts[]`.
#[derive(Debug, Deserialize)]
pub struct ContactInfo {
    #[serde(default)]
    pub wa_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub name: Option<String>,
}

/// Meta timestamps are unix seconds as a string.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    s.parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
}

/// A single-event webhook body: what one envelope carries. It has the provider's own shape
/// (one entry, one change) so the worker reads it with the same types as a full batch.
pub fn single_event_body(
    object: &str,
    waba_id: &str,
    value_without_items: &serde_json::Map<String, Value>,
    item_field: &str,
    item: Value,
    contacts: Vec<Value>,
) -> Value {
    let mut value = value_without_items.clone();
    if !contacts.is_empty() {
        value.insert("contacts".into(), Value::Array(contacts));
    }
    value.insert(item_field.into(), Value::Array(vec![item]));
    serde_json::json!({
        "object": object,
        "entry": [{ "id": waba_id, "changes": [{ "field": "messages", "value": value }] }]
    })
}

/// The one change an envelope's payload carries, read back by the worker.
pub fn only_change(body: &WebhookBody) -> Option<(&Entry, &Change)> {
    let entry = body.entry.first()?;
    let change = entry.changes.first()?;
    Some((entry, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_timestamp("1767225600").map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:00:00+00:00".to_owned())
        );
        assert_eq!(parse_timestamp("soon"), None);
    }
}
