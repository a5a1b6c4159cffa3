//! The OpenAPI document: served, complete, and true to the router — every documented
//! operation exists and refuses a caller without credentials.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

async fn document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Every `(method, path)` the document lists, with path parameters filled in.
fn operations(doc: &Value) -> Vec<(Method, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let concrete = path
                .replace("{channel}", "sms")
                .replace("{id}", "0190a000-0000-7000-8000-000000000000")
                .replace("{tenant_id}", "0190a000-0000-7000-8000-000000000000");
            out.push((method, concrete, operation.clone()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_openapi_3_1_and_covers_the_admin_api() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "Switchyard admin API");
    let ops = operations(&doc);
    assert!(ops.len() >= 45, "only {} operations documented", ops.len());
    for expected in [
        "/api/v1/auth/login",
        "/api/v1/contacts/{id}",
        "/api/v1/channels/sms",
        "/api/v1/channels/{channel}/effective",
        "/api/v1/tenants/{tenant_id}/reactivate",
        "/api/v1/platform/audit-log",
    ] {
        assert!(doc["paths"][expected].is_object(), "{expected} missing");
    }
    for (method, path, operation) in &ops {
        let responses = operation["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|s| s.starts_with('2')),
            "{method} {path} documents no success"
        );
        assert!(responses.contains_key("422"), "{method} {path}: no 422");
        let public = operation["operationId"] == "login";
        assert_eq!(
            operation["security"].is_array(),
            !public,
            "{method} {path}: security"
        );
    }
    // The channel bodies are built from the same field tables the API validates with.
    let sms = &doc["paths"]["/api/v1/channels/sms"]["put"]["requestBody"]["content"]["application/json"]
        ["schema"];
    let sms = if let Some(r) = sms["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        doc["components"]["schemas"][name].clone()
    } else {
        sms.clone()
    };
    assert_eq!(sms["additionalProperties"], false);
    assert!(sms["properties"]["telnyx_phone_number"]["pattern"].is_string());
    assert!(sms["properties"]["twilio_auth_token"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_exists_and_refuses_anonymous_callers() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path, operation) in operations(&doc) {
        let mut request = app.client.request(method.clone(), app.url(&path));
        if operation.get("requestBody").is_some() {
            request = request.json(&serde_json::json!({}));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if operation["operationId"] == "login" {
            assert_eq!(status, 422, "{method} {path}: {body}");
        } else {
            assert_eq!(status, 401, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "unauthorized", "{method} {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_and_unknown_routes() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Switchyard admin API"));
    assert!(
        html.contains("/api/v1/contacts"),
        "the document is embedded"
    );

    let missing = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

/// What the contract run (schemathesis) found, pinned: each of these answered 500 once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_4xx_never_500() {
    let app = spawn_app().await;
    let (_, key) = app.provision("Hostile Input").await;

    // NUL cannot be stored by PostgreSQL: refused before it gets there, in bodies and queries.
    let nul_contact = app
        .client
        .post(app.url("/api/v1/contacts"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(r#"{"phone": "+15550001111", "display_name": "\u0000"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(nul_contact.status(), 422);
    let error: Value = nul_contact.json().await.unwrap();
    assert!(error["error"]["fields"]["body"].is_string(), "{error}");
    let nul_tenant = app
        .client
        .post(app.url("/api/v1/tenants"))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"name": "a\u0000b"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(nul_tenant.status(), 422);
    let nul_query = app
        .call(Method::GET, "/api/v1/contacts?q=a%00b", &key, None)
        .await;
    assert_eq!(nul_query.status(), 422);

    // Numbers at the edge of a double do not read back from jsonb: refused.
    let edge = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            &key,
            Some(serde_json::json!({ "metadata": { "x": 1.7976931348623157e308 } })),
        )
        .await;
    assert_eq!(edge.status(), 422);
    let fine = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            &key,
            Some(serde_json::json!({ "metadata": { "x": 12.5, "tags": ["a"] } })),
        )
        .await;
    assert_eq!(fine.status(), 200);

    // Not JSON: 415, not a plain-text rejection.
    let form = app
        .client
        .post(app.url("/api/v1/contacts"))
        .bearer_auth(&key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("phone=%2B15550001111")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    let error: Value = form.json().await.unwrap();
    assert_eq!(error["error"]["code"], "unsupported_media_type");

    // An array serde could read as the struct's fields is still not the object the API takes.
    let array = app
        .client
        .put(app.url("/api/v1/prompts"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("[[]]")
        .send()
        .await
        .unwrap();
    assert_eq!(array.status(), 422);
    let error: Value = array.json().await.unwrap();
    assert!(
        error.to_string().contains("must be a JSON object"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acting_on_a_deleted_tenant_is_404_not_500() {
    let app = spawn_app().await;
    let (tenant, _) = app.provision("Soon Gone").await;
    let deleted = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tenants/{tenant}"),
            ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    for (path, body) in [
        (
            "/api/v1/contacts",
            serde_json::json!({ "phone": "+15550001111" }),
        ),
        ("/api/v1/api-keys", serde_json::json!({ "name": "late" })),
        (
            "/api/v1/vault",
            serde_json::json!({ "kind": "custom", "name": "late", "fields": { "a": "b" } }),
        ),
    ] {
        let response = app
            .client
            .post(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("x-tenant-id", &tenant)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["message"], "no such tenant", "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tenants_with_one_name_all_get_a_slug() {
    let app = spawn_app().await;
    let mut slugs = std::collections::HashSet::new();
    for _ in 0..8 {
        let response = app
            .admin_post("/api/v1/tenants", &serde_json::json!({ "name": "Acme" }))
            .await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        assert!(slugs.insert(body["slug"].as_str().unwrap().to_owned()));
    }
    for expected in ["acme", "acme-2", "acme-5"] {
        assert!(slugs.contains(expected), "{expected} in {slugs:?}");
    }
}
