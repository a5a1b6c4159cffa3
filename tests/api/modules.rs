//! The module catalogue and a tenant's modules through the admin API: enabling, switching,
//! and an order that accepts only the tenant's own modules.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

/// Enable a catalogue module; returns the tenant module's id.
pub async fn enable(app: &TestApp, key: &str, module: &str) -> String {
    let response = app
        .call(
            Method::POST,
            "/api/v1/tenant-modules",
            key,
            Some(json!({ "module_key": module })),
        )
        .await;
    assert_eq!(response.status(), 201, "enable {module}");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// A response's status and JSON body (`null` when it has none).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn order_of(app: &TestApp, key: &str) -> Vec<String> {
    let (status, list) = json_of(
        app.call(Method::GET, "/api/v1/tenant-modules", key, None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn put_order(app: &TestApp, key: &str, ids: &[&str]) -> (u16, Value) {
    json_of(
        app.call(
            Method::PUT,
            "/api/v1/tenant-modules/order",
            key,
            Some(json!({ "tenant_module_ids": ids })),
        )
        .await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_order_accepts_only_the_tenants_own_modules() {
    let app = spawn_app().await;
    let (a, a_agent) = app.admin_and_agent_keys("Acme").await;
    let b = app.provision("Other").await.1;

    let (status, catalogue) = json_of(
        app.call(Method::GET, "/api/v1/modules", &a_agent, None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = catalogue
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    for expected in ["welcome", "faq", "booking", "handover"] {
        assert!(keys.contains(&expected), "{keys:?}");
    }

    let welcome = enable(&app, &a, "welcome").await;
    let faq = enable(&app, &a, "faq").await;
    let booking = enable(&app, &a, "booking").await;
    let theirs = enable(&app, &b, "faq").await;
    assert_eq!(
        order_of(&app, &a).await,
        [welcome.as_str(), faq.as_str(), booking.as_str()]
    );

    // The order round-trips.
    let (status, reordered) = put_order(&app, &a, &[&booking, &welcome, &faq]).await;
    assert_eq!(status, 200, "{reordered}");
    assert_eq!(reordered[0]["module_key"], "booking");
    assert_eq!(reordered[0]["position"], 0);
    assert_eq!(reordered[2]["position"], 2);
    assert_eq!(
        order_of(&app, &a).await,
        [booking.as_str(), welcome.as_str(), faq.as_str()]
    );

    // Another tenant's module, an unknown id, a duplicate, a missing one, not an id: refused,
    // and nothing changes on either side.
    let unknown = "0190a000-0000-7000-8000-000000000000";
    for (ids, field) in [
        (
            vec![
                welcome.as_str(),
                theirs.as_str(),
                faq.as_str(),
                booking.as_str(),
            ],
            "tenant_module_ids[1]",
        ),
        (
            vec![welcome.as_str(), faq.as_str(), unknown],
            "tenant_module_ids[2]",
        ),
        (
            vec![
                welcome.as_str(),
                faq.as_str(),
                faq.as_str(),
                booking.as_str(),
            ],
            "tenant_module_ids[2]",
        ),
        (vec![welcome.as_str(), faq.as_str()], "tenant_module_ids"),
        (
            vec![welcome.as_str(), "nope", faq.as_str()],
            "tenant_module_ids[1]",
        ),
    ] {
        let (status, error) = put_order(&app, &a, &ids).await;
        assert_eq!(status, 422, "{ids:?}: {error}");
        assert!(
            error["error"]["fields"][field].is_string(),
            "{ids:?}: {error}"
        );
    }
    assert_eq!(
        order_of(&app, &a).await,
        [booking.as_str(), welcome.as_str(), faq.as_str()]
    );
    assert_eq!(order_of(&app, &b).await, [theirs.as_str()]);

    // Enabling twice, or a module the catalogue lacks.
    let twice = app
        .call(
            Method::POST,
            "/api/v1/tenant-modules",
            &a,
            Some(json!({ "module_key": "faq" })),
        )
        .await;
    assert_eq!(twice.status(), 409);
    let (status, error) = json_of(
        app.call(
            Method::POST,
            "/api/v1/tenant-modules",
            &a,
            Some(json!({ "module_key": "teleport" })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(error["error"]["fields"]["module_key"].is_string());

    // Switching off; another tenant cannot.
    let path = format!("/api/v1/tenant-modules/{faq}");
    let (status, patched) = json_of(
        app.call(
            Method::PATCH,
            &path,
            &a,
            Some(json!({ "is_active": false })),
        )
        .await,
    )
    .await;
    assert_eq!((status, &patched["is_active"]), (200, &json!(false)));
    let (status, _) = json_of(
        app.call(Method::PATCH, &path, &b, Some(json!({ "is_active": true })))
            .await,
    )
    .await;
    assert_eq!(status, 404);

    // Agents read, never write; a platform admin acts with X-Tenant-Id.
    assert_eq!(order_of(&app, &a_agent).await.len(), 3);
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/tenant-modules",
            json!({ "module_key": "handover" }),
        ),
        (
            Method::PUT,
            "/api/v1/tenant-modules/order",
            json!({ "tenant_module_ids": [] }),
        ),
        (Method::PATCH, path.as_str(), json!({ "is_active": true })),
    ] {
        let response = app.call(method.clone(), path, &a_agent, Some(body)).await;
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    let tenant_a: Value = app
        .call(Method::GET, "/api/v1/me", &a, None)
        .await
        .json()
        .await
        .unwrap();
    let platform = app
        .client
        .get(app.url("/api/v1/tenant-modules"))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-Tenant-Id", tenant_a["tenant_id"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(platform.status(), 200);
    assert_eq!(
        platform
            .json::<Value>()
            .await
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
