//! SMS events through the queue to the worker: Telnyx messages and receipts, legacy Twilio
//! messages, and the welcome reply sent through the fake Telnyx API.
//!
//! The envelopes are built as the ingress builds them and published straight to the queue.

use serde_json::{Value, json};
use switchyard::app::Role;
use switchyard::sandbox::telnyx::TelnyxFailure;
use switchyard_shared::domain::{Channel, ConversationKey, TenantId};
use switchyard_shared::envelope::{Envelope, EventKind, new_traceparent};
use switchyard_shared::payloads::twilio::{FormParams, InboundSms};

use crate::helpers::*;

async fn outbox_row(app: &TestApp) -> Option<(String, String, i32, Option<String>)> {
    sqlx::query_as(
        "SELECT id::text, status, attempts, provider_message_id FROM outbox ORDER BY created_at",
    )
    .fetch_optional(&app.owner_pool)
    .await
    .unwrap()
}

async fn outbound_status(app: &TestApp, message_id: &str) -> Option<(String, Option<Value>)> {
    sqlx::query_as("SELECT status, error FROM messages WHERE provider_message_id = $1")
        .bind(message_id)
        .fetch_optional(&app.owner_pool)
        .await
        .unwrap()
}

/// The fixtures' customer writes to `tenant`'s new number; wait until the welcome is sent.
async fn customer_writes_and_welcome_is_sent(app: &TestApp, tenant: TenantId) {
    let webhook = fixture_json("telnyx/message_received.json");
    app.publish(&[telnyx_envelope(tenant, &webhook)]).await;
    eventually("the welcome sent", || async {
        outbox_row(app).await.is_some_and(|r| r.1 == "sent")
    })
    .await;
}

