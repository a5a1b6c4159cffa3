//! Broker and database outages never lose an accepted event: while the broker is unreachable
//! the ingress spools what it accepts in PostgreSQL and answers 200 only after that commit; its
//! relay publishes the spool in order once the broker is back. With the database down too, the
//! answer is 503 and nothing is stored. The outages are caused by proxies in front of the shared
//! broker and database, cut for the ingress alone; the worker stays connected, so anything that
//! reached the queue would be applied at once.

use std::collections::HashSet;

use serde_json::{Value, json};
use switchyard::app::Role;
use switchyard_shared::db::{PlatformTx, publish_spool};
use switchyard_shared::domain::{Channel, ConversationKey, DedupKey, TenantId};
use switchyard_shared::envelope::{Envelope, EventKind, new_traceparent};
use switchyard_shared::secrets::SecretString;

use crate::helpers::*;
use crate::ordering::stored_bodies;
use crate::proxy::Proxy;
use crate::published::take_published;

const CUSTOMER: &str = "15550001111";

/// An ingress whose broker and database connections go through proxies, and a worker
/// connected directly.
struct Outage {
    app: TestApp,
    broker: Proxy,
    database: Proxy,
    _worker: RunningApp,
}

async fn ingress_behind_proxies() -> Outage {
    spawn_outage(|_| {}).await
}

/// [`ingress_behind_proxies`], with `before_start` applied to the proxies before the ingress
/// starts.
async fn spawn_outage(before_start: impl FnOnce(&Proxy)) -> Outage {
    let env = TestEnv::new().await;
    let (broker, queue) = Proxy::in_front_of_broker(&env.settings.queue);
    let (database, database_url) = Proxy::in_front_of(env.settings.database.url.expose());
    let worker = env.start(Role::Worker).await;
    before_start(&broker);
    let ingress = env
        .start_with(Role::Ingress, |s| {
            s.queue = queue;
            s.database.url = SecretString::new(database_url);
        })
        .await;
    let address = ingress.address.clone().expect("ingress address");
    Outage {
        app: TestApp {
            env,
            address,
            _running: Some(ingress),
        },
        broker,
        database,
        _worker: worker,
    }
}

fn text(wamid: &str, body: &str) -> Vec<u8> {
    bytes(&inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        CUSTOMER,
        wamid,
        body,
    ))
}

async fn spooled(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM publish_spool").await
}

