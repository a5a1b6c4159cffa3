//! SMS and voice end to end: signed webhooks into the real ingress, the real worker, the fake
//! Telnyx API on the way out.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::signing::TelnyxSigner;

use crate::helpers::*;

async fn post_signed(app: &TestApp, body: &[u8]) -> u16 {
    let now = chrono::Utc::now().timestamp();
    crate::telnyx_webhook::post_signed(app, &TelnyxSigner::sandbox(), now, body)
        .await
        .status()
        .as_u16()
}

async fn app_trusting_the_sandbox_key() -> TestApp {
    spawn_app_with(|s| {
        s.ingress.telnyx_public_key = Some(TelnyxSigner::sandbox().public_key_base64());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_sms_delivered_three_times_is_stored_once_and_answered_once() {
    let app = app_trusting_the_sandbox_key().await;
    app.telnyx_tenant().await;
    let body = fixture("telnyx/message_received.json");
    for _ in 0..3 {
        assert_eq!(post_signed(&app, &body).await, 200);
    }
    eventually("the welcome sent through Telnyx", || async {
        !app.telnyx.sent().is_empty()
    })
    .await;
    assert!(
        app.telnyx_event_applied("b0000000-0000-4000-8000-000000000001")
            .await
    );
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound' AND channel = 'sms'")
            .await,
        1
    );
    // The two repeats were absorbed by the dedup key, and counted on it.
    eventually("both repeats counted as duplicates", || async {
        app.count("SELECT coalesce(sum(duplicates), 0)::bigint FROM processed_events")
            .await
            == 2
    })
    .await;
    let sent = app.telnyx.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body["to"], CUSTOMER_NUMBER);
    assert_eq!(sent[0].body["from"], TELNYX_NUMBER);
    let outbox_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM outbox WHERE channel = 'sms'")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    assert_eq!(
        sent[0].idempotency_key.as_deref(),
        Some(outbox_id.to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_ingress_becomes_a_call_record_and_a_lead() {
    let app = app_trusting_the_sandbox_key().await;
    let (_, key) = app.tenant_with("Voice shop", None, json!({})).await;
    app.put_telnyx_sms(&key).await;
    app.put_channel(
        &key,
        "voice",
        json!({ "telnyx_connection_id": "7000000000000000001" }),
    )
    .await;
    for file in ["call_initiated", "call_hangup", "call_conversation_ended"] {
        let body = fixture(&format!("telnyx/{file}.json"));
        assert_eq!(post_signed(&app, &body).await, 200, "{file}");
    }
    eventually("the call ended with a summary and a lead", || async {
        app.count("SELECT count(*) FROM calls WHERE ended_at IS NOT NULL AND summary IS NOT NULL")
            .await
            == 1
            && app.count("SELECT count(*) FROM leads").await == 1
    })
    .await;
    let (from, to, cause): (String, String, Option<String>) =
        sqlx::query_as("SELECT from_number, to_number, hangup_cause FROM calls")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(
        (from.as_str(), to.as_str()),
        (CUSTOMER_NUMBER, TELNYX_NUMBER)
    );
    assert!(cause.is_some());
    // The lead belongs to the caller, found even on events that do not say who called.
    let lead_phone: String =
        sqlx::query_scalar("SELECT c.phone FROM leads l JOIN contacts c ON c.id = l.contact_id")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(lead_phone, CUSTOMER_NUMBER);

    // Agents see the call and move the lead along; other tenants see neither.
    let calls: Value = app
        .call(Method::GET, "/api/v1/calls", &key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(calls["items"].as_array().unwrap().len(), 1);
    assert_eq!(calls["items"][0]["state"], "ended");
    assert!(calls["items"][0]["summary"].is_string());
    let leads: Value = app
        .call(Method::GET, "/api/v1/leads?status=new", &key, None)
        .await
        .json()
        .await
        .unwrap();
    let lead_id = leads["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/leads/{lead_id}");
    let moved = app
        .call(
            Method::PATCH,
            &path,
            &key,
            Some(json!({ "status": "contacted", "notes": "Called back" })),
        )
        .await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(
        (moved["status"].as_str(), moved["notes"].as_str()),
        (Some("contacted"), Some("Called back"))
    );
    let invalid = app
        .call(
            Method::PATCH,
            &path,
            &key,
            Some(json!({ "status": "maybe" })),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let (_, other) = app.provision("Someone Else").await;
    assert_eq!(
        app.call(
            Method::PATCH,
            &path,
            &other,
            Some(json!({ "status": "won" }))
        )
        .await
        .status(),
        404
    );
    let none: Value = app
        .call(Method::GET, "/api/v1/calls", &other, None)
        .await
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_assistants_send_sms_tool_reaches_telnyx_once() {
    let app = app_trusting_the_sandbox_key().await;
    let (tenant, key) = app.tenant_with("Tool shop", None, json!({})).await;
    app.put_telnyx_sms(&key).await;
    app.put_channel(
        &key,
        "voice",
        json!({ "telnyx_connection_id": "7000000000000000001", "tool_secret": "shop-tool-secret" }),
    )
    .await;
    for _ in 0..2 {
        let response = app
            .client
            .post(app.url(&format!("/tools/{tenant}/send-sms")))
            .bearer_auth("shop-tool-secret")
            .header("idempotency-key", "call-9:link")
            .json(&json!({ "to": CUSTOMER_NUMBER, "text": "Your registration link: https://example.test/r" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    eventually("the SMS sent", || async { !app.telnyx.sent().is_empty() }).await;
    let sent = app.telnyx.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].body["text"],
        "Your registration link: https://example.test/r"
    );
    let unauthorized = app
        .call(
            Method::POST,
            &format!("/tools/{tenant}/send-sms"),
            "wrong",
            Some(json!({ "to": CUSTOMER_NUMBER, "text": "x" })),
        )
        .await;
    assert_eq!(unauthorized.status(), 401);
}
