//! The Telnyx webhook reader against every fixture in `tests/fixtures/telnyx/`, and against
//! bodies that are not Telnyx webhooks.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("../../../../tests/fixtures/telnyx/", $name))
    };
}

const MESSAGE_RECEIVED: &[u8] = fixture!("message_received.json");
const MESSAGE_SENT: &[u8] = fixture!("message_sent.json");
const MESSAGE_FINALIZED: &[u8] = fixture!("message_finalized.json");
const CALL_INITIATED: &[u8] = fixture!("call_initiated.json");
const CALL_HANGUP: &[u8] = fixture!("call_hangup.json");
const CONVERSATION_ENDED: &[u8] = fixture!("call_conversation_ended.json");
const SEND_REQUEST: &[u8] = fixture!("send_message_request.json");
const SEND_RESPONSE: &[u8] = fixture!("send_message_response.json");
const ERROR_RESPONSE: &[u8] = fixture!("error_response.json");

const OUR_NUMBER: &str = "+15550003333";
const CUSTOMER: &str = "+15550001111";
const CONNECTION: &str = "7000000000000000001";

fn webhook(body: &[u8]) -> Webhook<'_> {
    Webhook::parse(body).unwrap()
}

fn messaging(our_number: &str, contact: &str) -> Option<Routing> {
    Some(Routing::Messaging {
        our_number: our_number.into(),
        contact: contact.into(),
        messaging_profile_id: Some("40000000-0000-4000-8000-000000000001".into()),
    })
}

#[test]
fn every_fixture_is_covered_here() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/telnyx");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "call_conversation_ended.json",
            "call_hangup.json",
            "call_initiated.json",
            "error_response.json",
            "message_finalized.json",
            "message_received.json",
            "message_sent.json",
            "send_message_request.json",
            "send_message_response.json",
        ]
    );
}

#[test]
fn message_received() {
    let hook = webhook(MESSAGE_RECEIVED);
    assert_eq!(hook.event_type(), &EventType::MessageReceived);
    assert_eq!(hook.event_id(), "b0000000-0000-4000-8000-000000000001");
    assert_eq!(
        hook.dedup_key().as_str(),
        "telnyx:b0000000-0000-4000-8000-000000000001"
    );
    assert_eq!(hook.envelope_kind(), EventKind::MessageReceived);
    assert_eq!(hook.attempt(), 1);
    assert_eq!(
        hook.occurred_at().map(|t| t.to_rfc3339()),
        Some("2026-01-01T00:00:00+00:00".to_owned())
    );
    assert_eq!(hook.routing(), Ok(messaging(OUR_NUMBER, CUSTOMER)));
    let Ok(Event::MessageReceived(message)) = hook.event() else {
        panic!("not a received message");
    };
    assert_eq!(message.id, "c0000000-0000-4000-8000-000000000001");
    assert_eq!(message.direction, Some(MessageDirection::Inbound));
    assert_eq!(message.message_type, Some(MessageType::Sms));
    assert_eq!(message.sender(), Some(CUSTOMER));
    assert_eq!(message.first_recipient(), Some(OUR_NUMBER));
    assert_eq!(message.to[0].status.as_deref(), Some("webhook_delivered"));
    assert_eq!(message.to[0].delivery_status(), None);
    assert_eq!(
        message.text.as_deref(),
        Some("Can I book a table for 4 tonight?")
    );
    assert!(matches!(message.text, Some(Cow::Borrowed(_))));
    assert_eq!(message.media_urls().count(), 0);
    assert!(message.errors.is_empty());
}

