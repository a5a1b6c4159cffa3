//! The credential vault: typed entries, masked reads, reveal for tenant admins only.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_entries_are_sealed_masked_and_revealed_only_to_admins() {
    let app = spawn_app().await;
    let (admin, agent) = app.admin_and_agent_keys("Acme").await;
    let genesys = json!({
        "kind": "genesys_cloud", "name": "Genesys EU",
        "fields": { "region": "mypurecloud.ie", "client_id": "3f2a-client" },
        "secrets": { "client_secret": "gc-secret-value-9876" }
    });
    let created = app
        .call(
            reqwest::Method::POST,
            "/api/v1/vault",
            &admin,
            Some(genesys.clone()),
        )
        .await;
    assert_eq!(created.status(), 201);
    let entry: Value = created.json().await.unwrap();
    assert_eq!(entry["secrets"]["client_secret"], "***9876");
    assert_eq!(entry["fields"]["region"], "mypurecloud.ie");
    let id = entry["id"].as_str().unwrap();

    let sealed: Value = sqlx::query_scalar("SELECT secrets FROM vault_entries")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    assert!(!sealed.to_string().contains("gc-secret-value"));

    // Agents read masked, cannot reveal or write.
    let listed = app
        .call(reqwest::Method::GET, "/api/v1/vault", &agent, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains("***9876") && !listed.contains("gc-secret-value"),
        "{listed}"
    );
    let path = format!("/api/v1/vault/{id}/reveal");
    assert_eq!(
        app.call(reqwest::Method::POST, &path, &agent, None)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.call(
            reqwest::Method::POST,
            "/api/v1/vault",
            &agent,
            Some(genesys.clone())
        )
        .await
        .status(),
        403
    );
    let revealed: Value = app
        .call(reqwest::Method::POST, &path, &admin, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revealed["secrets"]["client_secret"], "gc-secret-value-9876");

    // Names are unique per tenant; kinds are checked field by field.
    assert_eq!(
        app.call(
            reqwest::Method::POST,
            "/api/v1/vault",
            &admin,
            Some(genesys)
        )
        .await
        .status(),
        409
    );
    let bad = app
        .call(reqwest::Method::POST, "/api/v1/vault", &admin, Some(json!({
            "kind": "genesys_cloud", "name": "x", "fields": { "region": "mars.cloud" }, "secrets": {}
        })))
        .await;
    assert_eq!(bad.status(), 422);
    let error: Value = bad.json().await.unwrap();
    for field in ["fields.region", "fields.client_id", "secrets.client_secret"] {
        assert!(
            error["error"]["fields"][field].is_string(),
            "{field}: {error}"
        );
    }
    let unknown = app
        .call(
            reqwest::Method::POST,
            "/api/v1/vault",
            &admin,
            Some(json!({ "kind": "ftp", "name": "y" })),
        )
        .await;
    assert_eq!(unknown.status(), 422);

    // Replace, then another tenant cannot see it, then delete.
    let replaced = app
        .call(reqwest::Method::PUT, &format!("/api/v1/vault/{id}"), &admin, Some(json!({
            "kind": "custom", "name": "Genesys EU", "fields": { "note": "moved" }, "secrets": { "token": "abcdefghijkl-5555" }
        })))
        .await;
    assert_eq!(replaced.status(), 200);
    assert_eq!(
        replaced.json::<Value>().await.unwrap()["secrets"]["token"],
        "***5555"
    );
    let other: Value = app
        .admin_post("/api/v1/tenants", &json!({ "name": "Other" }))
        .await
        .json()
        .await
        .unwrap();
    let other_key = other["api_key"]["key"].as_str().unwrap();
    assert_eq!(
        app.call(
            reqwest::Method::GET,
            &format!("/api/v1/vault/{id}"),
            other_key,
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.call(reqwest::Method::POST, &path, other_key, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.call(
            reqwest::Method::DELETE,
            &format!("/api/v1/vault/{id}"),
            &admin,
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.call(
            reqwest::Method::GET,
            &format!("/api/v1/vault/{id}"),
            &admin,
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'vault.reveal'")
            .await,
        1
    );
}
