//! The legacy Twilio SMS webhook: HMAC-SHA1 over the public URL and the sorted form fields,
//! routing by the `To` number, TwiML answers.

use reqwest::Method;
use serde_json::json;
use switchyard::sandbox::signing::twilio_form;
use switchyard_shared::payloads::twilio::FormParams;

use crate::helpers::*;
use crate::published::{spawn_ingress_with, take_published};

pub(crate) const PUBLIC_BASE: &str = "https://hooks.example.test";
pub(crate) const AUTH_TOKEN: &str = "twilio-auth-token-of-the-tenant";
pub(crate) const OUR_NUMBER: &str = "+15550003333";

pub(crate) fn inbound(to: &str, sid: &str) -> FormParams {
    FormParams::from_pairs(
        [
            ("MessageSid", sid),
            ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
            ("From", "+15550001111"),
            ("To", to),
            ("Body", "Do you deliver on Sundays?"),
            ("NumMedia", "0"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
}

pub(crate) async fn post_form(
    app: &TestApp,
    body: String,
    signature: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/webhooks/twilio/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    request.send().await.unwrap()
}

async fn ingress() -> TestApp {
    spawn_ingress_with(|s| s.ingress.public_base_url = Some(PUBLIC_BASE.into())).await
}

pub(crate) async fn tenant_on_twilio(app: &TestApp) -> String {
    let (tenant, key) = app.provision("Legacy Twilio").await;
    let put = app
        .call(
            Method::PUT,
            "/api/v1/channels/sms",
            &key,
            Some(json!({ "twilio_phone_number": OUR_NUMBER, "twilio_auth_token": AUTH_TOKEN })),
        )
        .await;
    assert_eq!(put.status(), 200);
    tenant
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_inbound_sms_is_published_and_answered_with_twiml() {
    let app = ingress().await;
    let tenant = tenant_on_twilio(&app).await;
    let url = format!("{PUBLIC_BASE}/webhooks/twilio/sms");
    let (body, signature) = twilio_form(&url, &inbound(OUR_NUMBER, "SM0001"), AUTH_TOKEN);
    let response = post_form(&app, body, Some(&signature)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/xml");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<Response></Response>")
    );

    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 1);
    let envelope = &published[0];
    assert_eq!(envelope["tenant_id"], tenant.as_str());
    assert_eq!(envelope["kind"], "message_received");
    assert_eq!(envelope["dedup_key"], "twilio:SM0001");
    assert_eq!(envelope["payload"]["provider"], "twilio");
    assert_eq!(
        envelope["payload"]["params"]["Body"],
        "Do you deliver on Sundays?"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_wrong_url_tampering_or_no_signature_get_401() {
    let app = ingress().await;
    tenant_on_twilio(&app).await;
    let url = format!("{PUBLIC_BASE}/webhooks/twilio/sms");
    let params = inbound(OUR_NUMBER, "SM0002");

    let (body, wrong_token) = twilio_form(&url, &params, "not-the-token");
    assert_eq!(
        post_form(&app, body, Some(&wrong_token)).await.status(),
        401
    );
    // Signed for the address the ingress listens on, not the public one Twilio calls.
    let (body, wrong_url) = twilio_form(&app.url("/webhooks/twilio/sms"), &params, AUTH_TOKEN);
    assert_eq!(post_form(&app, body, Some(&wrong_url)).await.status(), 401);
    let (body, signature) = twilio_form(&url, &params, AUTH_TOKEN);
    let tampered = body.replace("Sundays", "Mondays");
    assert_eq!(
        post_form(&app, tampered, Some(&signature)).await.status(),
        401
    );
    let missing = post_form(&app, body.clone(), None).await;
    assert_eq!(missing.status(), 401);
    let error: serde_json::Value = missing.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("x-twilio-signature"), "{message}");

    assert!(take_published(&app, "sms").await.is_empty());
    // The genuine request still goes through.
    assert_eq!(post_form(&app, body, Some(&signature)).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_numbers_need_the_platform_token_and_are_then_recorded() {
    let url = format!("{PUBLIC_BASE}/webhooks/twilio/sms");
    let params = inbound("+15550009999", "SM0003");

    // No tenant, no platform token: nothing can vouch for the request.
    let app = ingress().await;
    let (body, signature) = twilio_form(&url, &params, AUTH_TOKEN);
    assert_eq!(post_form(&app, body, Some(&signature)).await.status(), 401);
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 0);

    let app = spawn_ingress_with(|s| {
        s.ingress.public_base_url = Some(PUBLIC_BASE.into());
        s.ingress.twilio_auth_token = Some(switchyard_shared::secrets::SecretString::new(
            "platform-token",
        ));
    })
    .await;
    let (body, signature) = twilio_form(&url, &params, "platform-token");
    assert_eq!(post_form(&app, body, Some(&signature)).await.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE provider = 'twilio' AND routing_key = 'phone:+15550009999'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_form_that_is_not_an_inbound_sms_gets_400_with_the_reason() {
    let app = ingress().await;
    tenant_on_twilio(&app).await;
    let url = format!("{PUBLIC_BASE}/webhooks/twilio/sms");
    let params = FormParams::from_pairs([("To".to_owned(), OUR_NUMBER.to_owned())]);
    let (body, signature) = twilio_form(&url, &params, AUTH_TOKEN);
    let response = post_form(&app, body, Some(&signature)).await;
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MessageSid"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_public_base_url_the_forwarded_host_is_what_was_signed() {
    let app = spawn_ingress_with(|_| {}).await;
    tenant_on_twilio(&app).await;
    let (body, signature) = twilio_form(
        "https://proxy.example.test/webhooks/twilio/sms",
        &inbound(OUR_NUMBER, "SM0004"),
        AUTH_TOKEN,
    );
    let response = app
        .client
        .post(app.url("/webhooks/twilio/sms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "proxy.example.test")
        .header("x-forwarded-proto", "https")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(take_published(&app, "sms").await.len(), 1);
}
