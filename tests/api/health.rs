//! Liveness and readiness probes.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_readyz_answer_when_everything_is_up() {
    let app = spawn_app().await;
    let live = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["broker"], "ok");
    assert_eq!(body["spooled"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_reports_an_unreachable_database() {
    let app = spawn_app_with(|s| {
        s.database.url = switchyard_shared::secrets::SecretString::new(
            "postgres://switchyard_app:switchyard_app@127.0.0.1:1/nowhere",
        );
    })
    .await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "unavailable");
    assert_eq!(body["broker"], "ok");
    assert_eq!(body["spooled"], Value::Null);
    // A webhook that cannot be stored is not acknowledged: the provider will retry.
    let response = app
        .post_whatsapp(fixture("whatsapp/inbound_text.json"))
        .await;
    assert_eq!(response.status(), 503);
}