/// How many times the message `wamid` was stored, and its event claimed.
async fn applied(app: &TestApp, wamid: &str) -> (i64, i64) {
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE provider_message_id = $1")
            .bind(wamid)
            .fetch_one(&app.owner_pool)
            .await
            .expect("messages");
    let claimed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM processed_events WHERE dedup_key = $1")
            .bind(format!("wa:msg:{wamid}"))
            .fetch_one(&app.owner_pool)
            .await
            .expect("processed_events");
    (stored, claimed)
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let status = response.status().as_u16();
    (status, response.json().await.expect("readyz JSON"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_during_a_broker_outage_is_spooled_then_relayed_and_applied_once() {
    let outage = ingress_behind_proxies().await;
    let app = &outage.app;
    app.fixture_tenant().await;

    outage.broker.cut();
    let response = app.post_whatsapp(text("wamid.SPOOLED", "during")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(spooled(app).await, 1, "accepted means stored in the spool");
    assert_eq!(
        readiness(app).await,
        (
            200,
            json!({"status": "degraded", "database": "ok", "broker": "unavailable", "spooled": 1})
        )
    );
    assert_eq!(applied(app, "wamid.SPOOLED").await, (0, 0));

    outage.broker.restore();
    eventually(
        "the relay to publish and the worker to apply the event",
        || async { applied(app, "wamid.SPOOLED").await == (1, 1) },
    )
    .await;
    eventually("the spool to empty and /readyz to say ok", || async {
        readiness(app).await
            == (
                200,
                json!({"status": "ok", "database": "ok", "broker": "ok", "spooled": 0}),
            )
    })
    .await;
    assert_eq!(applied(app, "wamid.SPOOLED").await, (1, 1), "applied once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingress_starts_while_the_broker_is_down_and_spools_until_it_returns() {
    let outage = spawn_outage(Proxy::cut).await;
    let app = &outage.app;
    app.fixture_tenant().await;
    let (status, ready) = readiness(app).await;
    assert_eq!((status, &ready["status"]), (200, &json!("degraded")));

    let response = app.post_whatsapp(text("wamid.EARLY", "early")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(spooled(app).await, 1);

    outage.broker.restore();
    eventually("the event spooled since start-up to be applied", || async {
        applied(app, "wamid.EARLY").await == (1, 1)
    })
    .await;
    eventually("the spool to empty", || async { spooled(app).await == 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_keeps_its_order_across_a_broker_outage() {
    let outage = ingress_behind_proxies().await;
    let app = &outage.app;
    app.fixture_tenant().await;

    outage.broker.cut();
    for (wamid, body) in [("wamid.ORDER1", "first"), ("wamid.ORDER2", "second")] {
        assert_eq!(app.post_whatsapp(text(wamid, body)).await.status(), 200);
    }
    assert_eq!(spooled(app).await, 2);
    outage.broker.restore();
    // The broker answers again, but earlier events still wait in the spool: this one must not
    // overtake them.
    assert_eq!(
        app.post_whatsapp(text("wamid.ORDER3", "third"))
            .await
            .status(),
        200
    );

    eventually("all three messages", || async {
        stored_bodies(app, CUSTOMER).await.len() == 3
    })
    .await;
    assert_eq!(
        stored_bodies(app, CUSTOMER).await,
        ["first", "second", "third"]
    );
    eventually("the spool to empty", || async { spooled(app).await == 0 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_broker_and_the_database_down_nothing_is_acknowledged_and_the_retry_is() {
    let outage = ingress_behind_proxies().await;
    let app = &outage.app;
    app.fixture_tenant().await;
    // The tenant's route is cached, so the request gets as far as publishing.
    assert_eq!(
        app.post_whatsapp(text("wamid.WARM", "warm")).await.status(),
        200
    );
    eventually("the first message", || async {
        applied(app, "wamid.WARM").await == (1, 1)
    })
    .await;

    outage.broker.cut();
    outage.database.cut();
    let body = text("wamid.BOTHDOWN", "nowhere to go");
    assert_eq!(app.post_whatsapp(body.clone()).await.status(), 503);
    assert_eq!(
        readiness(app).await,
        (
            503,
            json!({"status": "unavailable", "database": "unavailable", "broker": "unavailable", "spooled": null})
        )
    );
    assert_eq!(spooled(app).await, 0, "nothing was stored");
    assert_eq!(applied(app, "wamid.BOTHDOWN").await, (0, 0));

    outage.database.restore();
    outage.broker.restore();
    // The provider retries until it gets a 200, as Meta does.
    eventually("the retry to be accepted", || async {
        app.post_whatsapp(body.clone()).await.status() == 200
    })
    .await;
    eventually("the retried message to be applied", || async {
        applied(app, "wamid.BOTHDOWN").await == (1, 1)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_route_cache_keeps_webhooks_flowing_while_the_database_is_down() {
    let outage = ingress_behind_proxies().await;
    let app = &outage.app;
    app.fixture_tenant().await;
    assert_eq!(
        app.post_whatsapp(text("wamid.CACHED", "one"))
            .await
            .status(),
        200
    );
    eventually("the first message", || async {
        applied(app, "wamid.CACHED").await == (1, 1)
    })
    .await;

    outage.database.cut();
    let (status, ready) = readiness(app).await;
    assert_eq!(status, 503);
    assert_eq!(ready["database"], "unavailable");
    assert_eq!(ready["broker"], "ok");
    // Routed from the cache and published: the worker, whose database is up, applies them.
    // The second comes well after every connection of the ingress noticed the outage.
    for (wamid, body) in [("wamid.NODB1", "two"), ("wamid.NODB2", "three")] {
        let response = app.post_whatsapp(text(wamid, body)).await;
        assert_eq!(response.status(), 200, "{wamid}");
        eventually("the message routed without the database", || async {
            applied(app, wamid).await == (1, 1)
        })
        .await;
    }
    assert_eq!(spooled(app).await, 0, "published, not spooled");
    outage.database.restore();
}

/// POST a WhatsApp webhook signed with the platform's secret to the ingress at `address`.
async fn post_to(app: &TestApp, address: &str, body: Vec<u8>) -> reqwest::StatusCode {
    let signature = switchyard_ingress::verify::meta::sign(APP_SECRET.as_bytes(), &body);
    app.client
        .post(format!("{address}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", signature)
        .body(body)
        .send()
        .await
        .expect("request")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingress_replicas_relay_each_spooled_event_once() {
    // Two ingresses sharing one database and one broker proxy, and no worker: what the relays
    // publish stays in the queues to be counted.
    let env = TestEnv::new().await;
    let (broker, queue) = Proxy::in_front_of_broker(&env.settings.queue);
    let through_proxy = |s: &mut switchyard::settings::Settings| {
        s.queue = queue.clone();
    };
    let first = env.start_with(Role::Ingress, through_proxy).await;
    let second = env.start_with(Role::Ingress, through_proxy).await;
    let second_address = second.address.clone().expect("second ingress");
    let app = TestApp {
        address: first.address.clone().expect("first ingress"),
        env,
        _running: Some(first),
    };
    app.fixture_tenant().await;

    broker.cut();
    let mut sent = HashSet::new();
    for i in 0..10 {
        let wamid = format!("wamid.REPLICA{i}");
        let body = bytes(&inbound_text(
            PHONE_NUMBER_ID,
            WABA_ID,
            &format!("1555000{i:04}"),
            &wamid,
            "hello",
        ));
        let address = if i % 2 == 0 {
            &app.address
        } else {
            &second_address
        };
        assert_eq!(post_to(&app, address, body).await, 200);
        sent.insert(format!("wa:msg:{wamid}"));
    }
    assert_eq!(spooled(&app).await, 10);

    broker.restore();
    eventually("the relays to drain the spool", || async {
        spooled(&app).await == 0
    })
    .await;
    let published = take_published(&app, "whatsapp").await;
    let keys: Vec<&str> = published
        .iter()
        .map(|envelope| envelope["dedup_key"].as_str().expect("dedup key"))
        .collect();
    assert_eq!(
        keys.len(),
        10,
        "each spooled event published once: {keys:?}"
    );
    assert_eq!(
        keys.iter().map(|k| k.to_string()).collect::<HashSet<_>>(),
        sent
    );
    second.stop().await;
}

fn envelope(tenant: TenantId, n: usize) -> Envelope {
    Envelope::new(
        tenant,
        Channel::Whatsapp,
        EventKind::MessageReceived,
        DedupKey::parse(&format!("wa:msg:wamid.SPOOL{n}")).expect("dedup key"),
        ConversationKey::new(tenant, Channel::Whatsapp, CUSTOMER),
        new_traceparent(),
        json!({ "n": n }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spool_keeps_order_is_platform_only_and_one_relay_drains_at_a_time() {
    // No application runs: no relay of its own takes the lock meanwhile.
    let env = TestEnv::new().await;
    let tenant = TenantId::new();
    let envelopes: Vec<Envelope> = (0..3).map(|n| envelope(tenant, n)).collect();
    publish_spool::insert(&env.pool, &envelopes[..2])
        .await
        .expect("spool a request of two");
    publish_spool::insert(&env.pool, &envelopes[2..])
        .await
        .expect("spool a request of one");
    assert_eq!(publish_spool::count(&env.pool).await.expect("count"), 3);
    let outside_platform_scope: i64 = sqlx::query_scalar("SELECT count(*) FROM publish_spool")
        .fetch_one(&env.pool)
        .await
        .expect("plain read");
    assert_eq!(
        outside_platform_scope, 0,
        "row-level security hides the spool"
    );

    let mut first = PlatformTx::begin(&env.pool).await.expect("begin");
    assert!(
        publish_spool::try_lock_relay(&mut first)
            .await
            .expect("lock")
    );
    let mut second = PlatformTx::begin(&env.pool).await.expect("begin");
    assert!(
        !publish_spool::try_lock_relay(&mut second)
            .await
            .expect("lock"),
        "a second relay must not drain while the first does"
    );
    second.rollback().await.expect("rollback");

    let batch = publish_spool::oldest(&mut first, 10).await.expect("oldest");
    let ids: Vec<_> = batch.iter().map(|s| s.envelope.id).collect();
    assert_eq!(ids, envelopes.iter().map(|e| e.id).collect::<Vec<_>>());
    assert_eq!(batch[0].envelope, envelopes[0], "stored as accepted");
    let seqs: Vec<i64> = batch.iter().take(2).map(|s| s.seq).collect();
    assert_eq!(
        publish_spool::delete(&mut first, &seqs)
            .await
            .expect("delete"),
        2
    );
    first.commit().await.expect("commit");

    let mut third = PlatformTx::begin(&env.pool).await.expect("begin");
    assert!(
        publish_spool::try_lock_relay(&mut third)
            .await
            .expect("lock"),
        "the lock is free once the first relay committed"
    );
    let rest = publish_spool::oldest(&mut third, 10).await.expect("oldest");
    assert_eq!(
        rest.iter().map(|s| s.envelope.id).collect::<Vec<_>>(),
        [envelopes[2].id]
    );
    third.rollback().await.expect("rollback");
}
