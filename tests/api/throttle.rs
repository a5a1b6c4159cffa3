//! Outbound throttling: a number's throughput limit, WhatsApp's 24-hour window, and the relay
//! taking tenants in turn.

use serde_json::json;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::outbox::{self, NewOutbound};
use switchyard_shared::db::tenants::NewTenant;
use switchyard_shared::domain::{Channel, TenantId, TenantSlug};
use switchyard_shared::tenancy;
use uuid::Uuid;

use crate::helpers::*;

/// The fixture customer's conversation and contact, once its first message is in.
async fn fixture_conversation(app: &TestApp) -> (Uuid, Uuid) {
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the welcome sent", || async {
        app.count("SELECT count(*) FROM outbox WHERE status = 'sent'")
            .await
            == 1
    })
    .await;
    sqlx::query_as("SELECT id, contact_id FROM conversations")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap()
}

/// Queue `n` WhatsApp texts to the fixture customer, as a handler would.
async fn queue_texts(
    app: &TestApp,
    tenant: TenantId,
    (conversation, contact): (Uuid, Uuid),
    n: usize,
) {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    for i in 0..n {
        outbox::enqueue(
            &mut tx,
            &NewOutbound {
                channel: Channel::Whatsapp,
                conversation_id: Some(conversation),
                contact_id: Some(contact),
                idempotency_key: &format!("test:{i}"),
                request: json!({
                    "phone_number_id": PHONE_NUMBER_ID,
                    "to": "16505551234",
                    "text": format!("update {i}"),
                }),
                source_event_id: None,
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_numbers_throughput_limit_spreads_its_sends() {
    let app = spawn_app().await;
    let tenant = app.fixture_tenant().await;
    let put = app
        .admin_put(
            &format!("/api/v1/tenants/{tenant}/channels/whatsapp"),
            &json!({
                "phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID,
                "access_token": format!("token-of-{tenant}"), "messages_per_second": 2,
            }),
        )
        .await;
    assert_eq!(put.status(), 200);
    let shown: serde_json::Value = put.json().await.unwrap();
    assert_eq!(shown["messages_per_second"], 2);

    let conversation = fixture_conversation(&app).await;
    queue_texts(&app, tenant, conversation, 6).await;
    eventually("every text sent", || async {
        app.count("SELECT count(*) FROM outbox WHERE status = 'sent'")
            .await
            == 7
    })
    .await;
    // Two a second, in bursts of two: the six go out over two seconds at least.
    let spread: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max(sent_at) - min(sent_at))::float8 FROM outbox \
         WHERE idempotency_key LIKE 'test:%'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert!(spread >= 1.5, "sent within {spread} s");
    assert_eq!(app.graph.sent().len(), 7);
    // Held back is not failed: no send spent more than one attempt.
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE attempts > 1")
            .await,
        0
    );

    let too_fast = app
        .admin_put(
            &format!("/api/v1/tenants/{tenant}/channels/whatsapp"),
            &json!({
                "phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID,
                "access_token": format!("token-of-{tenant}"), "messages_per_second": 5000,
            }),
        )
        .await;
    assert_eq!(too_fast.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_outside_the_24_hour_window_is_not_sent_and_says_why() {
    let app = spawn_app().await;
    let tenant = app.fixture_tenant().await;
    let conversation = fixture_conversation(&app).await;
    sqlx::query("UPDATE messages SET created_at = now() - interval '25 hours'")
        .execute(&app.owner_pool)
        .await
        .unwrap();
    queue_texts(&app, tenant, conversation, 1).await;
    eventually("the late reply refused", || async {
        app.count("SELECT count(*) FROM outbox WHERE status = 'failed'")
            .await
            == 1
    })
    .await;
    let reason: String =
        sqlx::query_scalar("SELECT last_error FROM outbox WHERE status = 'failed'")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert!(
        reason.contains("24-hour customer-service window"),
        "{reason}"
    );
    assert_eq!(app.graph.sent().len(), 1, "only the welcome went out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_takes_tenants_in_turn() {
    // No app running: the rows stay due while the relay's choice is read.
    let env = TestEnv::new().await;
    let mut tenants = Vec::new();
    for slug in ["busy", "quiet"] {
        let tenant = tenancy::create_tenant(
            &env.pool,
            &NewTenant {
                slug: TenantSlug::parse(slug).unwrap(),
                name: slug.into(),
                welcome_text: None,
                external_org_id: None,
            },
        )
        .await
        .unwrap()
        .id;
        tenants.push(tenant);
    }
    let queue = |tenant: TenantId, n: usize| {
        let pool = env.pool.clone();
        async move {
            let mut tx = TenantTx::begin(&pool, tenant).await.unwrap();
            for i in 0..n {
                outbox::enqueue(
                    &mut tx,
                    &NewOutbound {
                        channel: Channel::Sms,
                        conversation_id: None,
                        contact_id: None,
                        idempotency_key: &format!("burst:{i}"),
                        request: json!({ "to": "+15550001111", "text": "hi" }),
                        source_event_id: None,
                    },
                )
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
    };
    queue(tenants[0], 50).await;
    queue(tenants[1], 1).await;
    let due = outbox::due(&env.pool, 5).await.unwrap();
    assert_eq!(due.len(), 5);
    assert!(
        due.iter().any(|(tenant, _)| *tenant == tenants[1]),
        "the quiet tenant's send is in the first batch: {due:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversations_sends_leave_in_the_order_they_were_queued() {
    let env = TestEnv::new().await;
    let tenant = tenancy::create_tenant(
        &env.pool,
        &NewTenant {
            slug: TenantSlug::parse("in-order").unwrap(),
            name: "In order".into(),
            welcome_text: None,
            external_org_id: None,
        },
    )
    .await
    .unwrap()
    .id;
    let mut tx = TenantTx::begin(&env.pool, tenant).await.unwrap();
    let phone = switchyard_shared::domain::E164Number::parse("+15550001111").unwrap();
    let (contact, _) = switchyard_shared::db::contacts::upsert_phone(&mut tx, &phone)
        .await
        .unwrap();
    let conversation =
        switchyard_shared::db::conversations::upsert(&mut tx, contact, Channel::Sms, None)
            .await
            .unwrap();
    let mut ids = Vec::new();
    for step in ["first", "second"] {
        let id = outbox::enqueue(
            &mut tx,
            &NewOutbound {
                channel: Channel::Sms,
                conversation_id: Some(conversation),
                contact_id: Some(contact),
                idempotency_key: step,
                request: json!({ "to": "+15550001111", "text": step }),
                source_event_id: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
        ids.push(id);
    }
    let lease = std::time::Duration::from_secs(60);
    // The second waits while the first has not left, whoever tries to send it.
    assert!(
        outbox::claim(&mut tx, ids[1], lease)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        outbox::claim(&mut tx, ids[0], lease)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        outbox::claim(&mut tx, ids[1], lease)
            .await
            .unwrap()
            .is_none()
    );
    outbox::mark_sent(&mut tx, ids[0], "m-1").await.unwrap();
    assert!(
        outbox::claim(&mut tx, ids[1], lease)
            .await
            .unwrap()
            .is_some()
    );
    tx.commit().await.unwrap();
}
