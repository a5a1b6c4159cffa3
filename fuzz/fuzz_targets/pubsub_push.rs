//! A Pub/Sub push body as `POST /webhooks/gmail` reads it once the token held, and the Gmail
//! notification in its data. A notification written back out as Gmail publishes it reads back
//! the same.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_shared::payloads::pubsub::{GmailNotification, PushMessage, decode_base64};

fuzz_target!(|body: &[u8]| {
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = decode_base64(text);
    }
    let notification = match PushMessage::parse(body) {
        Ok(push) => {
            assert_eq!(
                push.dedup_key().as_str(),
                format!("pubsub:{}", push.message_id())
            );
            push.gmail_notification()
        }
        Err(_) => GmailNotification::parse(body),
    };
    if let Ok(notification) = notification {
        assert_eq!(
            GmailNotification::parse(&notification.to_json()),
            Ok(notification)
        );
    }
});
