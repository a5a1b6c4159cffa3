//! Splitting a Meta batch into one event per inbound message and per delivery receipt.
//!
//! A single POST can carry several entries (WABAs, possibly of different tenants), each with
//! several changes, each with several messages and statuses. Every one becomes its own event
//! whose payload is a valid single-event webhook body. Changes with neither (errors only, or
//! other subscription fields) become one `other` event each, so nothing is dropped.

use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_shared::domain::DedupKey;
use switchyard_shared::envelope::EventKind;
use switchyard_shared::payloads::whatsapp::{
    ContactInfo, MessageKeys, MessagesValue, StatusKeys, WebhookBody, single_event_body,
};

/// One event of a batch, before routing.
#[derive(Debug)]
pub struct SplitEvent {
    /// `metadata.phone_number_id`, if the change has one (account-level fields do not).
    pub phone_number_id: Option<String>,
    pub waba_id: String,
    pub kind: EventKind,
    pub dedup_key: DedupKey,
    /// Who the conversation is with: the BSUID when present, else the phone digits.
    pub contact: String,
    pub payload: Value,
}

/// Split a verified batch; `Err` explains what is malformed (answered with 400).
pub fn split(body: &WebhookBody) -> Result<Vec<SplitEvent>, String> {
    let mut events = Vec::new();
    for (e, entry) in body.entry.iter().enumerate() {
        for (c, change) in entry.changes.iter().enumerate() {
            let at = format!("entry[{e}].changes[{c}]");
            let has_items = change.field == "messages"
                && (change.value.get("messages").is_some()
                    || change.value.get("statuses").is_some());
            if !has_items {
                events.push(other_event(
                    &body.object,
                    &entry.id,
                    &change.field,
                    &change.value,
                )?);
                continue;
            }
            let value: MessagesValue = MessagesValue::deserialize(&change.value)
                .map_err(|err| format!("{at}.value: {err}"))?;
            let Value::Object(mut base) = change.value.clone() else {
                return Err(format!("{at}.value: expected an object"));
            };
            for field in ["contacts", "messages", "statuses"] {
                base.remove(field);
            }
            let phone_number_id = Some(value.metadata.phone_number_id.clone());

            for (m, message) in value.messages.iter().enumerate() {
                let keys = MessageKeys::deserialize(message)
                    .map_err(|err| format!("{at}.value.messages[{m}]: {err}"))?;
                let contact = keys
                    .from_user_id
                    .clone()
                    .or_else(|| keys.from.clone())
                    .ok_or_else(|| {
                        format!("{at}.value.messages[{m}]: no sender (from/from_user_id)")
                    })?;
                let contacts = matching_contact(&value.contacts, &keys);
                events.push(SplitEvent {
                    phone_number_id: phone_number_id.clone(),
                    waba_id: entry.id.clone(),
                    kind: EventKind::MessageReceived,
                    dedup_key: DedupKey::from_parts(&["wa", "msg", &keys.id])
                        .map_err(|err| format!("{at}.value.messages[{m}].id: {err}"))?,
                    contact,
                    payload: single_event_body(
                        &body.object,
                        &entry.id,
                        &base,
                        "messages",
                        message.clone(),
                        contacts,
                    ),
                });
            }
            for (s, status) in value.statuses.iter().enumerate() {
                let keys = StatusKeys::deserialize(status)
                    .map_err(|err| format!("{at}.value.statuses[{s}]: {err}"))?;
                let contact = keys
                    .recipient_user_id
                    .clone()
                    .or_else(|| keys.recipient_id.clone())
                    .unwrap_or_else(|| "unknown".to_owned());
                events.push(SplitEvent {
                    phone_number_id: phone_number_id.clone(),
                    waba_id: entry.id.clone(),
                    kind: EventKind::MessageStatus,
                    dedup_key: DedupKey::from_parts(&["wa", "status", &keys.id, &keys.status])
                        .map_err(|err| format!("{at}.value.statuses[{s}].id: {err}"))?,
                    contact,
                    payload: single_event_body(
                        &body.object,
                        &entry.id,
                        &base,
                        "statuses",
                        status.clone(),
                        Vec::new(),
                    ),
                });
            }
        }
    }
    Ok(events)
}

/// The `contacts[]` entry that describes the sender of `keys` (or the only one there is).
fn matching_contact(contacts: &[Value], keys: &MessageKeys) -> Vec<Value> {
    let matches = |c: &&Value| {
        ContactInfo::deserialize(*c).is_ok_and(|info| {
            (info.user_id.is_some() && info.user_id == keys.from_user_id)
                || (info.wa_id.is_some() && info.wa_id == keys.from)
        })
    };
    match contacts.iter().find(matches) {
        Some(contact) => vec![contact.clone()],
        None if contacts.len() == 1 => contacts.to_vec(),
        None => Vec::new(),
    }
}

