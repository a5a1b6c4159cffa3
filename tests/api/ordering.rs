//! Per-conversation order across workers: one conversation's burst is applied and answered in
//! arrival order while another conversation proceeds beside it, with two workers sharing the
//! partitions.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard::app::Role;
use switchyard::sandbox::graph::Failure;
use switchyard_shared::domain::{Channel, ConversationKey, TenantId};
use switchyard_shared::queue::partition::partition_of;

use crate::helpers::*;

/// Bodies of `contact`'s inbound messages, in the order they were stored.
pub async fn stored_bodies(app: &TestApp, contact: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT m.body FROM messages m JOIN contacts c ON c.id = m.contact_id \
         WHERE c.whatsapp_id = $1 AND m.direction = 'inbound' ORDER BY m.created_at, m.id",
    )
    .bind(contact)
    .fetch_all(&app.owner_pool)
    .await
    .unwrap()
}

/// A WhatsApp id for the second customer whose partition another worker consumes than
/// `first`'s (two workers share the partitions by parity).
fn on_the_other_worker(tenant: TenantId, first: &str, partitions: u16) -> String {
    let partition = |contact: &str| {
        partition_of(
            ConversationKey::new(tenant, Channel::Whatsapp, contact).as_str(),
            partitions,
        )
    };
    (0..1000)
        .map(|i| format!("1555020{i:04}"))
        .find(|candidate| partition(candidate) % 2 != partition(first) % 2)
        .expect("a contact in a partition of the other parity")
}

/// Bodies of the customer messages the flow's answers answer, in the order the answers were
/// queued.
async fn answered_bodies(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT m.body FROM outbox o \
         JOIN processed_events p ON p.event_id = o.source_event_id \
         JOIN messages m ON p.dedup_key = 'wa:msg:' || m.provider_message_id \
         WHERE o.idempotency_key LIKE 'flow:%' ORDER BY o.created_at, o.id",
    )
    .fetch_all(&app.owner_pool)
    .await
    .unwrap()
}

/// A keyword flow answering every message that says "alice".
async fn answer_alice(app: &TestApp, tenant: TenantId) {
    let admin = |request: reqwest::RequestBuilder| {
        request
            .bearer_auth(ADMIN_TOKEN)
            .header("x-tenant-id", tenant.to_string())
    };
    let module: Value = admin(app.client.post(app.url("/api/v1/tenant-modules")))
        .json(&json!({ "module_key": "faq" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = admin(app.client.post(app.url("/api/v1/flows")))
        .json(&json!({
            "tenant_module_id": module["id"], "name": "Alice",
            "trigger": {"kind": "keywords", "keywords": ["alice"]},
            "steps": [{"id": "ack", "kind": "text", "body": "Noted.", "next": "done"},
                      {"id": "done", "kind": "end"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
}

async fn post_text(app: &TestApp, from: &str, wamid: &str, text: &str) {
    let body = bytes(&inbound_text(PHONE_NUMBER_ID, WABA_ID, from, wamid, text));
    assert_eq!(app.post_whatsapp(body).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_is_applied_in_order_while_another_conversation_proceeds_across_two_workers() {
    let env = TestEnv::new().await;
    let ingress = env.start(Role::Ingress).await;
    let first_worker = env.start(Role::Worker).await;
    let second_worker = env.start(Role::Worker).await;
    let mut app = env.into_app(ingress);
    let tenant = app.fixture_tenant().await;
    answer_alice(&app, tenant).await;
    // The workers hear each other's heartbeats and split the partitions.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let alice = "15550100001";
    let bob = on_the_other_worker(tenant, alice, app.settings.queue.partitions);
    // Alice's first message is answered slowly (the answer's send takes 4.5 s), so her
    // conversation waits behind it; Bob's must not.
    app.graph.fail_next(Failure {
        count: 1,
        status: 200,
        code: 0,
        delay_ms: 4500,
    });
    post_text(&app, alice, "wamid.alice-01", "alice 01").await;
    eventually("Alice's first message stored", || async {
        stored_bodies(&app, alice).await.len() == 1
    })
    .await;
    for i in 2..=50 {
        post_text(
            &app,
            alice,
            &format!("wamid.alice-{i:02}"),
            &format!("alice {i:02}"),
        )
        .await;
        let b = i - 1;
        post_text(
            &app,
            &bob,
            &format!("wamid.bob-{b:02}"),
            &format!("bob {b:02}"),
        )
        .await;
    }
    post_text(&app, &bob, "wamid.bob-50", "bob 50").await;

    eventually("Bob's burst stored", || async {
        stored_bodies(&app, &bob).await.len() == 50
    })
    .await;
    // Bob did not wait for Alice: her burst, stalled behind her first message, is not through.
    assert!(
        stored_bodies(&app, alice).await.len() < 50,
        "Bob's conversation went ahead while Alice's waited"
    );
    eventually("Alice's burst stored", || async {
        stored_bodies(&app, alice).await.len() == 50
    })
    .await;

    let expected =
        |who: &str| -> Vec<String> { (1..=50).map(|i| format!("{who} {i:02}")).collect() };
    assert_eq!(stored_bodies(&app, alice).await, expected("alice"));
    assert_eq!(stored_bodies(&app, &bob).await, expected("bob"));
    // Every one of Alice's messages answered, in her order; Bob got the welcome.
    assert_eq!(answered_bodies(&app).await, expected("alice"));
    eventually("every answer sent", || async {
        app.graph.sent().len() == 51
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM processed_events").await,
        100
    );

    first_worker.stop().await;
    second_worker.stop().await;
    app.stop().await;
}
