//! Dead letters through the admin API: every list filter and paging, who sees what, inspect,
//! discard, replay one (the worker applies it, also one the worker itself gave up on; an event
//! already applied is not applied twice), bulk replays (dry run, rate, cancellation, a dead
//! replica's job resumed), and the `switchyard dlq` CLI.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::dlq::{self, Client, DlqArgs};
use switchyard::sandbox::signing::TelnyxSigner;
use switchyard_ingress::replayer;
use switchyard_shared::db::PlatformTx;
use switchyard_shared::db::dead_letters::{self, ErrorClass, NewDeadLetter};
use switchyard_shared::domain::TenantId;
use switchyard_shared::envelope::Envelope;

use crate::helpers::*;
use crate::published::{spawn_ingress_with, take_published};

/// Record `envelope` as a dead letter, as a worker does.
pub(crate) async fn record(app: &TestApp, envelope: &Envelope, class: ErrorClass, error: &str) {
    let mut tx = PlatformTx::begin(&app.pool).await.unwrap();
    let dead = NewDeadLetter {
        envelope,
        class,
        error,
        attempts: 3,
    };
    dead_letters::record(&mut tx, &dead).await.unwrap();
    tx.commit().await.unwrap();
}

/// An inbound Telnyx SMS of `tenant` with event id `event_id`, as the ingress publishes it.
fn sms(tenant: TenantId, event_id: &str) -> Envelope {
    telnyx_envelope(tenant, &telnyx_fixture("message_received", event_id))
}

