//! WhatsApp events end to end: webhook → queue → worker → rows, and the welcome reply.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_text_becomes_contact_conversation_message_and_one_welcome() {
    let app = spawn_app().await;
    let tenant = app.fixture_tenant().await;
    let response = app
        .post_whatsapp(fixture("whatsapp/inbound_text.json"))
        .await;
    assert_eq!(response.status(), 200);

    eventually("the welcome sent", || async { app.graph.sent().len() == 1 }).await;
    let (phone, wa_id, bsuid, name): (String, String, String, String) =
        sqlx::query_as("SELECT phone, whatsapp_id, whatsapp_user_id, display_name FROM contacts")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(
        (
            phone.as_str(),
            wa_id.as_str(),
            bsuid.as_str(),
            name.as_str()
        ),
        (
            "+15550001111",
            "15550001111",
            "US.1000000000000000001",
            "Test Customer"
        )
    );
    let (body, kind, status, channel): (String, String, String, String) = sqlx::query_as(
        "SELECT m.body, m.message_type, m.status, c.channel FROM messages m \
         JOIN conversations c ON c.id = m.conversation_id \
         WHERE m.provider_message_id = 'wamid.FAKE_INBOUND_TEXT_0001' AND m.direction = 'inbound'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (
            body.as_str(),
            kind.as_str(),
            status.as_str(),
            channel.as_str()
        ),
        (
            "Hi, are you open on Saturday?",
            "text",
            "received",
            "whatsapp"
        )
    );

    // The welcome went to the sender, from the tenant's number, with the tenant's token.
    let sent = &app.graph.sent()[0];
    assert_eq!(sent.phone_number_id, PHONE_NUMBER_ID);
    assert_eq!(sent.bearer_token, format!("token-of-{tenant}"));
    assert_eq!(sent.body["to"], "15550001111");
    assert_eq!(sent.body["text"]["body"], "Welcome to the fixture shop!");
    // ...and is stored as an outbound message under the wamid Graph returned.
    eventually("the outbound message recorded", || async {
        let recorded: Option<(String, String)> = sqlx::query_as(
            "SELECT provider_message_id, status FROM messages WHERE direction = 'outbound'",
        )
        .fetch_optional(&app.owner_pool)
        .await
        .unwrap();
        recorded == Some((sent.wamid.clone(), "sent".to_owned()))
    })
    .await;

    // A second message from the same contact is stored but not welcomed again.
    let again = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.SECOND",
        "thanks",
    );
    assert_eq!(app.post_whatsapp(bytes(&again)).await.status(), 200);
    eventually("the second message", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.SECOND'")
            .await
            == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.graph.sent().len(), 1);
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM conversations").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn button_reply_and_image_fixtures_are_stored_with_their_content() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    for file in [
        "whatsapp/inbound_button_reply.json",
        "whatsapp/inbound_image.json",
    ] {
        assert_eq!(
            app.post_whatsapp(fixture(file)).await.status(),
            200,
            "{file}"
        );
    }
    eventually("both messages", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == 2
    })
    .await;
    let (kind, body, reply_to): (String, String, String) = sqlx::query_as(
        "SELECT message_type, body, reply_to_provider_id FROM messages \
         WHERE provider_message_id = 'wamid.FAKE_INBOUND_BUTTON_0001'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (kind.as_str(), body.as_str(), reply_to.as_str()),
        (
            "interactive",
            "Yes, confirm",
            "wamid.FAKE_OUTBOUND_BUTTONS_0001"
        )
    );
    let (kind, caption, media): (String, String, Value) = sqlx::query_as(
        "SELECT message_type, body, media FROM messages \
         WHERE provider_message_id = 'wamid.FAKE_INBOUND_IMAGE_0001'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        (kind.as_str(), caption.as_str()),
        ("image", "Photo of the receipt")
    );
    assert_eq!(media["id"], "300000000000003");
    assert_eq!(media["mime_type"], "image/jpeg");
    // Both came from the same contact: one contact, one conversation, one welcome.
    assert_eq!(app.count("SELECT count(*) FROM contacts").await, 1);
    eventually("one welcome", || async { app.graph.sent().len() == 1 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_fixtures_update_the_outbound_message() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    for file in [
        "whatsapp/status_delivered.json",
        "whatsapp/status_failed.json",
    ] {
        assert_eq!(
            app.post_whatsapp(fixture(file)).await.status(),
            200,
            "{file}"
        );
    }
    eventually("both receipts applied", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'")
            .await
            == 2
    })
    .await;
    let (status, delivered): (String, bool) = sqlx::query_as(
        "SELECT status, delivered_at IS NOT NULL FROM messages \
         WHERE provider_message_id = 'wamid.FAKE_OUTBOUND_TEXT_0001'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), delivered), ("delivered", true));
    let (status, code): (String, i64) = sqlx::query_as(
        "SELECT status, (error -> 0 ->> 'code')::bigint FROM messages \
         WHERE provider_message_id = 'wamid.FAKE_OUTBOUND_TEXT_0002'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), code), ("failed", 131047));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_never_move_backwards() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    // `read` arrives first (Meta may skip `delivered`), then a late `delivered` and `sent`.
    for (status, ts) in [
        ("read", "1767225800"),
        ("delivered", "1767225790"),
        ("sent", "1767225780"),
    ] {
        let event = status_event("wamid.OUT_ORDER", status, ts);
        assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
        eventually("the receipt applied", || async {
            let key = format!("wa:status:wamid.OUT_ORDER:{status}");
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM processed_events WHERE dedup_key = $1",
            )
            .bind(key)
            .fetch_one(&app.owner_pool)
            .await
            .unwrap()
                == 1
        })
        .await;
    }
    let (status, sent, delivered, read): (String, bool, bool, bool) = sqlx::query_as(
        "SELECT status, sent_at IS NOT NULL, delivered_at IS NOT NULL, read_at IS NOT NULL \
         FROM messages WHERE provider_message_id = 'wamid.OUT_ORDER'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    // The state stays at `read`; the late receipts still record when they happened.
    assert_eq!(
        (status.as_str(), sent, delivered, read),
        ("read", true, true, true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batch_with_two_tenants_numbers_becomes_two_tenants_rows() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha", Some("Welcome to alpha")).await;
    app.put_whatsapp(a, "100000000000011", "200000000000011", None)
        .await;
    let b = app.create_tenant("beta", Some("Welcome to beta")).await;
    app.put_whatsapp(b, "100000000000022", "200000000000022", None)
        .await;

    let first = inbound_text(
        "100000000000011",
        "200000000000011",
        "15550000001",
        "wamid.TA",
        "to alpha",
    );
    let second = inbound_text(
        "100000000000022",
        "200000000000022",
        "15550000002",
        "wamid.TB",
        "to beta",
    );
    let mut batch = first.clone();
    batch["entry"]
        .as_array_mut()
        .unwrap()
        .push(second["entry"][0].clone());
    // A second message in alpha's change as well.
    batch["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({ "from": "15550000001", "id": "wamid.TA2", "timestamp": "1767225601",
                      "type": "text", "text": { "body": "again" } }),
        );
    assert_eq!(app.post_whatsapp(bytes(&batch)).await.status(), 200);

    eventually("both welcomes", || async { app.graph.sent().len() == 2 }).await;
    eventually("three messages", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == 3
    })
    .await;
    let rows: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT tenant_id, provider_message_id FROM messages WHERE direction = 'inbound' \
         ORDER BY provider_message_id",
    )
    .fetch_all(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (a.as_uuid(), "wamid.TA".to_owned()),
            (a.as_uuid(), "wamid.TA2".to_owned()),
            (b.as_uuid(), "wamid.TB".to_owned()),
        ]
    );
    let mut welcomes: Vec<(String, String)> = app
        .graph
        .sent()
        .iter()
        .map(|s| {
            (
                s.phone_number_id.clone(),
                s.body["text"]["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    welcomes.sort();
    assert_eq!(
        welcomes,
        vec![
            ("100000000000011".to_owned(), "Welcome to alpha".to_owned()),
            ("100000000000022".to_owned(), "Welcome to beta".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_webhook_three_times_is_one_message_and_one_reply() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    for _ in 0..3 {
        let response = app
            .post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await;
        assert_eq!(response.status(), 200);
    }
    // A later message of the same conversation marks the end: its events are applied in
    // order, so once it is stored, the three copies were handled.
    let mut marker = fixture_json("whatsapp/inbound_text.json");
    marker["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.MARKER".into();
    marker["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = "end".into();
    assert_eq!(app.post_whatsapp(bytes(&marker)).await.status(), 200);
    eventually("the marker stored", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.MARKER'")
            .await
            == 1
    })
    .await;
    eventually("the welcome sent", || async { app.graph.sent().len() == 1 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.FAKE_INBOUND_TEXT_0001'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 1);
    assert_eq!(app.graph.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_user_without_phone_number_is_keyed_by_bsuid() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    let mut event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "unused", "wamid.U1", "hello");
    let value = &mut event["entry"][0]["changes"][0]["value"];
    value["contacts"] = json!([{ "profile": { "name": "@user" }, "user_id": "US.42" }]);
    let message = value["messages"][0].as_object_mut().unwrap();
    message.remove("from");
    message.insert("from_user_id".into(), json!("US.42"));
    assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    eventually("the welcome sent", || async { app.graph.sent().len() == 1 }).await;
    let (phone, bsuid): (Option<String>, String) =
        sqlx::query_as("SELECT phone, whatsapp_user_id FROM contacts")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!((phone, bsuid.as_str()), (None, "US.42"));
    // Without a phone number the reply is addressed by BSUID.
    let sent = &app.graph.sent()[0];
    assert_eq!(sent.body["recipient"], "US.42");
    assert!(sent.body.get("to").is_none());
}
