//! The push reader against every fixture in `tests/fixtures/pubsub/`, and against malformed
//! bodies.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/pubsub/", $name))
    };
}

const GMAIL_PUSH: &[u8] = fixture!("gmail_push.json");
const WITH_ATTRIBUTES: &[u8] = fixture!("push_with_attributes_and_delivery_attempt.json");
const DECODED: &[u8] = fixture!("gmail_notification_decoded.json");
/// Not a push body: the claims of the token that comes with one.
const TOKEN_CLAIMS: &[u8] = fixture!("oidc_token_claims.json");

fn push(message: Value) -> Vec<u8> {
    json!({ "message": message, "subscription": "projects/p/subscriptions/s" })
        .to_string()
        .into_bytes()
}

fn push_of_data(data: &str) -> Vec<u8> {
    push(json!({ "data": data, "messageId": "1" }))
}

#[test]
fn gmail_push_fixture() {
    let push = PushMessage::parse(GMAIL_PUSH).unwrap();
    assert_eq!(push.message_id(), "17000000000000001");
    assert_eq!(push.dedup_key().as_str(), "pubsub:17000000000000001");
    assert_eq!(
        push.subscription(),
        "projects/fake-project-123/subscriptions/gmail-push-ingress"
    );
    assert_eq!(
        push.publish_time().map(|t| t.to_rfc3339()),
        Some("2026-01-01T00:20:00.123+00:00".into())
    );
    assert!(push.attributes().is_empty());
    assert_eq!(push.ordering_key(), None);
    assert_eq!(push.delivery_attempt(), None);
    let expected = GmailNotification {
        email_address: "tenant.inbox@example.com".into(),
        history_id: 4_251_009,
    };
    assert_eq!(push.gmail_notification(), Ok(expected.clone()));
    // The decoded fixture is the same notification, and what Gmail would publish for it.
    assert_eq!(GmailNotification::parse(DECODED), Ok(expected.clone()));
    let decoded: Value = serde_json::from_slice(DECODED).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&expected.to_json()).unwrap(),
        decoded
    );
    assert_eq!(push.data(), expected.to_json());
}

#[test]
fn attributes_ordering_key_and_delivery_attempt() {
    let push = PushMessage::parse(WITH_ATTRIBUTES).unwrap();
    assert_eq!(push.dedup_key().as_str(), "pubsub:17000000000000002");
    assert_eq!(
        push.attributes().get("tenant").map(String::as_str),
        Some("acme")
    );
    assert_eq!(push.ordering_key(), Some("key-1"));
    assert_eq!(push.delivery_attempt(), Some(3));
    assert_eq!(push.data(), br#"{"hello":"world"}"#);
    // Valid push, but not Gmail's data.
    assert_eq!(
        push.gmail_notification(),
        Err(PubSubPayloadError::NotGmailNotification(
            "no emailAddress".into()
        ))
    );
}

#[test]
fn either_spelling_of_the_message_id() {
    let snake = PushMessage::parse(&push(json!({ "data": "", "message_id": "42" }))).unwrap();
    assert_eq!(snake.message_id(), "42");
    assert!(snake.data().is_empty());
    let camel = PushMessage::parse(&push(json!({ "messageId": "43", "message_id": "" }))).unwrap();
    assert_eq!(camel.dedup_key().as_str(), "pubsub:43");
}

#[test]
fn history_id_as_text_or_number() {
    for data in [
        br#"{"emailAddress":"a@example.com","historyId":"9876543210"}"#.as_slice(),
        br#"{"emailAddress":"a@example.com","historyId":9876543210}"#,
        br#"{"emailAddress":"a@example.com","historyId":" 9876543210 "}"#,
    ] {
        assert_eq!(
            GmailNotification::parse(data).map(|n| n.history_id),
            Ok(9_876_543_210),
            "{}",
            String::from_utf8_lossy(data)
        );
    }
    for bad in [
        &br#"{"emailAddress":"a@example.com"}"#[..],
        br#"{"emailAddress":"a@example.com","historyId":"soon"}"#,
        br#"{"emailAddress":"a@example.com","historyId":-1}"#,
        br#"{"emailAddress":"a@example.com","historyId":1.5}"#,
        br#"{"emailAddress":"","historyId":1}"#,
        br#"{"emailAddress":"not-an-address","historyId":1}"#,
        br#"{"historyId":1}"#,
        b"[]",
        b"",
        b"\xff",
    ] {
        assert!(
            matches!(
                GmailNotification::parse(bad),
                Err(PubSubPayloadError::NotGmailNotification(_))
            ),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn data_in_either_base64_alphabet_with_or_without_padding() {
    // `?>` and `~` encode to `+`/`/` in standard base64 and to `-`/`_` in base64url.
    let bytes = b"??>>~~ a";
    for data in [
        STANDARD.encode(bytes),
        URL_SAFE_NO_PAD.encode(bytes),
        STANDARD.encode(bytes).trim_end_matches('=').to_owned(),
    ] {
        let push = PushMessage::parse(&push_of_data(&data)).unwrap();
        assert_eq!(push.data(), bytes, "{data}");
    }
    for bad in ["not base64!", "a", "ab$c"] {
        assert_eq!(
            PushMessage::parse(&push_of_data(bad)),
            Err(PubSubPayloadError::DataNotBase64),
            "{bad}"
        );
    }
}

#[test]
fn malformed_bodies() {
    let missing = |body: &[u8], field| {
        assert_eq!(
            PushMessage::parse(body),
            Err(PubSubPayloadError::MissingField(field)),
            "{}",
            String::from_utf8_lossy(body)
        );
    };
    missing(
        br#"{"subscription":"projects/p/subscriptions/s"}"#,
        "message",
    );
    missing(TOKEN_CLAIMS, "message");
    missing(&push(json!({ "data": "e30=" })), "message.messageId");
    missing(
        &push(json!({ "data": "e30=", "messageId": " " })),
        "message.messageId",
    );
    missing(
        br#"{"message":{"messageId":"1","data":"e30="}}"#,
        "subscription",
    );
    for not_json in [&b""[..], b"not json", b"[1]", br#"{"message":"x"}"#] {
        assert!(
            matches!(
                PushMessage::parse(not_json),
                Err(PubSubPayloadError::Body(_))
            ),
            "{}",
            String::from_utf8_lossy(not_json)
        );
    }
    // Control characters cannot make a dedup key.
    assert!(matches!(
        PushMessage::parse(&push(json!({ "messageId": "1\n2" }))),
        Err(PubSubPayloadError::Body(_))
    ));
    assert_eq!(
        PubSubPayloadError::MissingField("subscription").to_string(),
        "Pub/Sub push body has no subscription"
    );
}
