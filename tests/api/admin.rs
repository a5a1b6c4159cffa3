//! The bootstrap admin API: tenants and their WhatsApp configuration.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_admin_token_get_401() {
    let app = spawn_app().await;
    let body = json!({ "name": "Acme" });
    let none = app
        .client
        .post(app.url("/api/v1/tenants"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let wrong = app
        .client
        .post(app.url("/api/v1/tenants"))
        .bearer_auth("not-the-token")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let error: Value = wrong.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unauthorized");
    assert_eq!(app.count("SELECT count(*) FROM tenants").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_is_closed_when_no_token_is_configured() {
    let app = spawn_app_with(|s| s.ingress.admin_token = None).await;
    let response = app
        .admin_post("/api/v1/tenants", &json!({ "name": "Acme" }))
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_tenant_derives_the_slug_and_refuses_duplicates() {
    let app = spawn_app().await;
    let response = app
        .admin_post("/api/v1/tenants", &json!({ "name": "Acme Dental, Inc." }))
        .await;
    assert_eq!(response.status(), 201);
    let tenant: Value = response.json().await.unwrap();
    assert_eq!(tenant["slug"], "acme-dental-inc");
    assert_eq!(tenant["status"], "active");
    let id = tenant["id"].as_str().unwrap();

    let read = app.admin_get(&format!("/api/v1/tenants/{id}")).await;
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.json::<Value>().await.unwrap()["name"],
        "Acme Dental, Inc."
    );

    let duplicate = app
        .admin_post(
            "/api/v1/tenants",
            &json!({ "name": "Other", "slug": "acme-dental-inc" }),
        )
        .await;
    assert_eq!(duplicate.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_bodies_get_422_or_400_with_the_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({ "name": "Acme", "slug": "Not A Slug" }), "slug"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "Acme", "unexpected": 1 }), "body"),
        (json!({ "slug": "acme" }), "body"),
    ];
    for (body, field) in cases {
        let response = app.admin_post("/api/v1/tenants", &body).await;
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"]["fields"][field].is_string(),
            "{body}: {error}"
        );
    }
    let garbage = app
        .client
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_secrets_are_sealed_at_rest_and_masked_when_read() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", None).await;
    let path = format!("/api/v1/tenants/{tenant}/channels/whatsapp");
    let put = app
        .admin_put(
            &path,
            &json!({
                "phone_number_id": PHONE_NUMBER_ID,
                "waba_id": WABA_ID,
                "access_token": "EAAGm0PXsecret-token-9876",
                "app_secret": "own-app-secret-4321",
            }),
        )
        .await;
    assert_eq!(put.status(), 200);
    let shown: Value = put.json().await.unwrap();
    assert_eq!(shown["access_token"], "***9876");
    assert_eq!(shown["app_secret"], "***4321");

    let read = app.admin_get(&path).await;
    let text = read.text().await.unwrap();
    assert!(!text.contains("EAAGm0PXsecret"), "{text}");
    assert!(!text.contains("own-app-secret"), "{text}");
    assert!(text.contains("***9876"));

    let (token, secret): (String, String) =
        sqlx::query_as("SELECT access_token_enc, app_secret_enc FROM whatsapp_channels")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert!(token.starts_with("test1:") && !token.contains("EAAG"));
    assert!(secret.starts_with("test1:") && !secret.contains("own-app"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_config_errors() {
    let app = spawn_app().await;
    let a = app.create_tenant("alpha", None).await;
    let b = app.create_tenant("beta", None).await;
    app.put_whatsapp(a, PHONE_NUMBER_ID, WABA_ID, None).await;
    let config = json!({ "phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID, "access_token": "token-1234567" });

    // A number belongs to one tenant.
    let taken = app
        .admin_put(&format!("/api/v1/tenants/{b}/channels/whatsapp"), &config)
        .await;
    assert_eq!(taken.status(), 409);
    // Unknown tenant, or not an id at all.
    let unknown = uuid::Uuid::now_v7();
    let missing = app
        .admin_put(
            &format!("/api/v1/tenants/{unknown}/channels/whatsapp"),
            &config,
        )
        .await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        app.admin_get("/api/v1/tenants/not-a-uuid").await.status(),
        404
    );
    assert_eq!(
        app.admin_get(&format!("/api/v1/tenants/{b}/channels/whatsapp"))
            .await
            .status(),
        404
    );
    // Validation names the field.
    let bad = app
        .admin_put(
            &format!("/api/v1/tenants/{b}/channels/whatsapp"),
            &json!({ "phone_number_id": "+1555", "waba_id": WABA_ID, "access_token": "token-1234567" }),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let error: Value = bad.json().await.unwrap();
    assert!(error["error"]["fields"]["phone_number_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_removes_everything_it_owns() {
    let app = spawn_app().await;
    let doomed = app.fixture_tenant().await;
    let kept = app.create_tenant("kept", Some("hello")).await;
    app.put_whatsapp(kept, "100000000000022", "200000000000022", None)
        .await;
    for (pnid, waba, wamid) in [
        (PHONE_NUMBER_ID, WABA_ID, "wamid.D1"),
        ("100000000000022", "200000000000022", "wamid.K1"),
    ] {
        let event = inbound_text(pnid, waba, "15550001111", wamid, "hi");
        assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    }
    eventually("both welcomes", || async { app.graph.sent().len() == 2 }).await;
    eventually("both replies recorded", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'")
            .await
            == 2
    })
    .await;

    let response = app
        .client
        .delete(app.url(&format!("/api/v1/tenants/{doomed}")))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    for table in [
        "whatsapp_channels",
        "contacts",
        "conversations",
        "messages",
        "processed_events",
        "outbox",
    ] {
        let remaining: Vec<uuid::Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT tenant_id FROM {table}"
        )))
        .fetch_all(&app.owner_pool)
        .await
        .unwrap();
        assert_eq!(remaining, vec![kept.as_uuid()], "{table}");
    }
    // Its number is no longer routed.
    let later = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.D2", "hi");
    assert_eq!(app.post_whatsapp(bytes(&later)).await.status(), 200);
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 1);
}
