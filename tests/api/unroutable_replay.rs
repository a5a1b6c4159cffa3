//! Unroutable events through the admin API: recorded by the webhooks, listed, and replayed
//! (one or in bulk, with a dry run) once their tenant is configured — routed by the webhooks'
//! own code, with the dedup key the webhook would have given, to the tenant whose key vouched
//! for them or to none.

use serde_json::{Value, json};
use switchyard::sandbox::google_signing::{GoogleSigner, PushClaims, push_body};
use switchyard::sandbox::signing::{TelnyxSigner, twilio_form};

use crate::dead_letters::{get, ids, post};
use crate::helpers::*;
use crate::published::{spawn_ingress_with, take_published};

async fn pending(app: &TestApp) -> Value {
    let (status, page) = get(app, ADMIN_TOKEN, "/api/v1/unroutable").await;
    assert_eq!(status, 200, "{page}");
    page
}

fn replay_path(event: &Value) -> String {
    format!(
        "/api/v1/unroutable/{}/replay",
        event["id"].as_str().unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_whatsapp_event_is_applied_once_its_tenant_is_configured() {
    let app = spawn_app().await;
    let event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.U1", "open?");
    assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    let page = pending(&app).await;
    let recorded = page["items"][0].clone();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(recorded["provider"], "whatsapp");
    assert_eq!(recorded["routing_key"], PHONE_NUMBER_ID);
    assert!(recorded["replayed_at"].is_null() && recorded["signer_tenant_id"].is_null());
    let path = replay_path(&recorded);

    // Still nobody's: 409 with the reason, and it stays pending.
    let (status, error) = post(&app, ADMIN_TOKEN, &path, None).await;
    assert_eq!(status, 409);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no tenant has this phone_number_id"),
        "{message}"
    );
    assert_eq!(ids(&pending(&app).await).len(), 1);

    let tenant = app.fixture_tenant().await;
    let (status, replayed) = post(&app, ADMIN_TOKEN, &path, None).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["tenant_id"], tenant.to_string());
    assert_eq!(replayed["dedup_key"], "wa:msg:wamid.U1");
    assert!(replayed["event"]["replayed_at"].is_string());
    eventually("the replayed message stored", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.U1'")
            .await
            == 1
    })
    .await;
    assert_eq!(post(&app, ADMIN_TOKEN, &path, None).await.0, 409);
    assert!(ids(&pending(&app).await).is_empty());
    let (_, replayed_list) = get(&app, ADMIN_TOKEN, "/api/v1/unroutable?state=replayed").await;
    assert_eq!(ids(&replayed_list), [recorded["id"].as_str().unwrap()]);

    // Meta delivers it again, now routable: the same dedup key, so it is not applied twice.
    assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    let next = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.U2",
        "hello?",
    );
    assert_eq!(app.post_whatsapp(bytes(&next)).await.status(), 200);
    eventually("the next message of the conversation", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.U2'")
            .await
            == 1
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.U1'")
            .await,
        1
    );

    // Routing keys of tenants that do not exist yet are the platform's business.
    let (admin, _) = app.admin_and_agent_keys("Other").await;
    assert_eq!(get(&app, &admin, "/api/v1/unroutable").await.0, 403);
    assert_eq!(post(&app, &admin, &path, None).await.0, 403);
    let bulk = post(&app, &admin, "/api/v1/unroutable/replay", Some(json!({}))).await;
    assert_eq!(bulk.0, 403);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'unroutable.replay'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_replay_routes_what_has_a_tenant_now_and_reports_the_rest() {
    let app = spawn_ingress_with(|s| {
        s.ingress.telnyx_public_key = Some(TelnyxSigner::sandbox().public_key_base64());
    })
    .await;
    let now = chrono::Utc::now().timestamp();
    let sms = fixture("telnyx/message_received.json");
    let response =
        crate::telnyx_webhook::post_signed(&app, &TelnyxSigner::sandbox(), now, &sms).await;
    assert_eq!(response.status(), 200);
    let unknown = inbound_text(
        "100000000000077",
        "200000000000077",
        "1555",
        "wamid.U7",
        "hi",
    );
    assert_eq!(app.post_whatsapp(bytes(&unknown)).await.status(), 200);
    assert_eq!(ids(&pending(&app).await).len(), 2);
    let tenant = app.telnyx_tenant().await;

    // A dry run routes them and reports, and publishes and changes nothing. The new tenant's
    // number reaches the ingress's route cache through a notification, so the first dry run
    // may still miss it: dry runs change nothing, so ask until it is routed.
    let dry_run = || async {
        post(
            &app,
            ADMIN_TOKEN,
            "/api/v1/unroutable/replay",
            Some(json!({ "dry_run": true })),
        )
        .await
    };
    eventually("the new tenant's number routed by a dry run", || async {
        dry_run().await.1["replayed"].as_u64() == Some(1)
    })
    .await;
    let (status, dry) = dry_run().await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["matched"].as_u64(), dry["replayed"].as_u64()),
        (Some(2), Some(1))
    );
    let still = &dry["still_unroutable"];
    assert_eq!(still.as_array().unwrap().len(), 1);
    assert_eq!(
        (
            still[0]["provider"].as_str(),
            still[0]["routing_key"].as_str()
        ),
        (Some("whatsapp"), Some("100000000000077"))
    );
    assert_eq!(still[0]["reason"], "no tenant has this phone_number_id");
    assert!(dry["next"].is_null());
    assert!(take_published(&app, "sms").await.is_empty());
    assert_eq!(ids(&pending(&app).await).len(), 2);

    let (status, done) = post(
        &app,
        ADMIN_TOKEN,
        "/api/v1/unroutable/replay",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        (done["matched"].as_u64(), done["replayed"].as_u64()),
        (Some(2), Some(1))
    );
    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 1);
    let envelope = &published[0];
    assert_eq!(envelope["tenant_id"], tenant.to_string());
    assert_eq!(envelope["kind"], "message_received");
    assert_eq!(
        envelope["dedup_key"],
        "telnyx:b0000000-0000-4000-8000-000000000001"
    );
    assert_eq!(
        envelope["conversation_key"],
        format!("{tenant}:sms:{CUSTOMER_NUMBER}")
    );
    let left = pending(&app).await;
    assert_eq!(left["items"].as_array().unwrap().len(), 1);
    assert_eq!(left["items"][0]["provider"], "whatsapp");

    // Filters and bounds.
    let (_, by_provider) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/unroutable?provider=telnyx&state=all",
    )
    .await;
    assert_eq!(by_provider["items"].as_array().unwrap().len(), 1);
    let (_, by_key) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/unroutable?routing_key=100000000000077",
    )
    .await;
    assert_eq!(by_key["items"].as_array().unwrap().len(), 1);
    let (_, first) = get(&app, ADMIN_TOKEN, "/api/v1/unroutable?state=all&limit=1").await;
    assert!(first["next"].is_string());
    for query in [
        "provider=fax",
        "state=gone",
        "routing_key=",
        "limit=0",
        "after=x",
    ] {
        let (status, _) = get(&app, ADMIN_TOKEN, &format!("/api/v1/unroutable?{query}")).await;
        assert_eq!(status, 422, "{query}");
    }
    for (body, field) in [
        (json!({ "provider": "fax" }), "provider"),
        (json!({ "limit": 0 }), "limit"),
        (json!({ "limit": 501 }), "limit"),
        (json!({ "after": "x" }), "after"),
        (json!({ "extra": 1 }), "body"),
    ] {
        let (status, error) = post(
            &app,
            ADMIN_TOKEN,
            "/api/v1/unroutable/replay",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 422, "{body}");
        assert!(
            error["error"]["fields"][field].is_string(),
            "{body}: {error}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'unroutable.replay_bulk'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_vouched_for_by_a_tenants_own_key_goes_to_no_other_tenant() {
    let app = spawn_ingress_with(|s| s.ingress.whatsapp_app_secret = None).await;
    let alpha = app.create_tenant("alpha", None).await;
    app.put_whatsapp(
        alpha,
        "100000000000011",
        "200000000000011",
        Some("alpha-own-secret"),
    )
    .await;
    // Alpha signs a batch with its own event and one for a number nobody has yet.
    let mut batch = inbound_text(
        "100000000000011",
        "200000000000011",
        "1555",
        "wamid.A1",
        "hi",
    );
    let foreign = inbound_text(
        "100000000000022",
        "200000000000022",
        "1555",
        "wamid.B1",
        "hi",
    );
    batch["entry"]
        .as_array_mut()
        .unwrap()
        .push(foreign["entry"][0].clone());
    let response = app
        .post_whatsapp_signed_with("alpha-own-secret", bytes(&batch))
        .await;
    assert_eq!(response.status(), 200);
    let recorded = pending(&app).await["items"][0].clone();
    assert_eq!(recorded["signer_tenant_id"], alpha.to_string());
    assert_eq!(take_published(&app, "whatsapp").await.len(), 1);

    // Beta takes the number later: alpha's key does not speak for beta.
    let beta = app.create_tenant("beta", None).await;
    app.put_whatsapp(beta, "100000000000022", "200000000000022", None)
        .await;
    let (status, error) = post(&app, ADMIN_TOKEN, &replay_path(&recorded), None).await;
    assert_eq!(status, 409);
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("does not belong to this tenant"),
        "{message}"
    );
    assert!(take_published(&app, "whatsapp").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twilio_and_gmail_events_replay_with_the_webhooks_dedup_keys() {
    use crate::twilio_webhook::{PUBLIC_BASE, inbound, post_form, tenant_on_twilio};
    let app = spawn_ingress_with(|s| {
        s.ingress.public_base_url = Some(PUBLIC_BASE.into());
        s.ingress.twilio_auth_token = Some(switchyard_shared::secrets::SecretString::new(
            "platform-token",
        ));
    })
    .await;
    let url = format!("{PUBLIC_BASE}/webhooks/twilio/sms");
    let (body, signature) = twilio_form(&url, &inbound("+15550003333", "SM0009"), "platform-token");
    assert_eq!(post_form(&app, body, Some(&signature)).await.status(), 200);
    let recorded = pending(&app).await["items"][0].clone();
    assert_eq!(recorded["provider"], "twilio");
    let tenant = tenant_on_twilio(&app).await;
    let (status, replayed) = post(&app, ADMIN_TOKEN, &replay_path(&recorded), None).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["dedup_key"], "twilio:SM0009");
    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["tenant_id"], tenant.as_str());
    assert_eq!(published[0]["payload"]["params"]["MessageSid"], "SM0009");

    use crate::gmail_webhook::{
        AUDIENCE, PUSH_ACCOUNT, SUBSCRIPTION, connect_mailbox, gmail_ingress, notification, now,
        push,
    };
    let app = gmail_ingress().await;
    let token = GoogleSigner::sandbox()
        .id_token(&PushClaims::new(AUDIENCE, PUSH_ACCOUNT, now()))
        .unwrap();
    let body = push_body(
        &notification(7),
        "m-9",
        SUBSCRIPTION,
        "2026-11-26T00:00:00Z",
    );
    let response = push(&app, Some(&format!("Bearer {token}")), body).await;
    assert_eq!(response.status(), 204);
    let recorded = pending(&app).await["items"][0].clone();
    assert_eq!(recorded["provider"], "gmail");
    let tenant = connect_mailbox(&app).await;
    let (status, replayed) = post(&app, ADMIN_TOKEN, &replay_path(&recorded), None).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["dedup_key"], "pubsub:m-9");
    let published = take_published(&app, "email").await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["tenant_id"], tenant.as_str());
    assert_eq!(published[0]["kind"], "mailbox_changed");
}