/// A receipt for the message Telnyx knows as `message_id`.
fn receipt(fixture: &str, event_id: &str, message_id: &str) -> Value {
    let mut webhook = telnyx_fixture(fixture, event_id);
    webhook["data"]["payload"]["id"] = json!(message_id);
    webhook
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_sms_becomes_contact_conversation_message_and_one_welcome() {
    let app = spawn_app().await;
    let tenant = app.telnyx_tenant().await;
    customer_writes_and_welcome_is_sent(&app, tenant).await;

    let phone: String = sqlx::query_scalar("SELECT phone FROM contacts")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    assert_eq!(phone, CUSTOMER_NUMBER);
    assert_eq!(
        app.count("SELECT count(*) FROM conversations WHERE channel = 'sms'")
            .await,
        1
    );
    let (id, kind, body, status): (String, String, String, String) = sqlx::query_as(
        "SELECT provider_message_id, message_type, body, status FROM messages \
         WHERE direction = 'inbound' AND channel = 'sms'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (id.as_str(), kind.as_str(), body.as_str(), status.as_str()),
        (
            "c0000000-0000-4000-8000-000000000001",
            "sms",
            "Can I book a table for 4 tonight?",
            "received"
        )
    );

    let sent = &app.telnyx.sent()[0];
    assert_eq!(sent.api_key, TELNYX_TENANT_KEY);
    assert_eq!(
        sent.body,
        json!({ "from": TELNYX_NUMBER, "to": CUSTOMER_NUMBER, "text": "Welcome to the shop!" })
    );
    let (outbox_id, _, attempts, provider_id) = outbox_row(&app).await.unwrap();
    assert_eq!(sent.idempotency_key.as_deref(), Some(outbox_id.as_str()));
    assert_eq!(attempts, 1);
    assert_eq!(provider_id.as_deref(), Some(sent.message_id.as_str()));
    // The reply is an outbound message in the same conversation, keyed by Telnyx's id.
    let (status, body): (String, String) = sqlx::query_as(
        "SELECT m.status, m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.direction = 'outbound' AND m.provider_message_id = $1 AND c.channel = 'sms'",
    )
    .bind(&sent.message_id)
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("sent", "Welcome to the shop!")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_three_times_has_one_effect() {
    let app = spawn_app().await;
    let tenant = app.telnyx_tenant().await;
    let webhook = fixture_json("telnyx/message_received.json");
    let mut redelivered = webhook.clone();
    redelivered["meta"]["attempt"] = json!(2);
    let mut last = webhook.clone();
    last["meta"]["attempt"] = json!(3);
    // Then another message of the same conversation: once it is applied, so are the three
    // before it (events of one conversation are applied in order).
    let mut next = telnyx_fixture("message_received", "b0000000-0000-4000-8000-0000000000ff");
    next["data"]["payload"]["id"] = json!("c0000000-0000-4000-8000-0000000000ff");
    next["data"]["payload"]["text"] = json!("Make it 5 people.");
    let envelopes: Vec<Envelope> = [&webhook, &redelivered, &last, &next]
        .into_iter()
        .map(|w| telnyx_envelope(tenant, w))
        .collect();
    app.publish(&envelopes).await;

    eventually("both messages applied", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == 2
    })
    .await;
    eventually("the welcome sent", || async {
        app.telnyx.sent().len() == 1
    })
    .await;
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 1);
    assert_eq!(app.telnyx.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_move_the_status_forward_only() {
    let app = spawn_app().await;
    let tenant = app.telnyx_tenant().await;
    customer_writes_and_welcome_is_sent(&app, tenant).await;
    let message_id = app.telnyx.sent()[0].message_id.clone();

    let sent = receipt(
        "message_sent",
        "b0000000-0000-4000-8000-000000000a01",
        &message_id,
    );
    let finalized = receipt(
        "message_finalized",
        "b0000000-0000-4000-8000-000000000a02",
        &message_id,
    );
    app.publish(&[telnyx_envelope(tenant, &sent)]).await;
    eventually("message.sent applied", || {
        app.telnyx_event_applied("b0000000-0000-4000-8000-000000000a01")
    })
    .await;
    assert_eq!(outbound_status(&app, &message_id).await.unwrap().0, "sent");
    app.publish(&[telnyx_envelope(tenant, &finalized)]).await;
    eventually("delivered", || async {
        outbound_status(&app, &message_id).await.unwrap().0 == "delivered"
    })
    .await;

    // A message.sent that arrives after message.finalized changes nothing.
    let late = receipt(
        "message_sent",
        "b0000000-0000-4000-8000-000000000a03",
        &message_id,
    );
    app.publish(&[telnyx_envelope(tenant, &late)]).await;
    eventually("the late receipt applied", || {
        app.telnyx_event_applied("b0000000-0000-4000-8000-000000000a03")
    })
    .await;
    let (status, error) = outbound_status(&app, &message_id).await.unwrap();
    assert_eq!((status.as_str(), error), ("delivered", None));
    let delivered_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT delivered_at FROM messages WHERE provider_message_id = $1")
            .bind(&message_id)
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert!(delivered_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delivery_is_stored_with_telnyx_errors_and_stays_failed() {
    let app = spawn_app().await;
    let tenant = app.telnyx_tenant().await;
    let message_id = "d0000000-0000-4000-8000-00000000f001";
    let mut failed = receipt(
        "message_finalized",
        "b0000000-0000-4000-8000-000000000f01",
        message_id,
    );
    failed["data"]["payload"]["to"][0]["status"] = json!("delivery_failed");
    failed["data"]["payload"]["errors"] =
        json!([{ "code": "40008", "title": "Undeliverable", "detail": "The carrier refused it." }]);
    let delivered = receipt(
        "message_finalized",
        "b0000000-0000-4000-8000-000000000f02",
        message_id,
    );
    // One after the other: the worker does not order a conversation's events yet.
    for (receipt, id) in [
        (&failed, "b0000000-0000-4000-8000-000000000f01"),
        (&delivered, "b0000000-0000-4000-8000-000000000f02"),
    ] {
        app.publish(&[telnyx_envelope(tenant, receipt)]).await;
        eventually("the receipt applied", || async {
            app.telnyx_event_applied(id).await
        })
        .await;
    }
    let (status, error) = outbound_status(&app, message_id).await.unwrap();
    assert_eq!(status, "failed");
    assert_eq!(error.unwrap()[0]["code"], "40008");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_message_is_stored_and_a_tenant_without_a_telnyx_sender_is_told_why() {
    let app = spawn_app().await;
    let (tenant, key) = app.tenant_with("Legacy", Some("Welcome!"), json!({})).await;
    app.put_channel(
        &key,
        "sms",
        json!({ "twilio_phone_number": "+15550004444" }),
    )
    .await;
    let params = FormParams::from_pairs(
        [
            ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "+15550002222"),
            ("To", "+15550004444"),
            ("Body", "Still open tonight?"),
            ("NumMedia", "1"),
            ("MediaUrl0", "https://api.twilio.example/m/0"),
            ("MediaContentType0", "image/jpeg"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let sms = InboundSms::from_params(params).unwrap();
    let envelope = Envelope::new(
        tenant,
        Channel::Sms,
        EventKind::MessageReceived,
        sms.dedup_key().clone(),
        ConversationKey::new(tenant, Channel::Sms, &sms.from),
        new_traceparent(),
        sms.envelope_payload(),
    );
    app.publish(&[envelope]).await;

    eventually("the message stored", || async {
        app.count("SELECT count(*) FROM messages").await == 1
    })
    .await;
    let (kind, body, media): (String, String, Value) = sqlx::query_as(
        "SELECT message_type, body, media FROM messages \
         WHERE provider_message_id = 'SM0123456789abcdef0123456789abcdef'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (kind.as_str(), body.as_str()),
        ("mms", "Still open tonight?")
    );
    assert_eq!(
        media,
        json!([{ "url": "https://api.twilio.example/m/0", "content_type": "image/jpeg" }])
    );
    // The welcome is queued, but the tenant has no Telnyx number and the platform no
    // messaging profile: it fails for good, saying so, and nothing is sent.
    eventually("the welcome failed", || async {
        outbox_row(&app).await.is_some_and(|r| r.1 == "failed")
    })
    .await;
    let error: String = sqlx::query_scalar("SELECT last_error FROM outbox")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    assert!(error.contains("no Telnyx sender"), "{error}");
    assert!(app.telnyx.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_interrupted_by_a_worker_restart_is_not_sent_twice() {
    let env = TestEnv::new().await;
    let running = env.start(Role::All).await;
    let mut app = env.into_app(running);
    let tenant = app.telnyx_tenant().await;
    customer_writes_and_welcome_is_sent(&app, tenant).await;
    let (outbox_id, _, _, first_id) = outbox_row(&app).await.unwrap();
    app.stop().await;

    // What a worker that stopped after Telnyx accepted the send, but before recording it,
    // leaves behind: the row still claimed, its lease run out.
    sqlx::query(
        "UPDATE outbox SET status = 'sending', provider_message_id = NULL, sent_at = NULL, \
           claimed_until = now() - interval '1 second'",
    )
    .execute(&app.owner_pool)
    .await
    .unwrap();
    let worker = app.start(Role::Worker).await;
    eventually("the send completed", || async {
        outbox_row(&app).await.is_some_and(|r| r.1 == "sent")
    })
    .await;
    worker.stop().await;

    // Sent again under the same Idempotency-Key: Telnyx answered with the message it had.
    let (_, _, attempts, second_id) = outbox_row(&app).await.unwrap();
    assert_eq!(attempts, 2);
    assert_eq!(second_id, first_id);
    let sent = app.telnyx.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].idempotency_key.as_deref(), Some(outbox_id.as_str()));
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_send_waits_as_long_as_telnyx_asks() {
    let app = spawn_app().await;
    let tenant = app.telnyx_tenant().await;
    app.telnyx.fail_next(TelnyxFailure {
        count: 1,
        status: 429,
        code: "10011".into(),
        retry_after_secs: Some(2),
        delay_ms: 0,
    });
    customer_writes_and_welcome_is_sent(&app, tenant).await;

    // Retries otherwise start after OUTBOX_RETRY_BASE_MS (100 ms in the tests).
    let (attempts, waited): (i32, f64) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM sent_at - created_at)::float8 FROM outbox",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(attempts, 2);
    assert!(waited >= 2.0, "sent after {waited} s");
    assert_eq!(app.telnyx.sent().len(), 1);
}