fn other_event(
    object: &str,
    waba_id: &str,
    field: &str,
    value: &Value,
) -> Result<SplitEvent, String> {
    let phone_number_id = value
        .pointer("/metadata/phone_number_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let payload = serde_json::json!({
        "object": object,
        "entry": [{ "id": waba_id, "changes": [{ "field": field, "value": value }] }]
    });
    let digest = hex::encode(Sha256::digest(payload.to_string().as_bytes()));
    Ok(SplitEvent {
        phone_number_id,
        waba_id: waba_id.to_owned(),
        kind: EventKind::Other,
        dedup_key: DedupKey::from_parts(&["wa", "other", field, &digest])
            .map_err(|err| format!("change field {field}: {err}"))?,
        contact: format!("waba:{waba_id}"),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> WebhookBody {
        serde_json::from_value(serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [
                { "id": "200", "changes": [{ "field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "1555", "phone_number_id": "101" },
                    "contacts": [
                        { "profile": { "name": "A" }, "wa_id": "1" },
                        { "profile": { "name": "B" }, "user_id": "US.2" }
                    ],
                    "messages": [
                        { "from": "1", "id": "wamid.A", "timestamp": "1", "type": "text", "text": { "body": "a" } },
                        { "from_user_id": "US.2", "id": "wamid.B", "timestamp": "1", "type": "text", "text": { "body": "b" } }
                    ],
                    "statuses": [ { "id": "wamid.OUT", "status": "read", "timestamp": "2", "recipient_id": "1" } ]
                }}]},
                { "id": "300", "changes": [
                    { "field": "messages", "value": {
                        "metadata": { "phone_number_id": "102" },
                        "messages": [ { "from": "9", "id": "wamid.C", "timestamp": "1", "type": "text", "text": { "body": "c" } } ]
                    }},
                    { "field": "account_update", "value": { "event": "VERIFIED_ACCOUNT" } }
                ]}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn one_event_per_message_status_and_other_change() {
        let events = split(&batch()).unwrap();
        let keys: Vec<_> = events
            .iter()
            .map(|e| e.dedup_key.as_str().to_owned())
            .collect();
        assert_eq!(
            &keys[..4],
            [
                "wa:msg:wamid.A",
                "wa:msg:wamid.B",
                "wa:status:wamid.OUT:read",
                "wa:msg:wamid.C"
            ]
        );
        assert!(keys[4].starts_with("wa:other:account_update:"));
        assert_eq!(events[3].phone_number_id.as_deref(), Some("102"));
        assert_eq!(events[4].phone_number_id, None);
        // BSUID keys the conversation when present.
        assert_eq!(events[1].contact, "US.2");
    }

    #[test]
    fn each_payload_is_a_single_event_body_with_its_own_contact() {
        let events = split(&batch()).unwrap();
        let value = &events[1].payload["entry"][0]["changes"][0]["value"];
        assert_eq!(value["messages"].as_array().unwrap().len(), 1);
        assert_eq!(value["contacts"][0]["user_id"], "US.2");
        assert_eq!(value["metadata"]["phone_number_id"], "101");
        assert!(value.get("statuses").is_none());
        let body: WebhookBody = serde_json::from_value(events[1].payload.clone()).unwrap();
        assert_eq!(body.entry[0].id, "200");
    }

    #[test]
    fn each_payload_splits_again_into_the_same_event() {
        // What a replay of an unroutable event relies on: the same dedup key and contact.
        for event in split(&batch()).unwrap() {
            let body: WebhookBody = serde_json::from_value(event.payload.clone()).unwrap();
            let again = split(&body).unwrap();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].dedup_key, event.dedup_key);
            assert_eq!(again[0].contact, event.contact);
            assert_eq!(again[0].phone_number_id, event.phone_number_id);
            assert_eq!(again[0].payload, event.payload);
        }
    }

    #[test]
    fn malformed_items_are_explained() {
        let body: WebhookBody = serde_json::from_value(serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "200", "changes": [{ "field": "messages", "value": {
                "metadata": { "phone_number_id": "101" },
                "messages": [ { "from": "1", "type": "text" } ]
            }}]}]
        }))
        .unwrap();
        let err = split(&body).unwrap_err();
        assert!(
            err.contains("entry[0].changes[0].value.messages[0]"),
            "{err}"
        );
        assert!(err.contains("id"), "{err}");
    }
}
