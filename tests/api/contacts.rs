//! Contacts CRUD, search and pagination; conversation and message reads with filters.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_crud_search_and_uniqueness() {
    let app = spawn_app().await;
    let key = app.provision("Acme").await.1;
    let created = app
        .call(
            reqwest::Method::POST,
            "/api/v1/contacts",
            &key,
            Some(json!({ "phone": "+1 555 000 1111", "display_name": "Ana Ruiz" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    let ana: Value = created.json().await.unwrap();
    assert_eq!(ana["phone"], "+15550001111");
    let id = ana["id"].as_str().unwrap();

    let duplicate = app
        .call(
            reqwest::Method::POST,
            "/api/v1/contacts",
            &key,
            Some(json!({ "phone": "+15550001111" })),
        )
        .await;
    assert_eq!(duplicate.status(), 409);
    let invalid = app
        .call(
            reqwest::Method::POST,
            "/api/v1/contacts",
            &key,
            Some(json!({ "phone": "555-0000", "email": "nope" })),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let error: Value = invalid.json().await.unwrap();
    assert!(
        error["error"]["fields"]["phone"].is_string()
            && error["error"]["fields"]["email"].is_string()
    );
    let empty = app
        .call(
            reqwest::Method::POST,
            "/api/v1/contacts",
            &key,
            Some(json!({ "display_name": "x" })),
        )
        .await;
    assert_eq!(empty.status(), 422);

    let patched: Value = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/contacts/{id}"),
            &key,
            Some(json!({ "email": "ana@example.com" })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (patched["email"].as_str(), patched["phone"].as_str()),
        (Some("ana@example.com"), Some("+15550001111"))
    );

    for i in 0..3 {
        let made = app.call(reqwest::Method::POST, "/api/v1/contacts", &key,
            Some(json!({ "email": format!("bob{i}@example.com"), "display_name": format!("Bob {i}") }))).await;
        assert_eq!(made.status(), 201);
    }
    let found: Value = app
        .call(reqwest::Method::GET, "/api/v1/contacts?q=RUIZ", &key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    // A LIKE wildcard in the search is taken literally.
    let literal: Value = app
        .call(reqwest::Method::GET, "/api/v1/contacts?q=%25", &key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(literal["items"].as_array().unwrap().len(), 0);

    let first: Value = app
        .call(reqwest::Method::GET, "/api/v1/contacts?limit=3", &key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 3);
    let next = first["next"].as_str().unwrap();
    let second: Value = app
        .call(
            reqwest::Method::GET,
            &format!("/api/v1/contacts?limit=3&after={next}"),
            &key,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null());
    for bad in ["limit=0", "limit=201", "limit=x", "after=nope"] {
        let response = app
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/contacts?{bad}"),
                &key,
                None,
            )
            .await;
        assert_eq!(response.status(), 422, "{bad}");
    }

    // Another tenant's key does not see, change or delete this contact.
    let other = app.provision("Other").await.1;
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = app
            .call(
                method.clone(),
                &format!("/api/v1/contacts/{id}"),
                &other,
                None,
            )
            .await;
        assert_eq!(response.status(), 404, "{method}");
    }
    let response = app
        .call(
            reqwest::Method::PATCH,
            &format!("/api/v1/contacts/{id}"),
            &other,
            Some(json!({ "display_name": "x" })),
        )
        .await;
    assert_eq!(response.status(), 404);
    let theirs: Value = app
        .call(reqwest::Method::GET, "/api/v1/contacts", &other, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);

    assert_eq!(
        app.call(
            reqwest::Method::DELETE,
            &format!("/api/v1/contacts/{id}"),
            &key,
            None
        )
        .await
        .status(),
        204
    );
    assert_eq!(
        app.call(
            reqwest::Method::GET,
            &format!("/api/v1/contacts/{id}"),
            &key,
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.call(
            reqwest::Method::GET,
            "/api/v1/contacts/not-an-id",
            &key,
            None
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        app.client
            .get(app.url("/api/v1/contacts"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_and_messages_are_listed_with_filters() {
    let app = spawn_app().await;
    let tenant = app.fixture_tenant().await;
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the reply recorded", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound'")
            .await
            == 1
    })
    .await;
    let admin = |path: &str| {
        app.client
            .get(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("X-Tenant-Id", tenant.to_string())
            .send()
    };
    let conversations: Value = admin("/api/v1/conversations?channel=whatsapp")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let conversation = conversations["items"][0]["id"].as_str().unwrap().to_owned();
    let messages: Value = admin(&format!("/api/v1/messages?conversation_id={conversation}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(messages["items"].as_array().unwrap().len(), 2);
    let inbound: Value = admin("/api/v1/messages?direction=inbound")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inbound["items"][0]["body"], "Hi, are you open on Saturday?");
    let none: Value = admin("/api/v1/conversations?channel=sms")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none["items"].as_array().unwrap().is_empty());
    let later: Value = admin("/api/v1/messages?since=2999-01-01T00:00:00Z")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(later["items"].as_array().unwrap().is_empty());
    for bad in [
        "channel=fax",
        "direction=sideways",
        "since=yesterday",
        "conversation_id=1",
    ] {
        let response = admin(&format!("/api/v1/messages?{bad}")).await.unwrap();
        assert_eq!(response.status(), 422, "{bad}");
    }
}
