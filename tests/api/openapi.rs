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
