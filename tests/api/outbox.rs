//! Outbound sends: bounded retries of refusals the provider calls temporary, no retry of
//! permanent refusals, and never a second send when the outcome is unknown.

use std::time::Duration;

use switchyard::sandbox::graph::Failure;

use crate::helpers::*;

async fn outbox_row(app: &TestApp) -> (String, i32) {
    let row: Option<(String, i32)> = sqlx::query_as("SELECT status, attempts FROM outbox")
        .fetch_optional(&app.owner_pool)
        .await
        .unwrap();
    row.unwrap_or_else(|| ("none yet".to_owned(), 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_send_is_retried_and_sent_once() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    app.graph.fail_next(Failure {
        count: 2,
        status: 400,
        code: 130429,
        delay_ms: 0,
    });
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the welcome sent", || async {
        outbox_row(&app).await.0 == "sent"
    })
    .await;
    assert_eq!(outbox_row(&app).await, ("sent".to_owned(), 3));
    assert_eq!(app.graph.sent().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    app.graph.fail_next(Failure {
        count: 10,
        status: 503,
        code: 131000,
        delay_ms: 0,
    });
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the send given up", || async {
        outbox_row(&app).await.0 == "failed"
    })
    .await;
    // OUTBOX_MAX_ATTEMPTS is 3 in the tests.
    assert_eq!(outbox_row(&app).await.1, 3);
    let error: String = sqlx::query_scalar("SELECT last_error FROM outbox")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    assert!(error.contains("131000"), "{error}");
    assert!(app.graph.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_not_retried() {
    let app = spawn_app().await;
    app.fixture_tenant().await;
    app.graph.fail_next(Failure {
        count: 1,
        status: 400,
        code: 131026,
        delay_ms: 0,
    });
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the send failed", || async {
        outbox_row(&app).await.0 == "failed"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(outbox_row(&app).await, ("failed".to_owned(), 1));
    assert!(app.graph.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_with_an_unknown_outcome_is_never_sent_again() {
    let app = spawn_app_with(|s| s.worker.provider_timeout_ms = 300).await;
    app.fixture_tenant().await;
    // Graph accepts the message, but answers after our time-out.
    app.graph.fail_next(Failure {
        count: 1,
        status: 200,
        code: 0,
        delay_ms: 1000,
    });
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the send marked unknown", || async {
        outbox_row(&app).await.0 == "unknown"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(outbox_row(&app).await, ("unknown".to_owned(), 1));
    // Delivered once by the provider; not repeated by us.
    assert_eq!(app.graph.sent().len(), 1);
}
