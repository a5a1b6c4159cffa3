//! Voice events through the queue to the worker: a call's webhooks (in any order) become one
//! call record; the AI assistant's conversation adds the transcript and summary, a lead for
//! the caller, and the tenant's follow-up SMS.

use serde_json::{Value, json};
use switchyard_shared::domain::TenantId;

use crate::helpers::*;

const SESSION: &str = "e0000000-0000-4000-8000-000000000002";
const FOLLOW_UP: &str = "Thanks for calling! Book online: https://shop.example.test/book";

/// A tenant with SMS and voice on the fixtures' number and connection, and a follow-up text.
async fn voice_tenant(app: &TestApp) -> TenantId {
    let (tenant, key) = app.tenant_with("Voice shop", None, json!({})).await;
    app.put_telnyx_sms(&key).await;
    app.put_channel(
        &key,
        "voice",
        json!({
            "telnyx_connection_id": "7000000000000000001",
            "phone_number": TELNYX_NUMBER,
            "follow_up_sms_text": FOLLOW_UP,
        }),
    )
    .await;
    tenant
}

/// `call.conversation.ended` with a transcript.
fn conversation_ended(event_id: &str) -> Value {
    let mut webhook = telnyx_fixture("call_conversation_ended", event_id);
    webhook["data"]["payload"]["messages"] = json!([
        { "role": "assistant", "content": "Hello, how can I help?", "timestamp": "2026-01-01T00:10:05Z" },
        { "role": "user", "content": "A table for four tonight.", "timestamp": "2026-01-01T00:10:09Z" },
        { "role": "assistant", "content": "Booked for 7pm.", "timestamp": "2026-01-01T00:10:15Z" }
    ]);
    webhook
}

fn insights(event_id: &str, result: &str) -> Value {
    json!({
        "data": {
            "record_type": "event", "id": event_id,
            "event_type": "call.conversation_insights.generated",
            "occurred_at": "2026-01-01T00:14:20.000000Z",
            "payload": {
                "call_control_id": "v3:FAKE_call_control_id_000000000000000000000001",
                "call_leg_id": "e0000000-0000-4000-8000-000000000001",
                "call_session_id": SESSION,
                "connection_id": "7000000000000000001",
                "from": CUSTOMER_NUMBER, "to": TELNYX_NUMBER,
                "insight_group_id": "g0000000-0000-4000-8000-000000000001",
                "results": [{ "insight_id": "i1", "result": result }]
            }
        },
        "meta": { "attempt": 1 }
    })
}

type CallRow = (
    String,
    String,
    String,
    String,
    Option<i32>,
    Option<String>,
    Option<String>,
);

