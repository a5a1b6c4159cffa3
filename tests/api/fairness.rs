//! Tenant fairness: events over a tenant's fair share are parked instead of processed, a
//! conversation's later events queue behind its parked ones, and the drain applies parked
//! events in each conversation's order, once.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchyard::app::Role;
use switchyard_shared::db::{TenantTx, parked_events};
use switchyard_shared::domain::TenantId;
use switchyard_shared::envelope::Envelope;
use switchyard_shared::secrets::SecretBox;
use switchyard_workers::consumer::{EventProcessor, Processed};
use switchyard_workers::engine::conversation::Batching;
use switchyard_workers::fairness::FairShare;
use switchyard_workers::outbox::OutboxDispatcher;

use crate::helpers::*;

/// An inbound SMS to `tenant` from `from`, with its own event id.
fn sms(tenant: TenantId, from: &str, event_id: &str, text: &str) -> Envelope {
    let mut webhook = telnyx_fixture("message_received", event_id);
    webhook["data"]["payload"]["from"]["phone_number"] = json!(from);
    webhook["data"]["payload"]["id"] = json!(format!("msg-{event_id}"));
    webhook["data"]["payload"]["text"] = json!(text);
    telnyx_envelope(tenant, &webhook)
}

/// A processor whose tenants may each process `per_second` events straight away.
fn processor(app: &TestApp, per_second: f64, burst: u32) -> EventProcessor {
    let secrets =
        Arc::new(SecretBox::from_config(app.settings.secrets.encryption_keys.expose()).unwrap());
    let outbox = OutboxDispatcher::new(
        app.pool.clone(),
        secrets,
        Arc::new(app.settings.worker.clone()),
        None,
    )
    .unwrap();
    EventProcessor::new(
        app.pool.clone(),
        outbox,
        None,
        Batching {
            window: Duration::from_millis(100),
            max_wait: Duration::from_millis(200),
        },
        Some(FairShare::new(app.pool.clone(), per_second, burst)),
    )
}

/// The texts stored from `phone`, in the order they were inserted: the ids are UUIDv7s made at
/// the insert, whereas `created_at` is the start of the transaction, which can come before an
/// earlier event's commit when transactions overlap under load.
async fn texts_from(app: &TestApp, phone: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id \
         JOIN contacts k ON k.id = c.contact_id \
         WHERE m.direction = 'inbound' AND k.phone = $1 ORDER BY m.id",
    )
    .bind(phone)
    .fetch_all(&app.owner_pool)
    .await
    .unwrap()
}

/// The ingress only: nothing consumes the queue, the test drives the processor itself.
async fn ingress_only() -> TestApp {
    let env = TestEnv::new().await;
    let ingress = env.start(Role::Ingress).await;
    env.into_app(ingress)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_over_a_tenants_share_are_parked_and_other_tenants_go_straight_through() {
    let app = ingress_only().await;
    let flooder = app.create_tenant("flooder", Some("Welcome!")).await;
    let neighbour = app.create_tenant("neighbour", Some("Welcome!")).await;
    // One event per 1000 s each, after a burst of one.
    let strict = processor(&app, 0.001, 1);

    let first = sms(flooder, "+15550000001", "f-1", "one");
    let second = sms(flooder, "+15550000002", "f-2", "two");
    assert_eq!(strict.process(&first).await.unwrap(), Processed::Applied);
    assert_eq!(strict.process(&second).await.unwrap(), Processed::Parked);
    // The neighbour's share is its own.
    let theirs = sms(neighbour, "+15550000003", "n-1", "hello");
    assert_eq!(strict.process(&theirs).await.unwrap(), Processed::Applied);
    // A redelivered copy of the parked event is parked once.
    assert_eq!(strict.process(&second).await.unwrap(), Processed::Parked);
    assert_eq!(app.count("SELECT count(*) FROM parked_events").await, 1);

    // The drain applies it regardless of the share, and removes it.
    let drained = strict.process_parked(flooder).await.unwrap().unwrap();
    assert_eq!(drained.envelope.id, second.id);
    assert!(matches!(drained.result, Ok(Processed::Applied)));
    assert!(strict.process_parked(flooder).await.unwrap().is_none());
    assert_eq!(app.count("SELECT count(*) FROM parked_events").await, 0);
    assert_eq!(texts_from(&app, "+15550000002").await, vec!["two"]);
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversations_later_events_wait_behind_its_parked_ones_and_drain_in_order() {
    let app = ingress_only().await;
    let tenant = app.create_tenant("busy", Some("Welcome!")).await;
    let generous = processor(&app, 1_000_000.0, 1_000_000);
    let alice = |n: u32| sms(tenant, "+15550000010", &format!("a-{n}"), &format!("a{n}"));

    assert_eq!(
        generous.process(&alice(1)).await.unwrap(),
        Processed::Applied
    );
    // The second was parked (as if over the share a moment ago)…
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    parked_events::park(&mut tx, &alice(2)).await.unwrap();
    tx.commit().await.unwrap();
    // …so the third waits behind it although the share has room; another conversation does not.
    assert_eq!(
        generous.process(&alice(3)).await.unwrap(),
        Processed::Parked
    );
    let bob = sms(tenant, "+15550000020", "b-1", "b1");
    assert_eq!(generous.process(&bob).await.unwrap(), Processed::Applied);

    // While one drain holds the conversation's oldest parked event, another finds nothing of
    // that conversation ready: its later event still has the held one ahead of it.
    let mut holding = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let (_, held) = parked_events::claim_next(&mut holding)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.dedup_key, alice(2).dedup_key);
    assert!(
        generous.process_parked(tenant).await.unwrap().is_none(),
        "one event of the conversation at a time"
    );
    holding.rollback().await.unwrap();
    while generous.process_parked(tenant).await.unwrap().is_some() {}
    assert_eq!(
        texts_from(&app, "+15550000010").await,
        vec!["a1", "a2", "a3"]
    );
    assert_eq!(app.count("SELECT count(*) FROM parked_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_tenant_is_applied_in_order_and_once_beside_another_tenants_events() {
    let app = spawn_app_with(|s| {
        s.worker.tenant_events_per_second = 2;
        s.worker.tenant_events_burst = 2;
    })
    .await;
    let flooder = app.create_tenant("flooder", Some("Welcome!")).await;
    let neighbour = app.create_tenant("neighbour", Some("Welcome!")).await;
    let customers = ["+15550000101", "+15550000102", "+15550000103"];
    let mut flood = Vec::new();
    for n in 0..10 {
        for (c, customer) in customers.iter().enumerate() {
            flood.push(sms(
                flooder,
                customer,
                &format!("f-{c}-{n}"),
                &format!("m{n:02}"),
            ));
        }
    }
    app.publish(&flood).await;
    app.publish(&[sms(neighbour, "+15550000200", "n-1", "hello")])
        .await;

    eventually("every event applied", || async {
        app.count("SELECT count(*) FROM processed_events").await == 31
    })
    .await;
    let expected: Vec<String> = (0..10).map(|n| format!("m{n:02}")).collect();
    for customer in customers {
        assert_eq!(texts_from(&app, customer).await, expected, "{customer}");
    }
    assert_eq!(texts_from(&app, "+15550000200").await, vec!["hello"]);
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await,
        31
    );
    eventually("the parked events drained", || async {
        app.count("SELECT count(*) FROM parked_events").await == 0
    })
    .await;
}
