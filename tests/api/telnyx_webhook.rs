//! The Telnyx webhook's front door: Ed25519 signatures with a time window, routing by number
//! and by Call Control connection, unroutable events, bad input.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::signing::TelnyxSigner;

use crate::helpers::*;
use crate::published::{spawn_ingress_with, take_published};

const OUR_NUMBER: &str = "+15550003333";
const CONNECTION: &str = "7000000000000000001";

/// The "platform" Telnyx account: the sandbox key, which is the RFC 8032 test key of the
/// shared signature vectors.
fn platform_signer() -> TelnyxSigner {
    TelnyxSigner::sandbox()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn ingress_with_platform_key() -> TestApp {
    spawn_ingress_with(|s| {
        s.ingress.telnyx_public_key = Some(platform_signer().public_key_base64());
    })
    .await
}

pub(crate) async fn post_signed(
    app: &TestApp,
    signer: &TelnyxSigner,
    at: i64,
    body: &[u8],
) -> reqwest::Response {
    let headers = signer.sign(at, body);
    let mut request = app
        .client
        .post(app.url("/webhooks/telnyx"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

/// A tenant whose SMS channel owns `OUR_NUMBER`, and whose voice channel owns `CONNECTION`.
async fn tenant_with_sms_and_voice(app: &TestApp, name: &str, sms: Value) -> (String, String) {
    let (tenant, key) = app.provision(name).await;
    let put = app
        .call(Method::PUT, "/api/v1/channels/sms", &key, Some(sms))
        .await;
    assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
    let voice = app
        .call(
            Method::PUT,
            "/api/v1/channels/voice",
            &key,
            Some(json!({ "telnyx_connection_id": CONNECTION })),
        )
        .await;
    assert_eq!(voice.status(), 200);
    (tenant, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_inbound_sms_is_published_for_the_tenant_that_owns_the_number() {
    let app = ingress_with_platform_key().await;
    let (tenant, _) = tenant_with_sms_and_voice(
        &app,
        "Sms Owner",
        json!({ "telnyx_phone_number": OUR_NUMBER }),
    )
    .await;
    let body = fixture("telnyx/message_received.json");
    let response = post_signed(&app, &platform_signer(), now(), &body).await;
    assert_eq!(response.status(), 200);

    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 1);
    let envelope = &published[0];
    assert_eq!(envelope["tenant_id"], tenant.as_str());
    assert_eq!(envelope["channel"], "sms");
    assert_eq!(envelope["kind"], "message_received");
    assert_eq!(
        envelope["dedup_key"],
        "telnyx:b0000000-0000-4000-8000-000000000001"
    );
    assert_eq!(
        envelope["payload"],
        serde_json::from_slice::<Value>(&body).unwrap()
    );

    // Status events of messages we sent route by our number too (the sender).
    for file in ["telnyx/message_sent.json", "telnyx/message_finalized.json"] {
        let response = post_signed(&app, &platform_signer(), now(), &fixture(file)).await;
        assert_eq!(response.status(), 200, "{file}");
    }
    let statuses = take_published(&app, "sms").await;
    assert_eq!(statuses.len(), 2);
    assert!(
        statuses
            .iter()
            .all(|e| e["kind"] == "message_status" && e["tenant_id"] == tenant.as_str())
    );
    // The sub-path a messaging profile may be pointed at is the same endpoint.
    let headers = platform_signer().sign(now(), &body);
    let mut request = app
        .client
        .post(app.url("/webhooks/telnyx/messaging"))
        .body(body.clone());
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_events_route_by_connection_and_share_the_calls_ordering_key() {
    let app = ingress_with_platform_key().await;
    let (tenant, _) = tenant_with_sms_and_voice(
        &app,
        "Voice Owner",
        json!({ "telnyx_phone_number": OUR_NUMBER }),
    )
    .await;
    for file in [
        "telnyx/call_initiated.json",
        "telnyx/call_hangup.json",
        "telnyx/call_conversation_ended.json",
    ] {
        let response = post_signed(&app, &platform_signer(), now(), &fixture(file)).await;
        assert_eq!(response.status(), 200, "{file}");
    }
    let calls = take_published(&app, "voice").await;
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|e| e["kind"] == "call" && e["tenant_id"] == tenant.as_str())
    );
    // Hang-up events do not say which side is ours: the tenant's own number tells, so every
    // event of the call is keyed by the caller.
    let caller_key = format!("{tenant}:voice:+15550001111");
    assert!(
        calls
            .iter()
            .all(|e| e["conversation_key"] == caller_key.as_str()),
        "{calls:?}"
    );
    assert!(take_published(&app, "sms").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_future_wrong_key_tampered_or_unsigned_requests_get_401_and_change_nothing() {
    let app = ingress_with_platform_key().await;
    tenant_with_sms_and_voice(
        &app,
        "Guarded",
        json!({ "telnyx_phone_number": OUR_NUMBER }),
    )
    .await;
    let body = fixture("telnyx/message_received.json");

    // The shared vector itself: a correct signature, but from 2026-01-01.
    let vectors = fixture_json("signature_vectors.json");
    let vector = &vectors["telnyx_ed25519"][1];
    assert_eq!(vector["body_file"], "telnyx/message_received.json");
    let stale = app
        .client
        .post(app.url("/webhooks/telnyx"))
        .header(
            "telnyx-timestamp",
            vector["telnyx-timestamp"].as_str().unwrap(),
        )
        .header(
            "telnyx-signature-ed25519",
            vector["telnyx-signature-ed25519"].as_str().unwrap(),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    let error: Value = stale.json().await.unwrap();
    assert!(
        error["error"]["message"].as_str().unwrap().contains("past"),
        "{error}"
    );

    // The tolerance is 300 s either way; the margins leave room for a slow machine, where
    // seconds can pass between signing here and the ingress reading its clock.
    let future = post_signed(&app, &platform_signer(), now() + 330, &body).await;
    assert_eq!(future.status(), 401);
    let just_inside = post_signed(&app, &platform_signer(), now() - 270, &body).await;
    assert_eq!(just_inside.status(), 200);
    take_published(&app, "sms").await;

    let stranger = TelnyxSigner::from_seed(&[7; 32]);
    assert_eq!(
        post_signed(&app, &stranger, now(), &body).await.status(),
        401
    );

    let headers = platform_signer().sign(now(), &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    for (omit, payload) in [
        (None, tampered),
        (Some(0), body.clone()),
        (Some(1), body.clone()),
    ] {
        let mut request = app.client.post(app.url("/webhooks/telnyx")).body(payload);
        for (i, (name, value)) in headers.pairs().into_iter().enumerate() {
            if Some(i) != omit {
                request = request.header(name, value);
            }
        }
        assert_eq!(request.send().await.unwrap().status(), 401, "omit {omit:?}");
    }
    assert!(take_published(&app, "sms").await.is_empty());
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_numbers_inactive_channels_and_other_events_are_recorded_not_lost() {
    let app = ingress_with_platform_key().await;
    let body = fixture("telnyx/message_received.json");
    assert_eq!(
        post_signed(&app, &platform_signer(), now(), &body)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE provider = 'telnyx' AND routing_key = 'phone:+15550003333'")
            .await,
        1
    );

    let (_, key) =
        tenant_with_sms_and_voice(&app, "Paused", json!({ "telnyx_phone_number": OUR_NUMBER }))
            .await;
    let off = app
        .call(Method::POST, "/api/v1/channels/sms/deactivate", &key, None)
        .await;
    assert_eq!(off.status(), 204);
    assert_eq!(
        post_signed(&app, &platform_signer(), now(), &body)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE reason LIKE '%inactive%'")
            .await,
        1
    );

    let fax = br#"{"data": {"event_type": "fax.received", "id": "b0000000-0000-4000-8000-0000000000ff", "payload": {}}}"#;
    assert_eq!(
        post_signed(&app, &platform_signer(), now(), fax)
            .await
            .status(),
        200
    );
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 3);
    assert!(take_published(&app, "sms").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_400_after_a_good_signature_and_401_before() {
    let app = ingress_with_platform_key().await;
    for body in [
        &b"{not json"[..],
        br#"{"meta": {}}"#,
        br#"{"data": {"event_type": "message.received", "id": "x", "payload": {"to": 5}}}"#,
    ] {
        let response = post_signed(&app, &platform_signer(), now(), body).await;
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(body));
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "bad_request");
    }
    // Without a platform key, nothing vouches for a body that cannot be read.
    let keyless = spawn_ingress_with(|_| {}).await;
    let response = post_signed(&keyless, &platform_signer(), now(), b"{not json").await;
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_public_key_verifies_only_its_own_numbers() {
    let app = spawn_ingress_with(|_| {}).await;
    let own = TelnyxSigner::from_seed(&[42; 32]);
    let (tenant, _) = tenant_with_sms_and_voice(
        &app,
        "Own Account",
        json!({ "telnyx_phone_number": OUR_NUMBER, "telnyx_public_key": own.public_key_base64() }),
    )
    .await;
    let (other, other_key) = app.provision("Other Account").await;
    let put = app
        .call(
            Method::PUT,
            "/api/v1/channels/sms",
            &other_key,
            Some(json!({ "telnyx_phone_number": "+15550004444" })),
        )
        .await;
    assert_eq!(put.status(), 200);

    let body = fixture("telnyx/message_received.json");
    assert_eq!(post_signed(&app, &own, now(), &body).await.status(), 200);
    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["tenant_id"], tenant.as_str());

    // The same key cannot speak for the other tenant's number.
    let text = String::from_utf8(body)
        .unwrap()
        .replace(OUR_NUMBER, "+15550004444");
    let response = post_signed(&app, &own, now(), text.as_bytes()).await;
    assert_eq!(response.status(), 401);
    assert!(take_published(&app, "sms").await.is_empty());
    assert_ne!(tenant, other);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_simulator_sends_what_the_ingress_accepts() {
    use switchyard::sandbox::simulate;
    let app = ingress_with_platform_key().await;
    tenant_with_sms_and_voice(
        &app,
        "Simulated",
        json!({ "telnyx_phone_number": OUR_NUMBER, "twilio_phone_number": "+15550004444", "twilio_auth_token": "simulated-token" }),
    )
    .await;
    let body = simulate::telnyx_sms("+15550001111", OUR_NUMBER, "Simulated hello");
    let (status, _) = simulate::post_telnyx(&app.client, &app.address, &platform_signer(), body)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let params = simulate::twilio_sms("+15550001111", "+15550004444", "Simulated hi");
    let (status, _) =
        simulate::post_twilio(&app.client, &app.address, None, "simulated-token", &params)
            .await
            .unwrap();
    assert_eq!(status, 200);
    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 2);
    assert_eq!(
        published[0]["payload"]["data"]["payload"]["text"],
        "Simulated hello"
    );
    assert_eq!(published[1]["payload"]["params"]["Body"], "Simulated hi");
}