#[test]
fn message_sent_and_finalized() {
    for (body, event_type, status) in [
        (MESSAGE_SENT, EventType::MessageSent, DeliveryStatus::Sent),
        (
            MESSAGE_FINALIZED,
            EventType::MessageFinalized,
            DeliveryStatus::Delivered,
        ),
    ] {
        let hook = webhook(body);
        assert_eq!(hook.event_type(), &event_type);
        assert_eq!(hook.envelope_kind(), EventKind::MessageStatus);
        // Status events are routed by our number, which is the sender now.
        assert_eq!(hook.routing(), Ok(messaging(OUR_NUMBER, CUSTOMER)));
        let message = match hook.event() {
            Ok(Event::MessageSent(m) | Event::MessageFinalized(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(message.id, "d0000000-0000-4000-8000-000000000001");
        assert_eq!(message.direction, Some(MessageDirection::Outbound));
        assert_eq!(message.to[0].delivery_status(), Some(status));
        assert!(message.errors.is_empty());
        assert!(message.sent_at.is_some());
    }
    let finalized = webhook(MESSAGE_FINALIZED).dedup_key().clone();
    assert_ne!(webhook(MESSAGE_SENT).dedup_key(), &finalized);
}

#[test]
fn call_initiated() {
    let hook = webhook(CALL_INITIATED);
    assert_eq!(hook.event_type(), &EventType::CallInitiated);
    assert_eq!(hook.event_type().channel(), Some(Channel::Voice));
    assert_eq!(hook.envelope_kind(), EventKind::Call);
    assert_eq!(
        hook.routing(),
        Ok(Some(Routing::Voice {
            connection_id: Some(CONNECTION.into()),
            our_number: Some(OUR_NUMBER.into()),
            contact: Some(CUSTOMER.into()),
        }))
    );
    let Ok(Event::CallInitiated(leg, progress)) = hook.event() else {
        panic!("not call.initiated");
    };
    assert_eq!(leg.direction, Some(Direction::Incoming));
    let ids = [
        &leg.call_control_id,
        &leg.call_session_id,
        &leg.client_state,
    ];
    assert_eq!(
        ids.map(|id| id.as_deref()),
        [
            Some("v3:FAKE_call_control_id_000000000000000000000001"),
            Some("e0000000-0000-4000-8000-000000000002"),
            None
        ]
    );
    assert_eq!(progress.state.as_deref(), Some("parked"));
    assert!(progress.start_time.is_some());
}

#[test]
fn call_hangup_has_no_direction() {
    let hook = webhook(CALL_HANGUP);
    assert_eq!(hook.event_type(), &EventType::CallHangup);
    assert_eq!(
        hook.routing(),
        Ok(Some(Routing::Voice {
            connection_id: Some(CONNECTION.into()),
            our_number: None,
            contact: None,
        }))
    );
    let Ok(Event::CallHangup(leg, progress)) = hook.event() else {
        panic!("not call.hangup");
    };
    assert_eq!(leg.remote_party_given(OUR_NUMBER), Some(CUSTOMER));
    assert_eq!(progress.hangup_cause.as_deref(), Some("normal_clearing"));
    assert_eq!(progress.hangup_source.as_deref(), Some("caller"));
    assert_eq!(progress.sip_hangup_cause.as_deref(), Some("200"));
    assert_eq!(progress.state.as_deref(), Some("hangup"));
}

#[test]
fn conversation_ended() {
    let hook = webhook(CONVERSATION_ENDED);
    assert_eq!(hook.event_type(), &EventType::ConversationEnded);
    assert_eq!(hook.event_type().as_str(), "call.conversation.ended");
    let Ok(Event::ConversationEnded(leg, ended)) = hook.event() else {
        panic!("not call.conversation.ended");
    };
    assert_eq!(leg.connection_id.as_deref(), Some(CONNECTION));
    let texts = [&ended.assistant_id, &ended.conversation_id, &ended.reason];
    assert_eq!(
        texts.map(|t| t.as_deref()),
        [
            Some("assistant-f0000000-0000-4000-8000-000000000001"),
            Some("f0000000-0000-4000-8000-000000000002"),
            Some("user_hangup")
        ]
    );
    assert_eq!(ended.duration_sec, Some(252));
    // The documented example has no transcript.
    assert!(ended.messages.is_empty());
}

#[test]
fn answered_and_insights_events() {
    let answered = br#"{"data": {"event_type": "call.answered", "id": "e1",
        "occurred_at": "2026-01-01T00:10:01Z",
        "payload": {"connection_id": "7000000000000000001", "from": "+15550001111",
                    "to": "+15550003333", "start_time": "2026-01-01T00:10:00Z"}}}"#;
    let hook = webhook(answered);
    assert!(matches!(hook.event(), Ok(Event::CallAnswered(..))));
    let insights = br#"{"data": {"event_type": "call.conversation_insights.generated",
        "id": "e2", "payload": {"connection_id": "7000000000000000001",
        "insight_group_id": "g1", "results": [{"insight_id": "i1", "result": "booked"}]}}}"#;
    let hook = webhook(insights);
    let Ok(Event::InsightsGenerated(_, generated)) = hook.event() else {
        panic!("not insights");
    };
    assert_eq!(generated.results[0].text().as_deref(), Some("booked"));
}

#[test]
fn unknown_event_types_are_kept() {
    let body = br#"{"data": {"event_type": "call.bridged", "id": "e3",
        "payload": {"connection_id": "7000000000000000001"}}, "meta": {"attempt": 3}}"#;
    let hook = webhook(body);
    assert_eq!(hook.event_type(), &EventType::Other("call.bridged".into()));
    assert_eq!(hook.event_type().as_str(), "call.bridged");
    assert_eq!(hook.attempt(), 3);
    assert!(matches!(hook.event(), Ok(Event::Other)));
    // Still a call: routed by its connection.
    assert!(matches!(hook.routing(), Ok(Some(Routing::Voice { .. }))));

    let other = br#"{"data": {"event_type": "fax.received", "id": "e4"}}"#;
    let hook = webhook(other);
    assert_eq!(hook.event_type().channel(), None);
    assert_eq!(hook.routing(), Ok(None));
    assert_eq!(hook.envelope_kind(), EventKind::Other);
}

