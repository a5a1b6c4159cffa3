//! The WhatsApp webhook's front door: handshake, signatures, bad input, routing.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = spawn_app().await;
    let ok = app
        .client
        .get(app.url(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "text/plain");
    assert_eq!(ok.text().await.unwrap(), "1158201444");

    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        "hub.mode=unsubscribe&hub.verify_token=test-verify-token&hub.challenge=1",
        "hub.mode=subscribe&hub.challenge=1",
        "hub.mode=subscribe&hub.verify_token=test-verify-token",
    ] {
        let refused = app
            .client
            .get(app.url(&format!("/webhooks/whatsapp?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signature_vector_of_the_fixture_is_accepted() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let vectors = fixture_json("signature_vectors.json");
    let vector = &vectors["whatsapp_x_hub_signature_256"][1];
    assert_eq!(vector["app_secret"], APP_SECRET);
    let body = fixture(vector["body_file"].as_str().unwrap());
    assert_eq!(body.len() as u64, vector["body_len"].as_u64().unwrap());
    let header = vector["header"].as_str().unwrap();
    let value = header.strip_prefix("X-Hub-Signature-256: ").unwrap();

    let response = app.post_whatsapp_raw(body, Some(value)).await;
    assert_eq!(response.status(), 200);
    eventually("the message stored", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.FAKE_INBOUND_TEXT_0001'")
            .await
            == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_malformed_or_wrong_signatures_get_401_and_change_nothing() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let body = fixture("whatsapp/inbound_text.json");
    let wrong = ["sha256=".to_owned() + &"0".repeat(64)];
    let cases: [(Option<&str>, &str); 5] = [
        (None, "missing"),
        (Some("sha1=abc"), "wrong algorithm"),
        (Some("sha256=nothex"), "not hex"),
        (Some(wrong[0].as_str()), "wrong digest"),
        (
            Some("0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"),
            "no prefix",
        ),
    ];
    for (signature, case) in cases {
        let response = app.post_whatsapp_raw(body.clone(), signature).await;
        assert_eq!(response.status(), 401, "{case}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized", "{case}");
    }
    // Signed with another secret, or a body altered after signing.
    let response = app
        .post_whatsapp_signed_with("not-the-secret", body.clone())
        .await;
    assert_eq!(response.status(), 401);
    let signature = switchyard_ingress::verify::meta::sign(APP_SECRET.as_bytes(), &body);
    let mut altered = body.clone();
    altered.push(b' ');
    assert_eq!(
        app.post_whatsapp_raw(altered, Some(&signature))
            .await
            .status(),
        401
    );

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_body_gets_413() {
    let app = spawn_app().await;
    let mut body = br#"{"object":"whatsapp_business_account","entry":[],"pad":""#.to_vec();
    body.resize(4 * 1024 * 1024 + 1, b'x');
    let response = app.post_whatsapp(body).await;
    assert_eq!(response.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_is_configurable() {
    let app = spawn_app_with(|s| s.ingress.body_limit_bytes = 1024).await;
    app.fixture_tenant().await;
    // The 1061-byte fixture is over a 1 KiB limit.
    let response = app
        .post_whatsapp(fixture("whatsapp/inbound_text.json"))
        .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_after_a_valid_signature_gets_400_with_the_reason() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let response = app
        .post_whatsapp(b"{\"object\": \"whatsapp_business_account\", ".to_vec())
        .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "bad_request");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    // Valid JSON, but a message without an id.
    let mut event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.X", "hi");
    event["entry"][0]["changes"][0]["value"]["messages"][0]
        .as_object_mut()
        .unwrap()
        .remove("id");
    let response = app.post_whatsapp(bytes(&event)).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("messages[0]") && message.contains("id"),
        "{message}"
    );
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_phone_number_id_is_acknowledged_and_recorded_as_unroutable() {
    let app = spawn_app().await;
    let response = app
        .post_whatsapp(fixture("whatsapp/inbound_text.json"))
        .await;
    assert_eq!(response.status(), 200);
    let (routing_key, reason, wamid): (String, String, String) = sqlx::query_as(
        "SELECT routing_key, reason, payload #>> '{entry,0,changes,0,value,messages,0,id}' \
         FROM unroutable_events",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(routing_key, PHONE_NUMBER_ID);
    assert!(reason.contains("no tenant"), "{reason}");
    assert_eq!(wamid, "wamid.FAKE_INBOUND_TEXT_0001");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waba_mismatch_is_not_routed() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let event = inbound_text(
        PHONE_NUMBER_ID,
        "999999999999999",
        "15550001111",
        "wamid.W",
        "hi",
    );
    assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE reason LIKE 'WABA id%'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_own_app_secret_verifies_only_its_own_events() {
    let app = spawn_app_with(|s| s.ingress.whatsapp_app_secret = None).await;
    let a = app.create_tenant("alpha", None).await;
    app.put_whatsapp(
        a,
        "100000000000011",
        "200000000000011",
        Some("alpha-own-secret"),
    )
    .await;
    let b = app.create_tenant("beta", None).await;
    app.put_whatsapp(
        b,
        "100000000000022",
        "200000000000022",
        Some("beta-own-secret"),
    )
    .await;

    // Alpha's event signed with alpha's secret: accepted and processed.
    let alpha_event = inbound_text(
        "100000000000011",
        "200000000000011",
        "1555",
        "wamid.A1",
        "hi",
    );
    let response = app
        .post_whatsapp_signed_with("alpha-own-secret", bytes(&alpha_event))
        .await;
    assert_eq!(response.status(), 200);
    eventually("alpha's message", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.A1'")
            .await
            == 1
    })
    .await;

    // Beta's event alone, signed with alpha's secret: no key of a tenant it names matches.
    let forged = inbound_text(
        "100000000000022",
        "200000000000022",
        "1555",
        "wamid.B1",
        "hi",
    );
    let response = app
        .post_whatsapp_signed_with("alpha-own-secret", bytes(&forged))
        .await;
    assert_eq!(response.status(), 401);

    // Smuggled into a batch with one of alpha's own events: alpha's key verifies the bytes,
    // but alpha cannot speak for beta. Beta's event is kept aside, never applied to beta.
    let mut batch = inbound_text(
        "100000000000011",
        "200000000000011",
        "1555",
        "wamid.A2",
        "hi",
    );
    batch["entry"]
        .as_array_mut()
        .unwrap()
        .push(forged["entry"][0].clone());
    let response = app
        .post_whatsapp_signed_with("alpha-own-secret", bytes(&batch))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE reason LIKE 'signed with%'")
            .await,
        1
    );
    eventually("alpha's second message", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.A2'")
            .await
            == 1
    })
    .await;

    // No platform secret configured and no tenant secret matches: 401.
    let response = app
        .post_whatsapp_signed_with("someone-else", bytes(&alpha_event))
        .await;
    assert_eq!(response.status(), 401);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.B1'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_reroutes_immediately() {
    let app = spawn_app().await;
    // An unknown number is remembered as unknown for a few seconds...
    let first = inbound_text(PHONE_NUMBER_ID, WABA_ID, "1555", "wamid.R1", "hi");
    assert_eq!(app.post_whatsapp(bytes(&first)).await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 1);
    // ...but configuring it through the admin API invalidates that at once.
    app.fixture_tenant().await;
    let second = inbound_text(PHONE_NUMBER_ID, WABA_ID, "1555", "wamid.R2", "hi");
    assert_eq!(app.post_whatsapp(bytes(&second)).await.status(), 200);
    eventually("the second message routed", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.R2'")
            .await
            == 1
    })
    .await;
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_message_notifications_are_kept_not_dropped() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let notification = json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA_ID, "changes": [
            { "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": { "display_phone_number": "15550002222", "phone_number_id": PHONE_NUMBER_ID },
                "errors": [{ "code": 131000, "title": "Something went wrong" }] } },
            { "field": "account_update", "value": { "event": "VERIFIED_ACCOUNT" } }
        ]}]
    });
    assert_eq!(app.post_whatsapp(bytes(&notification)).await.status(), 200);
    // The error notification names the number: routed and recorded as processed.
    eventually("the error notification processed", || async {
        app.count(
            "SELECT count(*) FROM processed_events WHERE dedup_key LIKE 'wa:other:messages:%'",
        )
        .await
            == 1
    })
    .await;
    // The account-level one names no number: kept for an admin.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM unroutable_events WHERE routing_key = 'waba:200000000000002'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_on_one_replica_reaches_the_others_cache() {
    // A long cache TTL: only the change notification can make the second replica notice.
    let app = spawn_app_with(|s| s.ingress.route_cache_ttl_secs = 3600).await;
    let replica = app.start(switchyard::app::Role::Ingress).await;
    let replica_url = replica.address.clone().unwrap();
    let tenant = app.fixture_tenant().await;
    let post_to_replica = |wamid: &str| {
        let body = bytes(&inbound_text(
            PHONE_NUMBER_ID,
            WABA_ID,
            "15550001111",
            wamid,
            "hi",
        ));
        let signature = switchyard_ingress::verify::meta::sign(APP_SECRET.as_bytes(), &body);
        app.client
            .post(format!("{replica_url}/webhooks/whatsapp"))
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
    };
    // The replica caches the route...
    assert_eq!(post_to_replica("wamid.N1").await.unwrap().status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 0);
    // ...the channel is deactivated through the first replica's admin API...
    let response = app
        .admin_put(
            &format!("/api/v1/tenants/{tenant}/channels/whatsapp"),
            &json!({ "phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID,
                     "access_token": "token-1234567", "is_active": false }),
        )
        .await;
    assert_eq!(response.status(), 200);
    // ...and the replica stops routing to it without waiting for the TTL.
    let app = &app;
    let post_to_replica = &post_to_replica;
    let mut n = 2;
    eventually("the replica to see the change", || {
        n += 1;
        let wamid = format!("wamid.N{n}");
        async move {
            post_to_replica(&wamid).await.unwrap();
            app.count("SELECT count(*) FROM unroutable_events WHERE reason LIKE '%inactive%'")
                .await
                > 0
        }
    })
    .await;
    replica.stop().await;
}
