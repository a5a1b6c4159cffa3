//! An app wired to the sandbox's fake Google (OAuth token endpoint, Gmail API, certs), and the
//! steps the Gmail tests share: connecting a mailbox through the consent flow, and pushing
//! Gmail notifications signed like Google's.

use std::net::SocketAddr;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::google::{self, FakeGoogle};
use switchyard::sandbox::google_signing::{GoogleSigner, PushClaims, push_request};
use switchyard_shared::payloads::pubsub::GmailNotification;
use switchyard_shared::shutdown::Shutdown;

use crate::helpers::*;

pub const MAILBOX: &str = "owner@shop.example";
pub const AUDIENCE: &str = "https://hooks.example.test/webhooks/gmail";
pub const PUSH_ACCOUNT: &str = "gmail-push@test-project.iam.gserviceaccount.com";
const SUBSCRIPTION: &str = "projects/test-project/subscriptions/gmail-push";

/// An all-in-one app using the fake Google, which renews due watches every `check_secs`.
pub async fn app_and_google(check_secs: u64) -> (TestApp, FakeGoogle) {
    let fake = FakeGoogle::start(SocketAddr::from(([127, 0, 0, 1], 0)), Shutdown::new())
        .await
        .unwrap();
    let (token_url, certs_url) = (fake.token_url(), fake.certs_url());
    let gmail = format!("{}/gmail/v1", fake.gmail_base());
    let app = spawn_app_with(move |s| {
        s.google.oauth_client_id = Some(google::CLIENT_ID.into());
        s.google.oauth_client_secret = Some(switchyard_shared::secrets::SecretString::new(
            google::CLIENT_SECRET,
        ));
        s.google.oauth_token_url = token_url;
        s.google.gmail_api_base = gmail;
        s.google.gmail_watch_check_secs = check_secs;
        s.google.certs_url = certs_url;
        s.google.pubsub_push_audience = Some(AUDIENCE.into());
        s.google.pubsub_push_service_account = Some(PUSH_ACCOUNT.into());
    })
    .await;
    (app, fake)
}

/// The `state` of a consent the tenant behind `key` starts.
pub async fn consent_state(app: &TestApp, key: &str) -> String {
    let body: Value = app
        .call(Method::POST, "/api/v1/channels/email/connect", key, None)
        .await
        .json()
        .await
        .unwrap();
    let url = reqwest::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Google sending the browser back with `code` and `state`.
pub async fn callback(app: &TestApp, code: &str, state: &str) -> reqwest::Response {
    app.client
        .get(app.url("/oauth/google/callback"))
        .query(&[("code", code), ("state", state)])
        .send()
        .await
        .unwrap()
}

/// A new tenant (with `welcome_text`, if any) whose admin connected [`MAILBOX`]; its admin key.
pub async fn connected_tenant(
    app: &TestApp,
    fake: &FakeGoogle,
    welcome_text: Option<&str>,
) -> String {
    let response = app
        .admin_post(
            "/api/v1/tenants",
            &json!({ "name": "Mail Shop", "welcome_text": welcome_text }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let admin = body["api_key"]["key"].as_str().unwrap().to_owned();
    let state = consent_state(app, &admin).await;
    let connected = callback(app, &fake.authorize(MAILBOX), &state).await;
    assert_eq!(
        connected.status(),
        200,
        "{}",
        connected.text().await.unwrap()
    );
    admin
}

/// The connected mailbox as the admin API shows it.
pub async fn mailbox(app: &TestApp, admin: &str) -> Value {
    app.call(Method::GET, "/api/v1/channels/email/mailbox", admin, None)
        .await
        .json()
        .await
        .unwrap()
}

/// Push, signed like Google's, the notification that [`MAILBOX`] is at `history_id`, as
/// Pub/Sub message `message_id`.
pub async fn push(app: &TestApp, history_id: u64, message_id: &str) -> reqwest::Response {
    let claims = PushClaims::new(AUDIENCE, PUSH_ACCOUNT, chrono::Utc::now().timestamp());
    let notification = GmailNotification {
        email_address: MAILBOX.into(),
        history_id,
    };
    let signed = push_request(
        &GoogleSigner::sandbox(),
        &claims,
        &notification,
        message_id,
        SUBSCRIPTION,
    )
    .unwrap();
    app.client
        .post(app.url("/webhooks/gmail"))
        .header("content-type", "application/json")
        .header("authorization", signed.authorization)
        .body(signed.body)
        .send()
        .await
        .unwrap()
}