#[test]
fn event_type_names_round_trip() {
    for (kind, name) in EventType::KNOWN {
        assert_eq!(EventType::parse(name), kind);
        assert_eq!(kind.as_str(), name);
    }
}

#[test]
fn send_request_response_and_error_fixtures() {
    // The request body is not a message object but carries the same numbers.
    let request: serde_json::Value = serde_json::from_slice(SEND_REQUEST).unwrap();
    assert_eq!(request["from"], OUR_NUMBER);
    assert_eq!(request["to"], CUSTOMER);

    #[derive(Deserialize)]
    struct Response<'a> {
        #[serde(borrow)]
        data: Message<'a>,
    }
    let response: Response = serde_json::from_slice(SEND_RESPONSE).unwrap();
    assert_eq!(response.data.id, "d0000000-0000-4000-8000-000000000001");
    assert_eq!(
        response.data.to[0].delivery_status(),
        Some(DeliveryStatus::Queued)
    );

    #[derive(Deserialize)]
    struct Errors<'a> {
        #[serde(borrow)]
        errors: Vec<ApiError<'a>>,
    }
    let errors: Errors = serde_json::from_slice(ERROR_RESPONSE).unwrap();
    assert_eq!(errors.errors[0].code, Some(ErrorCode("40310".into())));
    assert_eq!(
        errors.errors[0].to_string(),
        "40310 Invalid 'to' address: Source and destination cannot be the same number: +15550003333"
    );
}

#[test]
fn malformed_bodies_say_what_is_wrong() {
    for (body, expected) in [
        (&b"<html>"[..], "malformed Telnyx webhook: expected value"),
        (b"7", "malformed Telnyx webhook: invalid type: integer `7`"),
        (b"{}", "missing field `data`"),
        (
            br#"{"data": {"event_type": "message.received"}}"#,
            "missing field `id`",
        ),
        (br#"{"data": {"id": "e5"}}"#, "missing field `event_type`"),
        (
            br#"{"data": {"id": 5, "event_type": "message.received"}}"#,
            "invalid type: integer `5`",
        ),
        (
            br#"{"data": {"id": "", "event_type": "message.received"}}"#,
            "data.id is empty",
        ),
        (
            br#"{"data": {"id": "a\u0000b", "event_type": "x"}}"#,
            "data.id: invalid dedup key",
        ),
        (
            br#"{"data": {"id": "e6", "event_type": "x", "occurred_at": "noon"}}"#,
            "malformed Telnyx webhook",
        ),
        (
            br#"{"data": {"id": "e7", "event_type": "x"}, "meta": {"attempt": "one"}}"#,
            "invalid type: string \"one\"",
        ),
    ] {
        let err = Webhook::parse(body).unwrap_err().to_string();
        assert!(
            err.contains(expected),
            "{}: {err}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn malformed_payloads_say_what_is_wrong() {
    let cases: [(&[u8], TelnyxPayloadError); 4] = [
        (
            br#"{"data": {"id": "e8", "event_type": "message.received"}}"#,
            TelnyxPayloadError::Payload {
                event_type: "message.received".into(),
                reason: "missing data.payload".into(),
            },
        ),
        (
            br#"{"data": {"id": "e9", "event_type": "message.received",
                 "payload": {"id": "m", "direction": "inbound", "from": {"phone_number": "+15550001111"}, "to": []}}}"#,
            TelnyxPayloadError::NoRoutingKey {
                event_type: "message.received".into(),
                what: "to[].phone_number",
            },
        ),
        (
            br#"{"data": {"id": "e10", "event_type": "message.finalized",
                 "payload": {"id": "m", "direction": "outbound", "to": [{"phone_number": "+15550001111"}]}}}"#,
            TelnyxPayloadError::NoRoutingKey {
                event_type: "message.finalized".into(),
                what: "from.phone_number",
            },
        ),
        (
            br#"{"data": {"id": "e11", "event_type": "call.hangup", "payload": {"from": "+1"}}}"#,
            TelnyxPayloadError::NoRoutingKey {
                event_type: "call.hangup".into(),
                what: "connection_id",
            },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(webhook(body).routing(), Err(expected));
    }
    let wrong_type = br#"{"data": {"id": "e12", "event_type": "message.received",
        "payload": {"id": "m", "to": 42}}}"#;
    let err = webhook(wrong_type).event().unwrap_err().to_string();
    assert!(
        err.starts_with("malformed message.received payload: invalid type: integer `42`"),
        "{err}"
    );
    let err = webhook(wrong_type).routing().unwrap_err();
    assert!(matches!(err, TelnyxPayloadError::Payload { .. }), "{err}");
}
