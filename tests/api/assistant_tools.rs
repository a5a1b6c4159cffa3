//! The voice assistant's tool endpoints: the tenant is named in the path and proven by its
//! tool secret; side effects are queued, never sent inline.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::published::spawn_ingress_with;

const TOOL_SECRET: &str = "tool-secret-of-the-dental-practice";

/// A tenant with SMS and voice channels and a tool secret; returns (id, slug, API key).
async fn tenant_with_tools(app: &TestApp) -> (String, String, String) {
    let created: Value = app
        .admin_post("/api/v1/tenants", &json!({ "name": "Bright Dental" }))
        .await
        .json()
        .await
        .unwrap();
    let (id, slug, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["slug"].as_str().unwrap().to_owned(),
        created["api_key"]["key"].as_str().unwrap().to_owned(),
    );
    for (path, body) in [
        (
            "/api/v1/channels/sms",
            json!({ "telnyx_phone_number": "+15550003333" }),
        ),
        (
            "/api/v1/channels/voice",
            json!({ "telnyx_connection_id": "7000000000000000001", "tool_secret": TOOL_SECRET }),
        ),
    ] {
        let put = app.call(Method::PUT, path, &key, Some(body)).await;
        assert_eq!(put.status(), 200, "{path}");
    }
    (id, slug, key)
}

async fn tool(app: &TestApp, path: &str, secret: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).json(&body);
    if let Some(secret) = secret {
        request = request.bearer_auth(secret);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_sms_queues_one_message_per_idempotency_key() {
    let app = spawn_ingress_with(|_| {}).await;
    let (id, slug, _) = tenant_with_tools(&app).await;
    let body = json!({ "to": "+1 555 000 1111", "text": "Register here: https://example.test/r" });

    for path in [
        format!("/tools/{slug}/send-sms"),
        format!("/tools/{id}/send-sms"),
    ] {
        let response = app
            .client
            .post(app.url(&path))
            .bearer_auth(TOOL_SECRET)
            .header("idempotency-key", "call-1:tool-7")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "{path}");
    }
    // The same key twice (by slug, then by id): one send queued, addressed as the tool said.
    let rows: Vec<(String, Value, String)> =
        sqlx::query_as("SELECT channel, request, status FROM outbox")
            .fetch_all(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "sms");
    assert_eq!(
        rows[0].1,
        json!({ "to": "+15550001111", "text": "Register here: https://example.test/r" })
    );
    assert_eq!(rows[0].2, "pending");

    let invalid = tool(
        &app,
        &format!("/tools/{slug}/send-sms"),
        Some(TOOL_SECRET),
        json!({ "to": "555", "text": "" }),
    )
    .await;
    assert_eq!(invalid.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_secrets_get_401_and_unknown_tenants_404() {
    let app = spawn_ingress_with(|_| {}).await;
    let (_, slug, _) = tenant_with_tools(&app).await;
    let body = json!({ "to": "+15550001111", "text": "hello" });
    let path = format!("/tools/{slug}/send-sms");

    assert_eq!(tool(&app, &path, None, body.clone()).await.status(), 401);
    assert_eq!(
        tool(&app, &path, Some("guess"), body.clone())
            .await
            .status(),
        401
    );
    for unknown in [
        "/tools/nobody/send-sms",
        "/tools/0190a000-0000-7000-8000-000000000000/send-sms",
        "/tools/Not%20A%20Slug/send-sms",
    ] {
        let response = tool(&app, unknown, Some(TOOL_SECRET), body.clone()).await;
        assert_eq!(response.status(), 404, "{unknown}");
    }
    // Another tenant's secret does not open this tenant's tools.
    let (_, other_key) = app.provision("Other Practice").await;
    let put = app
        .call(Method::PUT, "/api/v1/channels/voice", &other_key, Some(json!({ "telnyx_connection_id": "7000000000000000002", "tool_secret": "other-secret-value" })))
        .await;
    assert_eq!(put.status(), 200);
    assert_eq!(
        tool(&app, &path, Some("other-secret-value"), body.clone())
            .await
            .status(),
        401
    );
    // A tenant without a tool secret has no tools.
    assert_eq!(
        tool(&app, "/tools/other-practice/send-sms", Some(""), body)
            .await
            .status(),
        401
    );
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_info_answers_from_the_tenant_profile() {
    let app = spawn_ingress_with(|_| {}).await;
    let (_, slug, key) = tenant_with_tools(&app).await;
    let patch = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            &key,
            Some(json!({ "welcome_text": "Hi from Bright Dental", "metadata": { "hours": "Mon-Fri 9-17" } })),
        )
        .await;
    assert_eq!(patch.status(), 200);
    let response = tool(
        &app,
        &format!("/tools/{slug}/business-info"),
        Some(TOOL_SECRET),
        json!({}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let info: Value = response.json().await.unwrap();
    assert_eq!(info["name"], "Bright Dental");
    assert_eq!(info["welcome_text"], "Hi from Bright Dental");
    assert_eq!(info["profile"]["hours"], "Mon-Fri 9-17");
}