pub(crate) async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = app.call(Method::GET, path, token, None).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn post(
    app: &TestApp,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let response = app.call(Method::POST, path, token, body).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ids of a page's items, in order.
pub(crate) fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (status, page) = get(app, token, &format!("/api/v1/dead-letters{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    ids(&page)
}

fn id_of(envelope: &Envelope) -> String {
    envelope.id.to_string()
}

async fn set_last_failure(app: &TestApp, envelope: &Envelope, at: &str) {
    sqlx::query("UPDATE dead_letters SET last_failed_at = $1::timestamptz WHERE id = $2")
        .bind(at)
        .bind(envelope.id)
        .execute(&app.owner_pool)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_filter_and_page_and_a_tenant_sees_only_its_own() {
    let app = spawn_ingress_with(|_| {}).await;
    let (alpha, alpha_key) = app.provision("Alpha").await;
    let (beta, _) = app.provision("Beta").await;
    let (alpha, beta): (TenantId, TenantId) = (alpha.parse().unwrap(), beta.parse().unwrap());
    let e1 = sms(alpha, "e0000000-0000-4000-8000-000000000001");
    let e2 = telnyx_envelope(
        alpha,
        &telnyx_fixture("message_finalized", "e0000000-0000-4000-8000-000000000002"),
    );
    let e3 = telnyx_envelope(
        alpha,
        &telnyx_fixture("call_initiated", "e0000000-0000-4000-8000-000000000003"),
    );
    let e4 = whatsapp_envelope(
        alpha,
        &inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.E4", "hi"),
    );
    let e5 = sms(beta, "e0000000-0000-4000-8000-000000000005");
    use ErrorClass::*;
    for (envelope, class, error) in [
        (&e1, Permanent, "contact phone is malformed"),
        (&e2, Exhausted, "Telnyx 503: upstream TIMEOUT"),
        (&e3, DeliveryLimit, "worker stopped 20 times"),
        (&e4, Exhausted, "100% of retries: 50_000 ms timeout"),
        (&e5, Permanent, "timeout talking to the database"),
    ] {
        record(&app, envelope, class, error).await;
    }
    set_last_failure(&app, &e1, "2026-01-01T00:00:00Z").await;
    set_last_failure(&app, &e2, "2026-02-01T00:00:00Z").await;
    let all: Vec<String> = [&e1, &e2, &e3, &e4, &e5].map(id_of).into();

    // The platform sees every tenant's, oldest event first.
    assert_eq!(listed(&app, ADMIN_TOKEN, "").await, all);
    let cases: [(String, Vec<&Envelope>); 10] = [
        ("?channel=sms".into(), vec![&e1, &e2, &e5]),
        (format!("?channel=sms&tenant_id={alpha}"), vec![&e1, &e2]),
        ("?kind=call".into(), vec![&e3]),
        ("?kind=message_received".into(), vec![&e1, &e4, &e5]),
        ("?error_class=exhausted".into(), vec![&e2, &e4]),
        ("?q=timeout".into(), vec![&e2, &e4, &e5]),
        // Taken literally: not "anything" or "any character".
        ("?q=%25".into(), vec![&e4]),
        ("?q=_".into(), vec![&e4]),
        ("?failed_before=2026-01-15T00:00:00Z".into(), vec![&e1]),
        (
            "?failed_after=2026-01-15T00:00:00%2B00:00&failed_before=2026-03-01T00:00:00Z".into(),
            vec![&e2],
        ),
    ];
    for (query, expected) in cases {
        let expected: Vec<String> = expected.into_iter().map(id_of).collect();
        assert_eq!(listed(&app, ADMIN_TOKEN, &query).await, expected, "{query}");
    }

    // Pages of two, then the rest.
    let (_, first) = get(&app, ADMIN_TOKEN, "/api/v1/dead-letters?limit=2").await;
    let next = first["next"].as_str().unwrap().to_owned();
    let second = listed(&app, ADMIN_TOKEN, &format!("?limit=2&after={next}")).await;
    let (_, last) = get(
        &app,
        ADMIN_TOKEN,
        &format!("/api/v1/dead-letters?limit=2&after={}", second[1]),
    )
    .await;
    assert!(last["next"].is_null());
    let paged: Vec<String> = [ids(&first), second, ids(&last)].concat();
    assert_eq!(paged, all);

    // Status: dead unless asked otherwise.
    let path = format!("/api/v1/dead-letters/{}/discard", e3.id);
    assert_eq!(post(&app, ADMIN_TOKEN, &path, None).await.0, 200);
    assert!(!listed(&app, ADMIN_TOKEN, "").await.contains(&id_of(&e3)));
    assert_eq!(
        listed(&app, ADMIN_TOKEN, "?status=discarded").await,
        [id_of(&e3)]
    );
    assert_eq!(listed(&app, ADMIN_TOKEN, "?status=all").await, all);

    // Bad values: 422 naming each field.
    let (status, error) = get(
        &app,
        ADMIN_TOKEN,
        &format!(
            "/api/v1/dead-letters?channel=fax&kind=x&error_class=y&status=z&failed_after=yesterday\
             &tenant_id=nope&limit=0&q={}",
            "x".repeat(201)
        ),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    for field in [
        "channel",
        "kind",
        "error_class",
        "status",
        "failed_after",
        "tenant_id",
        "limit",
        "q",
    ] {
        assert!(
            error["error"]["fields"][field].is_string(),
            "{field}: {error}"
        );
    }
    let (status, error) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/dead-letters?failed_after=2026-02-01T00:00:00Z&failed_before=2026-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(status, 422);
    assert!(error["error"]["fields"]["failed_before"].is_string());

    // A tenant admin sees its own tenant's only, and not even another's by id.
    let own: Vec<String> = [&e1, &e2, &e3, &e4].map(id_of).into();
    assert_eq!(listed(&app, &alpha_key, "?status=all").await, own);
    assert_eq!(
        listed(&app, &alpha_key, &format!("?tenant_id={alpha}&channel=sms")).await,
        [id_of(&e1), id_of(&e2)]
    );
    let (status, _) = get(
        &app,
        &alpha_key,
        &format!("/api/v1/dead-letters?tenant_id={beta}"),
    )
    .await;
    assert_eq!(status, 403);
    let beta_path = format!("/api/v1/dead-letters/{}", e5.id);
    assert_eq!(get(&app, &alpha_key, &beta_path).await.0, 404);
    for action in ["replay", "discard"] {
        let path = format!("{beta_path}/{action}");
        assert_eq!(post(&app, &alpha_key, &path, None).await.0, 404, "{action}");
    }
    assert_eq!(
        listed(&app, ADMIN_TOKEN, &format!("?tenant_id={beta}")).await,
        [id_of(&e5)]
    );
    // The platform, acting for a tenant, sees that tenant's.
    let acting = app
        .client
        .get(app.url("/api/v1/dead-letters"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-tenant-id", beta.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(ids(&acting.json().await.unwrap()), [id_of(&e5)]);

    // Inspecting one shows its envelope as it failed.
    let (status, shown) = get(&app, &alpha_key, &format!("/api/v1/dead-letters/{}", e1.id)).await;
    assert_eq!(status, 200);
    assert_eq!(shown["envelope"]["dedup_key"], e1.dedup_key.as_str());
    assert_eq!(shown["error_class"], "permanent");
    assert_eq!(shown["attempts"], 3);
    assert_eq!(
        get(&app, &alpha_key, "/api/v1/dead-letters/not-an-id")
            .await
            .0,
        404
    );

    // Agents do not see dead letters at all.
    let (_, agent) = app.admin_and_agent_keys("Gamma").await;
    assert_eq!(get(&app, &agent, "/api/v1/dead-letters").await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dead_letter_is_applied_and_discards_and_repeats_are_decided() {
    let app = spawn_app().await;
    let tenant = app.fixture_tenant().await;
    let event = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.DL1",
        "hello",
    );
    let mut envelope = whatsapp_envelope(tenant, &event);
    envelope.attempt = 4;
    envelope.last_error = Some("database unavailable".into());
    record(
        &app,
        &envelope,
        ErrorClass::Exhausted,
        "database unavailable",
    )
    .await;

    let path = format!("/api/v1/dead-letters/{}", envelope.id);
    let (status, replayed) = post(&app, ADMIN_TOKEN, &format!("{path}/replay"), None).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["status"], "replayed");
    assert_eq!(replayed["replays"], 1);
    assert!(replayed["replayed_at"].is_string());
    eventually("the replayed message stored", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.DL1'")
            .await
            == 1
    })
    .await;

    // Replayed already: again only with force; it cannot be discarded (it comes back if it fails).
    let (status, error) = post(&app, ADMIN_TOKEN, &format!("{path}/replay"), None).await;
    assert_eq!(status, 409);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("force")
    );
    assert_eq!(
        post(&app, ADMIN_TOKEN, &format!("{path}/discard"), None)
            .await
            .0,
        409
    );
    let (status, again) = post(
        &app,
        ADMIN_TOKEN,
        &format!("{path}/replay?force=true"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["replays"], 2);
    assert_eq!(
        post(
            &app,
            ADMIN_TOKEN,
            &format!("{path}/replay?force=maybe"),
            None
        )
        .await
        .0,
        422
    );

    // Discard: once, then nothing changes; a discarded row replays only with force.
    let other = whatsapp_envelope(
        tenant,
        &inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.DL2", "bye"),
    );
    record(&app, &other, ErrorClass::Permanent, "unknown contact").await;
    let other_path = format!("/api/v1/dead-letters/{}", other.id);
    let (status, discarded) = post(&app, ADMIN_TOKEN, &format!("{other_path}/discard"), None).await;
    assert_eq!(status, 200);
    assert_eq!(discarded["status"], "discarded");
    assert!(discarded["discarded_at"].is_string());
    let (status, still) = post(&app, ADMIN_TOKEN, &format!("{other_path}/discard"), None).await;
    assert_eq!(
        (status, &still["discarded_at"]),
        (200, &discarded["discarded_at"])
    );
    assert_eq!(
        post(&app, ADMIN_TOKEN, &format!("{other_path}/replay"), None)
            .await
            .0,
        409
    );

    // Failing again (after a forced replay, say) makes the same row dead again, with the
    // failures added up.
    record(&app, &other, ErrorClass::Permanent, "unknown contact").await;
    let (_, row) = get(&app, ADMIN_TOKEN, &other_path).await;
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_i64()),
        (Some("dead"), Some(6))
    );

    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.replay'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.discard'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_the_worker_recorded_is_applied_when_replayed_once_the_cause_is_gone() {
    use crate::google::{app_and_google, connected_tenant, push};
    use switchyard::sandbox::google::Endpoint;
    let (app, fake) = app_and_google(3600).await;
    connected_tenant(&app, &fake, None).await;
    let history = fake.add_fixture_message(crate::google::MAILBOX);
    // Gmail fails every try of every delivery (two tries each) until the event is dead.
    let deliveries = switchyard_shared::queue::deliveries_before_dead_letter(&app.settings.queue);
    fake.fail_next(Endpoint::Gmail, deliveries as usize * 2, 503);
    assert_eq!(push(&app, history, "m-outage").await.status(), 204);
    eventually("the worker's dead letter", || async {
        listed(&app, ADMIN_TOKEN, "?error_class=exhausted&channel=email")
            .await
            .len()
            == 1
    })
    .await;
    assert_eq!(fake.pending_failures(Endpoint::Gmail), 0, "Gmail is back");
    let id = listed(&app, ADMIN_TOKEN, "?channel=email").await.remove(0);
    let (_, dead) = get(&app, ADMIN_TOKEN, &format!("/api/v1/dead-letters/{id}")).await;
    assert_eq!(dead["dedup_key"], "pubsub:m-outage");
    assert_eq!(dead["envelope"]["attempt"], deliveries - 1);

    let path = format!("/api/v1/dead-letters/{id}/replay");
    assert_eq!(post(&app, ADMIN_TOKEN, &path, None).await.0, 200);
    eventually("the email stored", || async {
        app.count("SELECT count(*) FROM messages WHERE channel = 'email' AND direction = 'inbound'")
            .await
            == 1
    })
    .await;
    let (_, replayed) = get(&app, ADMIN_TOKEN, &format!("/api/v1/dead-letters/{id}")).await;
    assert_eq!(replayed["status"], "replayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_publishes_the_stored_envelope_from_attempt_zero() {
    let app = spawn_ingress_with(|_| {}).await;
    let (tenant, _) = app.provision("Replays").await;
    let mut envelope = sms(
        tenant.parse().unwrap(),
        "e0000000-0000-4000-8000-0000000000a1",
    );
    envelope.attempt = 5;
    envelope.last_error = Some("Telnyx 503".into());
    record(&app, &envelope, ErrorClass::Exhausted, "Telnyx 503").await;
    let path = format!("/api/v1/dead-letters/{}/replay", envelope.id);
    assert_eq!(post(&app, ADMIN_TOKEN, &path, None).await.0, 200);

    let published = take_published(&app, "sms").await;
    assert_eq!(published.len(), 1);
    let replayed = &published[0];
    assert_eq!(replayed["id"], envelope.id.to_string());
    assert_eq!(replayed["dedup_key"], envelope.dedup_key.as_str());
    assert_eq!(
        replayed["conversation_key"],
        envelope.conversation_key.as_str()
    );
    assert_eq!(replayed["attempt"], 0);
    assert!(replayed.get("last_error").is_none());
    assert_eq!(replayed["payload"], envelope.payload);
}

async fn app_trusting_the_sandbox_key() -> TestApp {
    spawn_app_with(|s| {
        s.ingress.telnyx_public_key = Some(TelnyxSigner::sandbox().public_key_base64());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_an_event_that_was_applied_repeats_none_of_its_effects() {
    let app = app_trusting_the_sandbox_key().await;
    let tenant = app.telnyx_tenant().await;
    let webhook = fixture_json("telnyx/message_received.json");
    let now = chrono::Utc::now().timestamp();
    let response =
        crate::telnyx_webhook::post_signed(&app, &TelnyxSigner::sandbox(), now, &bytes(&webhook))
            .await;
    assert_eq!(response.status(), 200);
    eventually("the welcome sent", || async {
        app.telnyx.sent().len() == 1
    })
    .await;

    // It died after its effects (say the acknowledgement was lost), and an admin replays it;
    // behind it, an event of the same conversation that never ran.
    let applied = telnyx_envelope(tenant, &webhook);
    let behind = telnyx_envelope(
        tenant,
        &telnyx_fixture("message_finalized", "e0000000-0000-4000-8000-0000000000b2"),
    );
    assert_eq!(applied.conversation_key, behind.conversation_key);
    for envelope in [&applied, &behind] {
        record(&app, envelope, ErrorClass::DeliveryLimit, "worker stopped").await;
        let path = format!("/api/v1/dead-letters/{}/replay", envelope.id);
        assert_eq!(post(&app, ADMIN_TOKEN, &path, None).await.0, 200);
    }
    // One conversation is processed in order: once the second is applied, the first was seen.
    eventually("the event behind it applied", || async {
        app.telnyx_event_applied("e0000000-0000-4000-8000-0000000000b2")
            .await
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM outbox").await, 1);
    assert_eq!(app.telnyx.sent().len(), 1);
}

/// Start a bulk replay as `token`; the answer's status and body.
async fn bulk(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    post(app, token, "/api/v1/dead-letters/replays", Some(body)).await
}

async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, job) = get(app, token, &format!("/api/v1/dead-letters/replays/{id}")).await;
    assert_eq!(status, 200, "{job}");
    job
}

async fn statuses(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT id::text, status FROM dead_letters ORDER BY id")
        .fetch_all(&app.owner_pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_replay_dry_runs_then_replays_exactly_what_the_filter_matches() {
    let app = spawn_ingress_with(|_| {}).await;
    let (alpha, alpha_key) = app.provision("Alpha").await;
    let (beta, _) = app.provision("Beta").await;
    let (alpha_id, beta_id): (TenantId, TenantId) = (alpha.parse().unwrap(), beta.parse().unwrap());
    let mut alpha_sms = Vec::new();
    for n in 0..5 {
        let envelope = sms(alpha_id, &format!("e0000000-0000-4000-8000-00000000010{n}"));
        record(&app, &envelope, ErrorClass::Exhausted, "Telnyx 503").await;
        alpha_sms.push(envelope.id.to_string());
    }
    for n in 0..3 {
        let wamid = format!("wamid.BULK{n}");
        let event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", &wamid, "hi");
        record(
            &app,
            &whatsapp_envelope(alpha_id, &event),
            ErrorClass::Permanent,
            "bad",
        )
        .await;
    }
    for n in 0..4 {
        let envelope = sms(beta_id, &format!("e0000000-0000-4000-8000-00000000020{n}"));
        record(&app, &envelope, ErrorClass::Exhausted, "Telnyx 503").await;
    }
    let before = statuses(&app).await;

    // A dry run counts and shows, in the order a job would go, and changes nothing.
    let (status, dry) = bulk(
        &app,
        ADMIN_TOKEN,
        json!({ "channel": "sms", "tenant_id": alpha, "dry_run": true }),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["total"], 5);
    let sample: Vec<String> = dry["sample"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sample, alpha_sms);
    assert_eq!(
        dry["filter"],
        json!({ "tenant_id": alpha, "channel": "sms" })
    );
    let (_, everyone) = bulk(
        &app,
        ADMIN_TOKEN,
        json!({ "channel": "sms", "dry_run": true }),
    )
    .await;
    assert_eq!(everyone["total"], 9);
    assert_eq!(statuses(&app).await, before);
    assert_eq!(app.count("SELECT count(*) FROM replay_jobs").await, 0);

    // The job replays those five, and only them.
    let (status, started) = bulk(
        &app,
        ADMIN_TOKEN,
        json!({ "channel": "sms", "tenant_id": alpha, "rate_per_second": 50 }),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(
        (started["total"].as_i64(), started["tenant_id"].as_str()),
        (Some(5), Some(alpha.as_str()))
    );
    let id = started["id"].as_str().unwrap().to_owned();
    eventually("the job completed", || async {
        job(&app, ADMIN_TOKEN, &id).await["status"] == "completed"
    })
    .await;
    let done = job(&app, ADMIN_TOKEN, &id).await;
    assert_eq!(
        (done["replayed"].as_i64(), done["total"].as_i64()),
        (Some(5), Some(5))
    );
    assert!(done["finished_at"].is_string());
    let published: BTreeSet<String> = take_published(&app, "sms")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(published, alpha_sms.iter().cloned().collect());
    let replayed: BTreeSet<String> = statuses(&app)
        .await
        .into_iter()
        .filter(|(_, status)| status == "replayed")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(replayed, published);

    // A tenant admin's job is its own tenant's, whatever the filter; naming another is 403.
    let (status, _) = bulk(&app, &alpha_key, json!({ "tenant_id": beta })).await;
    assert_eq!(status, 403);
    let (status, own) = bulk(&app, &alpha_key, json!({ "rate_per_second": 100 })).await;
    assert_eq!(status, 202);
    assert_eq!(
        (own["tenant_id"].as_str(), own["total"].as_i64()),
        (Some(alpha.as_str()), Some(3))
    );
    let own_id = own["id"].as_str().unwrap().to_owned();
    eventually("the tenant's job completed", || async {
        job(&app, &alpha_key, &own_id).await["status"] == "completed"
    })
    .await;
    assert_eq!(take_published(&app, "whatsapp").await.len(), 3);
    assert_eq!(
        app.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'")
            .await,
        4,
        "beta's four are untouched"
    );

    // Nothing matching: the job is done at once. A job over every tenant is the platform's.
    let (status, empty) = bulk(&app, ADMIN_TOKEN, json!({ "kind": "call" })).await;
    assert_eq!((status, empty["status"].as_str()), (202, Some("completed")));
    assert!(empty["tenant_id"].is_null());
    let empty_id = empty["id"].as_str().unwrap().to_owned();
    let (_, mine) = get(&app, &alpha_key, "/api/v1/dead-letters/replays").await;
    assert_eq!(ids(&mine), [id.clone(), own_id.clone()]);
    let empty_path = format!("/api/v1/dead-letters/replays/{empty_id}");
    assert_eq!(get(&app, &alpha_key, &empty_path).await.0, 404);
    let (_, all_jobs) = get(
        &app,
        ADMIN_TOKEN,
        "/api/v1/dead-letters/replays?status=completed",
    )
    .await;
    assert_eq!(ids(&all_jobs), [id, own_id, empty_id]);

    // Bad bodies: 422 naming the field.
    for (body, field) in [
        (json!({ "rate_per_second": 0 }), "rate_per_second"),
        (json!({ "rate_per_second": 10001 }), "rate_per_second"),
        (json!({ "channel": "fax" }), "channel"),
        (json!({ "status": "dead" }), "body"),
        (json!({ "failed_after": "soon" }), "failed_after"),
    ] {
        let (status, error) = bulk(&app, ADMIN_TOKEN, body.clone()).await;
        assert_eq!(status, 422, "{body}");
        assert!(
            error["error"]["fields"][field].is_string(),
            "{body}: {error}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.replay_job.create'")
            .await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_slow_bulk_replay_stops_it_before_it_finishes() {
    let app = spawn_ingress_with(|_| {}).await;
    let (tenant, _) = app.provision("Slow").await;
    for n in 0..8 {
        let envelope = sms(
            tenant.parse().unwrap(),
            &format!("e0000000-0000-4000-8000-00000000030{n}"),
        );
        record(&app, &envelope, ErrorClass::Exhausted, "Telnyx 503").await;
    }
    let (status, started) = bulk(&app, ADMIN_TOKEN, json!({ "rate_per_second": 1 })).await;
    assert_eq!(status, 202);
    let id = started["id"].as_str().unwrap().to_owned();
    eventually("the first replays", || async {
        job(&app, ADMIN_TOKEN, &id).await["replayed"].as_i64() >= Some(1)
    })
    .await;
    let cancel = format!("/api/v1/dead-letters/replays/{id}/cancel");
    let (status, cancelled) = post(&app, ADMIN_TOKEN, &cancel, None).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let stopped_at = cancelled["replayed"].as_i64().unwrap();
    assert!(stopped_at < 8, "{cancelled}");

    // Nothing more is replayed after the cancel.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = job(&app, ADMIN_TOKEN, &id).await;
    assert_eq!(
        (later["status"].as_str(), later["replayed"].as_i64()),
        (Some("cancelled"), Some(stopped_at))
    );
    assert_eq!(
        app.count("SELECT count(*) FROM dead_letters WHERE status = 'replayed'")
            .await,
        stopped_at
    );
    assert_eq!(take_published(&app, "sms").await.len() as i64, stopped_at);
    // Cancelling again changes nothing; a finished job cannot be cancelled.
    assert_eq!(post(&app, ADMIN_TOKEN, &cancel, None).await.0, 200);
    let (_, empty) = bulk(&app, ADMIN_TOKEN, json!({ "kind": "call" })).await;
    let path = format!(
        "/api/v1/dead-letters/replays/{}/cancel",
        empty["id"].as_str().unwrap()
    );
    assert_eq!(post(&app, ADMIN_TOKEN, &path, None).await.0, 409);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.replay_job.cancel'")
            .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_replica_died_is_resumed_from_its_cursor_when_the_lease_runs_out() {
    let app = spawn_ingress_with(|_| {}).await;
    let (tenant, _) = app.provision("Resumed").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let envelope = sms(
            tenant.parse().unwrap(),
            &format!("e0000000-0000-4000-8000-00000000050{n}"),
        );
        record(&app, &envelope, ErrorClass::Exhausted, "Telnyx 503").await;
        ids.push(envelope.id);
    }
    // A replica replayed two, then died holding the lease.
    sqlx::query(
        "UPDATE dead_letters SET status = 'replayed', replays = 1, replayed_at = now() \
         WHERE id = ANY($1)",
    )
    .bind(&ids[..2])
    .execute(&app.owner_pool)
    .await
    .unwrap();
    let job = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO replay_jobs (id, tenant_id, filter, rate_per_second, total, replayed, cursor, \
           created_by, lease_owner, lease_until) \
         VALUES ($1, NULL, '{}', 100, 5, 2, $2, 'admin_token', $3, now() + interval '1 hour')",
    )
    .bind(job)
    .bind(ids[1])
    .bind(uuid::Uuid::now_v7())
    .execute(&app.owner_pool)
    .await
    .unwrap();
    // While the lease holds, nobody else takes the job...
    tokio::time::sleep(replayer::POLL * 2).await;
    assert_eq!(
        self::job(&app, ADMIN_TOKEN, &job.to_string()).await["replayed"],
        2
    );
    // ...once it has run out, a replica resumes it after its cursor.
    sqlx::query("UPDATE replay_jobs SET lease_until = now() - interval '1 second'")
        .execute(&app.owner_pool)
        .await
        .unwrap();
    eventually("the job resumed and completed", || async {
        self::job(&app, ADMIN_TOKEN, &job.to_string()).await["status"] == "completed"
    })
    .await;
    let done = self::job(&app, ADMIN_TOKEN, &job.to_string()).await;
    assert_eq!(
        (done["replayed"].as_i64(), done["total"].as_i64()),
        (Some(5), Some(5))
    );
    let published: Vec<String> = take_published(&app, "sms")
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let rest: Vec<String> = ids[2..].iter().map(ToString::to_string).collect();
    assert_eq!(published, rest);
}

/// Run `switchyard dlq <args>` against the app with `token`; the output.
async fn cli(app: &TestApp, token: &str, args: &[&str]) -> Result<String, dlq::DlqError> {
    cli_until(app, token, args, std::future::pending()).await
}

async fn cli_until(
    app: &TestApp,
    token: &str,
    args: &[&str],
    cancel: impl std::future::Future<Output = ()>,
) -> Result<String, dlq::DlqError> {
    let parsed = DlqArgs::try_parse_from(std::iter::once("dlq").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let client = Client::new(&app.address, token).unwrap();
    let mut out = Vec::new();
    dlq::execute(&client, parsed.command, parsed.json, &mut out, cancel).await?;
    Ok(String::from_utf8(out).unwrap())
}

use clap::Parser as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_replays_and_follows_bulk_replays_through_the_api() {
    let app = spawn_ingress_with(|_| {}).await;
    let (tenant, key) = app.provision("Cli").await;
    let tenant: TenantId = tenant.parse().unwrap();
    let first = sms(tenant, "e0000000-0000-4000-8000-000000000401");
    let second = sms(tenant, "e0000000-0000-4000-8000-000000000402");
    record(&app, &first, ErrorClass::Exhausted, "Telnyx 503 on send").await;
    record(&app, &second, ErrorClass::Permanent, "contact is malformed").await;

    let table = cli(&app, &key, &["list", "--channel", "sms"])
        .await
        .unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("ERROR"),
        "{table}"
    );
    assert!(lines[1].starts_with(&first.id.to_string()) && lines[1].contains("Telnyx 503"));
    assert!(lines[2].starts_with(&second.id.to_string()));
    let json: Value = serde_json::from_str(
        &cli(
            &app,
            &key,
            &["list", "--error-class", "permanent", "--json"],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(ids(&json), [second.id.to_string()]);
    let bad = cli(&app, &key, &["list", "--kind", "nope"])
        .await
        .unwrap_err();
    assert_eq!(bad.status(), Some(422));
    assert!(bad.to_string().contains("kind"), "{bad}");

    let replayed = cli(&app, &key, &["replay", &first.id.to_string()])
        .await
        .unwrap();
    assert!(
        replayed.contains("status:") && replayed.contains("replayed"),
        "{replayed}"
    );
    assert_eq!(take_published(&app, "sms").await.len(), 1);
    let again = cli(&app, &key, &["replay", &first.id.to_string()])
        .await
        .unwrap_err();
    assert_eq!(again.status(), Some(409));
    let shown = cli(&app, &key, &["show", &second.id.to_string()])
        .await
        .unwrap();
    assert!(
        shown.contains("envelope:") && shown.contains(second.dedup_key.as_str()),
        "{shown}"
    );

    // Bulk: a dry run, then a job followed until it completes.
    let dry = cli(&app, &key, &["replay-bulk", "--dry-run"])
        .await
        .unwrap();
    assert!(dry.starts_with("1 dead letters match"), "{dry}");
    let followed = cli(&app, &key, &["replay-bulk", "--rate", "20"])
        .await
        .unwrap();
    assert!(
        followed
            .lines()
            .last()
            .unwrap()
            .contains("completed: replayed 1 of 1"),
        "{followed}"
    );
    let jobs = cli(&app, &key, &["jobs"]).await.unwrap();
    assert_eq!(jobs.lines().count(), 2, "{jobs}");

    // Ctrl-C while following cancels the job.
    for n in 0..5 {
        let envelope = sms(tenant, &format!("e0000000-0000-4000-8000-00000000041{n}"));
        record(&app, &envelope, ErrorClass::Exhausted, "Telnyx 503").await;
    }
    let interrupt = tokio::time::sleep(Duration::from_millis(1500));
    let cancelled = cli_until(&app, &key, &["replay-bulk", "--rate", "1"], interrupt)
        .await
        .unwrap();
    assert!(
        cancelled.lines().last().unwrap().contains("cancelled"),
        "{cancelled}"
    );
    assert!(
        app.count("SELECT count(*) FROM dead_letters WHERE status = 'dead'")
            .await
            > 0,
        "stopped before the end"
    );

    // Unroutable events are the platform's.
    let refused = cli(&app, &key, &["unroutable", "list"]).await.unwrap_err();
    assert_eq!(refused.status(), Some(403));
    let empty = cli(&app, ADMIN_TOKEN, &["unroutable", "list"])
        .await
        .unwrap();
    assert_eq!(empty.lines().count(), 1, "{empty}");
}
