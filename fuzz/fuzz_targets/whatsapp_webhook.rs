//! The WhatsApp webhook body as `POST /webhooks/whatsapp` reads it: the batch, split into one
//! single-event body per message and status, and each of those read back the way the worker
//! does. Every split payload must read back as exactly one change of the same kind.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use switchyard_ingress::webhooks::whatsapp::split;
use switchyard_shared::envelope::EventKind;
use switchyard_shared::payloads::whatsapp::{
    ContactInfo, MessageKeys, MessagesValue, StatusKeys, WebhookBody, only_change, parse_timestamp,
};

fuzz_target!(|body: &[u8]| {
    let Ok(webhook) = serde_json::from_slice::<WebhookBody>(body) else {
        return;
    };
    let Ok(events) = split(&webhook) else {
        return;
    };
    for event in events {
        let back = WebhookBody::deserialize(&event.payload).expect("a split payload is a body");
        let (entry, change) = only_change(&back).expect("a split payload has one change");
        assert_eq!(entry.id, event.waba_id);
        if event.kind == EventKind::Other {
            continue;
        }
        let value = MessagesValue::deserialize(&change.value).expect("messages value");
        match event.kind {
            EventKind::MessageReceived => {
                assert_eq!(value.messages.len(), 1);
                let keys = MessageKeys::deserialize(&value.messages[0]).expect("message keys");
                assert!(event.dedup_key.as_str().ends_with(&keys.id));
                for contact in &value.contacts {
                    let _ = ContactInfo::deserialize(contact);
                }
                if let Some(ts) = value.messages[0].get("timestamp").and_then(|t| t.as_str()) {
                    let _ = parse_timestamp(ts);
                }
            }
            EventKind::MessageStatus => {
                assert_eq!(value.statuses.len(), 1);
                StatusKeys::deserialize(&value.statuses[0]).expect("status keys");
            }
            _ => unreachable!("split makes only messages, statuses and others"),
        }
    }
});