async fn call_row(app: &TestApp) -> CallRow {
    sqlx::query_as(
        "SELECT state, direction, from_number, to_number, duration_secs, hangup_cause, \
           hangup_source FROM calls",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap()
}

async fn call_times(app: &TestApp) -> (String, Option<String>, String) {
    sqlx::query_as(
        "SELECT to_char(started_at AT TIME ZONE 'UTC', 'HH24:MI:SS'), \
           to_char(answered_at AT TIME ZONE 'UTC', 'HH24:MI:SS'), \
           to_char(ended_at AT TIME ZONE 'UTC', 'HH24:MI:SS') FROM calls",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap()
}

async fn summary_and_notes(app: &TestApp) -> (String, String) {
    sqlx::query_as("SELECT c.summary, l.notes FROM calls c JOIN leads l ON l.last_call_id = c.id")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_the_assistant_becomes_a_call_record_a_lead_and_one_follow_up_sms() {
    let app = spawn_app().await;
    let tenant = voice_tenant(&app).await;
    let ended = "b0000000-0000-4000-8000-000000000012";
    let events: Vec<_> = [
        telnyx_fixture("call_initiated", "b0000000-0000-4000-8000-000000000010"),
        telnyx_fixture("call_hangup", "b0000000-0000-4000-8000-000000000011"),
        conversation_ended(ended),
        // The same conversation reported again under another event id.
        conversation_ended("b0000000-0000-4000-8000-000000000013"),
    ]
    .iter()
    .map(|w| telnyx_envelope(tenant, w))
    .collect();
    app.publish(&events).await;

    eventually("the follow-up sent", || async {
        app.telnyx.sent().len() == 1
    })
    .await;
    // The worker applies a conversation's events concurrently for now (per-conversation order
    // is the conversation engine's), so wait for every one of them.
    for id in 10..=13 {
        let event_id = format!("b0000000-0000-4000-8000-0000000000{id}");
        eventually("every event applied", || {
            app.telnyx_event_applied(&event_id)
        })
        .await;
    }
    assert_eq!(app.count("SELECT count(*) FROM calls").await, 1);
    assert_eq!(
        call_row(&app).await,
        (
            "ended".to_owned(),
            "incoming".to_owned(),
            CUSTOMER_NUMBER.to_owned(),
            TELNYX_NUMBER.to_owned(),
            Some(252),
            Some("normal_clearing".to_owned()),
            Some("caller".to_owned()),
        )
    );
    assert_eq!(
        call_times(&app).await,
        ("00:10:00".to_owned(), None, "00:14:12".to_owned())
    );
    let (transcript, conversation): (Value, String) =
        sqlx::query_as("SELECT transcript, assistant_conversation_id FROM calls")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(transcript.as_array().map(Vec::len), Some(3));
    assert_eq!(transcript[1]["content"], "A table for four tonight.");
    assert_eq!(conversation, "f0000000-0000-4000-8000-000000000002");

    // One lead for the caller, whose notes are the call's summary.
    let (status, source, phone): (String, String, String) = sqlx::query_as(
        "SELECT l.status, l.source_channel, c.phone FROM leads l \
         JOIN contacts c ON c.id = l.contact_id",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), source.as_str(), phone.as_str()),
        ("new", "voice", CUSTOMER_NUMBER)
    );
    assert_eq!(app.count("SELECT count(*) FROM leads").await, 1);
    let (summary, notes) = summary_and_notes(&app).await;
    assert!(summary.contains("252 s"), "{summary}");
    assert_eq!(notes, summary);

    // One follow-up SMS, keyed by the call session, sent from the tenant's number.
    let sent = app.telnyx.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body,
        json!({ "from": TELNYX_NUMBER, "to": CUSTOMER_NUMBER, "text": FOLLOW_UP })
    );
    let (outbox_id, key): (String, String) =
        sqlx::query_as("SELECT id::text, idempotency_key FROM outbox")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(key, format!("follow-up:{SESSION}"));
    assert_eq!(sent[0].idempotency_key.as_deref(), Some(outbox_id.as_str()));

    // The assistant's insights become the summary and the lead's notes.
    let insight = "The caller booked a table for four at 7pm.";
    app.publish(&[telnyx_envelope(
        tenant,
        &insights("b0000000-0000-4000-8000-000000000014", insight),
    )])
    .await;
    eventually("the insights applied", || {
        app.telnyx_event_applied("b0000000-0000-4000-8000-000000000014")
    })
    .await;
    assert_eq!(
        summary_and_notes(&app).await,
        (insight.to_owned(), insight.to_owned())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_out_of_order_still_end_in_the_right_state() {
    let app = spawn_app().await;
    let tenant = voice_tenant(&app).await;
    let mut answered = telnyx_fixture("call_initiated", "b0000000-0000-4000-8000-000000000021");
    answered["data"]["event_type"] = json!("call.answered");
    answered["data"]["occurred_at"] = json!("2026-01-01T00:10:03.000000Z");
    let payload = answered["data"]["payload"].as_object_mut().unwrap();
    payload.remove("direction");
    payload.insert("state".into(), json!("answered"));
    let events: Vec<_> = [
        telnyx_fixture("call_hangup", "b0000000-0000-4000-8000-000000000020"),
        answered,
        telnyx_fixture("call_initiated", "b0000000-0000-4000-8000-000000000022"),
    ]
    .iter()
    .map(|w| telnyx_envelope(tenant, w))
    .collect();
    app.publish(&events).await;

    for id in 20..=22 {
        let event_id = format!("b0000000-0000-4000-8000-0000000000{id}");
        eventually("every event applied", || {
            app.telnyx_event_applied(&event_id)
        })
        .await;
    }
    assert_eq!(app.count("SELECT count(*) FROM calls").await, 1);
    let (state, direction, _, _, duration, cause, _) = call_row(&app).await;
    assert_eq!(
        (
            state.as_str(),
            direction.as_str(),
            duration,
            cause.as_deref()
        ),
        ("ended", "incoming", Some(252), Some("normal_clearing"))
    );
    assert_eq!(
        call_times(&app).await,
        (
            "00:10:00".to_owned(),
            Some("00:10:03".to_owned()),
            "00:14:12".to_owned()
        )
    );
    // No assistant conversation: no lead, no follow-up.
    assert_eq!(app.count("SELECT count(*) FROM leads").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);
}
