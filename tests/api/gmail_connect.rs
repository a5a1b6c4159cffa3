//! Connecting a Gmail mailbox: the consent URL, and the callback's refusals. (The full
//! exchange runs against the fake Google endpoints.)

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_url_asks_for_offline_gmail_access_with_a_signed_state() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_agent_keys("Mail Shop").await;
    let response = app
        .call(Method::POST, "/api/v1/channels/email/connect", &admin, None)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let url = reqwest::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "test-client.apps.googleusercontent.com");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["response_type"], "code");
    assert!(query["scope"].contains("gmail.modify"));
    assert_eq!(
        query["redirect_uri"],
        "https://hooks.example.test/oauth/google/callback"
    );
    assert!(!query["state"].is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tenant_admins_start_a_connection() {
    let app = spawn_app().await;
    let (_, agent) = app.admin_and_agent_keys("Agents Only").await;
    let refused = app
        .call(Method::POST, "/api/v1/channels/email/connect", &agent, None)
        .await;
    assert_eq!(refused.status(), 403);
    let anonymous = app
        .client
        .post(app.url("/api/v1/channels/email/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_refuses_forged_states_and_declined_consents() {
    let app = spawn_app().await;
    for query in [
        "code=4/abc&state=not-a-state",
        "code=4/abc",
        "error=access_denied&state=x",
        // A login token is no consent state.
        "code=4/abc&state=eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/oauth/google/callback?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
    }
    assert_eq!(app.count("SELECT count(*) FROM gmail_mailboxes").await, 0);
}
