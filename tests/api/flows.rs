//! Message flows through the admin API: flows with buttons and branches, the validation that
//! refuses broken flows, tenant isolation and roles.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::modules::{enable, json_of};

/// A welcome menu: buttons, a branch on them, a wait for a date and a loop back to the menu.
pub fn menu_steps() -> Value {
    json!([
        { "id": "hello", "kind": "text", "body": "Hi! Welcome to Demo Dental.", "next": "menu" },
        { "id": "menu", "kind": "buttons", "body": "How can we help?",
          "buttons": [{ "id": "book", "title": "Book a visit" },
                      { "id": "hours", "title": "Opening hours" },
                      { "id": "human", "title": "Talk to us" }],
          "next": "route" },
        { "id": "route", "kind": "branch",
          "rules": [{ "button": "book", "to": "date" },
                    { "button": "hours", "to": "hours" },
                    { "button": "human", "to": "agent" },
                    { "keywords": ["person", "agent"], "to": "agent" }] },
        { "id": "hours", "kind": "text", "body": "Mon-Fri 9-17.", "next": "menu" },
        { "id": "date", "kind": "wait_reply", "body": "Which day suits you?", "next": "thanks" },
        { "id": "thanks", "kind": "text", "body": "Thanks, we'll confirm.", "next": "done" },
        { "id": "agent", "kind": "handover" },
        { "id": "done", "kind": "end" }
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_with_buttons_and_a_branch_round_trips() {
    let app = spawn_app().await;
    let (tenant, key) = app.provision("Acme").await;
    let module = enable(&app, &key, "welcome").await;
    let (status, created) = json_of(
        app.call(
            Method::POST,
            "/api/v1/flows",
            &key,
            Some(json!({
                "tenant_module_id": module,
                "name": " Main menu ",
                "trigger": { "kind": "keywords", "keywords": ["menu", "Hello"] },
                "steps": menu_steps(),
            })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["name"], "Main menu");
    assert_eq!(created["is_active"], true);
    assert_eq!(created["tenant_module_id"], module.as_str());
    assert_eq!(
        created["trigger"],
        json!({ "kind": "keywords", "keywords": ["menu", "Hello"] })
    );
    assert_eq!(created["steps"], menu_steps());

    let path = format!("/api/v1/flows/{id}");
    let (status, read) = json_of(app.call(Method::GET, &path, &key, None).await).await;
    assert_eq!((status, &read), (200, &created));
    let listed = format!("/api/v1/tenant-modules/{module}/flows");
    let (status, list) = json_of(app.call(Method::GET, &listed, &key, None).await).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["steps"][1]["buttons"][2]["title"], "Talk to us");

    // New settings: a first-contact trigger, switched off — no longer listed as active.
    let (status, updated) = json_of(
        app.call(
            Method::PUT,
            &path,
            &key,
            Some(json!({ "name": "Welcome", "trigger": { "kind": "first_contact" }, "is_active": false })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["trigger"], json!({ "kind": "first_contact" }));
    assert_eq!(updated["steps"], menu_steps());
    let (_, active) = json_of(app.call(Method::GET, &listed, &key, None).await).await;
    assert_eq!(active.as_array().unwrap().len(), 0);
    let (_, all) = json_of(
        app.call(
            Method::GET,
            &format!("{listed}?include_inactive=true"),
            &key,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    let (status, _) = json_of(
        app.call(
            Method::GET,
            &format!("{listed}?include_inactive=maybe"),
            &key,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);

    // Replace the steps; the flow is the new one, whole.
    let short = json!([
        { "id": "ask", "kind": "buttons", "body": "Still there?",
          "buttons": [{ "id": "yes", "title": "Yes" }, { "id": "no", "title": "No" }], "next": "check" },
        { "id": "check", "kind": "branch", "rules": [{ "button": "no", "to": "bye" }], "default": "human" },
        { "id": "human", "kind": "handover" },
        { "id": "bye", "kind": "end" }
    ]);
    let (status, replaced) = json_of(
        app.call(
            Method::PUT,
            &format!("{path}/steps"),
            &key,
            Some(json!({ "steps": short })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["steps"], short);
    assert_eq!(
        app.count("SELECT count(*) FROM flow_steps").await,
        4,
        "the old steps are gone"
    );

    assert_eq!(
        app.call(Method::DELETE, &path, &key, None).await.status(),
        204
    );
    assert_eq!(app.call(Method::GET, &path, &key, None).await.status(), 404);
    assert_eq!(
        app.call(Method::DELETE, &path, &key, None).await.status(),
        404
    );
    assert_eq!(app.count("SELECT count(*) FROM flow_steps").await, 0);

    // Every mutation is in the audit log.
    let log: Value = app
        .admin_get(&format!("/api/v1/platform/audit-log?tenant_id={tenant}"))
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "tenant_module.enable",
        "flow.create",
        "flow.update",
        "flow.replace_steps",
        "flow.delete",
    ] {
        assert!(actions.contains(&expected), "{expected}: {actions:?}");
    }
}

/// POST a flow of `steps` for `module`; the status and the body.
async fn post_flow(app: &TestApp, key: &str, module: &str, steps: Value) -> (u16, Value) {
    json_of(
        app.call(
            Method::POST,
            "/api/v1/flows",
            key,
            Some(json!({
                "tenant_module_id": module,
                "name": "Test",
                "trigger": { "kind": "first_contact" },
                "steps": steps,
            })),
        )
        .await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_flows_are_refused_naming_the_step() {
    let app = spawn_app().await;
    let key = app.provision("Acme").await.1;
    let module = enable(&app, &key, "faq").await;

    // A reference to a step that does not exist.
    let mut dangling = menu_steps();
    dangling[3]["next"] = json!("menuu");
    let (status, error) = post_flow(&app, &key, &module, dangling).await;
    assert_eq!(status, 422, "{error}");
    let reason = error["error"]["fields"]["steps[3].next"].as_str().unwrap();
    assert!(
        reason.contains("'hours'") && reason.contains("'menuu'"),
        "{reason}"
    );

    // A cycle that never waits for the customer.
    let (status, error) = post_flow(
        &app,
        &key,
        &module,
        json!([
            { "id": "a", "kind": "text", "body": "a", "next": "b" },
            { "id": "b", "kind": "branch", "rules": [{ "keywords": ["x"], "to": "end" }], "default": "a" },
            { "id": "end", "kind": "end" }
        ]),
    )
    .await;
    assert_eq!(status, 422, "{error}");
    let reason = error["error"]["fields"]["steps[0]"].as_str().unwrap();
    assert!(reason.contains("a -> b -> a"), "{reason}");

    // The same loop through a waiting step is a menu: accepted.
    let (status, body) = post_flow(
        &app,
        &key,
        &module,
        json!([
            { "id": "a", "kind": "wait_reply", "body": "Say x", "next": "b" },
            { "id": "b", "kind": "branch", "rules": [{ "keywords": ["x"], "to": "end" }], "default": "a" },
            { "id": "end", "kind": "end" }
        ]),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let flow = body["id"].as_str().unwrap().to_owned();

    // Buttons past WhatsApp's limits.
    let mut four = menu_steps();
    four[1]["buttons"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "x", "title": "X" }));
    let (status, error) = post_flow(&app, &key, &module, four).await;
    assert_eq!(status, 422);
    assert!(
        error["error"]["fields"]["steps[1].buttons"].is_string(),
        "{error}"
    );
    let mut long = menu_steps();
    long[1]["buttons"][0]["title"] = json!("Book a visit with us!");
    let (status, error) = post_flow(&app, &key, &module, long).await;
    assert_eq!(status, 422);
    assert!(
        error["error"]["fields"]["steps[1].buttons[0].title"].is_string(),
        "{error}"
    );

    // Replacing the steps with a broken list changes nothing.
    let path = format!("/api/v1/flows/{flow}/steps");
    let (status, _) = json_of(
        app.call(
            Method::PUT,
            &path,
            &key,
            Some(json!({ "steps": [{ "id": "x", "kind": "text", "body": "x", "next": "x" }] })),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    let (_, unchanged) = json_of(
        app.call(Method::GET, &format!("/api/v1/flows/{flow}"), &key, None)
            .await,
    )
    .await;
    assert_eq!(unchanged["steps"][0]["id"], "a");

    // Odd input: the extractors' answers, and the flow-specific 422s.
    for (body, field) in [
        (
            json!({ "tenant_module_id": module, "name": "a\u{0}b", "trigger": { "kind": "first_contact" }, "steps": menu_steps() }),
            "body",
        ),
        (
            json!({ "tenant_module_id": module, "name": "x", "trigger": { "kind": "first_contact" }, "steps": menu_steps(), "extra": 1 }),
            "body",
        ),
        (
            json!({ "tenant_module_id": module, "name": " ", "trigger": { "kind": "first_contact" }, "steps": menu_steps() }),
            "name",
        ),
        (
            json!({ "tenant_module_id": module, "name": "x", "trigger": { "kind": "keywords" }, "steps": menu_steps() }),
            "trigger.keywords",
        ),
        (
            json!({ "tenant_module_id": "nope", "name": "x", "trigger": { "kind": "first_contact" }, "steps": menu_steps() }),
            "tenant_module_id",
        ),
        (
            json!({ "tenant_module_id": module, "name": "x", "trigger": { "kind": "first_contact" }, "steps": [] }),
            "steps",
        ),
        (
            json!({ "tenant_module_id": module, "name": "x", "trigger": { "kind": "first_contact" }, "steps": [{ "id": "e", "kind": "end", "position": 1e300 }] }),
            "body",
        ),
    ] {
        let (status, error) = json_of(
            app.call(Method::POST, "/api/v1/flows", &key, Some(body.clone()))
                .await,
        )
        .await;
        assert_eq!(status, 422, "{body}: {error}");
        assert!(
            error["error"]["fields"][field].is_string(),
            "{body}: {error}"
        );
    }
    let raw = |content_type: &'static str, body: &'static str| {
        app.client
            .post(app.url("/api/v1/flows"))
            .bearer_auth(&key)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(raw("text/plain", "{}").await.unwrap().status(), 415);
    assert_eq!(
        raw("application/json", "{\"steps\": [")
            .await
            .unwrap()
            .status(),
        400
    );
    let huge = "x".repeat(5 * 1024 * 1024);
    let too_big = app
        .client
        .post(app.url("/api/v1/flows"))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .body(format!("{{\"name\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_are_invisible_to_other_tenants_and_read_only_for_agents() {
    let app = spawn_app().await;
    let (a, a_agent) = app.admin_and_agent_keys("Acme").await;
    let b = app.provision("Other").await.1;
    let module = enable(&app, &a, "welcome").await;
    let b_module = enable(&app, &b, "welcome").await;
    let (status, created) = post_flow(&app, &a, &module, menu_steps()).await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/v1/flows/{id}");

    // Tenant B: not found, whatever it tries; A's flow is untouched.
    let settings =
        json!({ "name": "Mine", "trigger": { "kind": "first_contact" }, "is_active": true });
    for (method, path, body) in [
        (Method::GET, path.clone(), None),
        (Method::PUT, path.clone(), Some(settings.clone())),
        (
            Method::PUT,
            format!("{path}/steps"),
            Some(json!({ "steps": [{ "id": "e", "kind": "end" }] })),
        ),
        (Method::DELETE, path.clone(), None),
        (
            Method::GET,
            format!("/api/v1/tenant-modules/{module}/flows"),
            None,
        ),
    ] {
        let response = app.call(method.clone(), &path, &b, body).await;
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    // B cannot hang a flow on A's module either.
    let (status, error) = post_flow(&app, &b, &module, menu_steps()).await;
    assert_eq!(status, 422);
    assert!(error["error"]["fields"]["tenant_module_id"].is_string());
    let (_, theirs) = json_of(
        app.call(
            Method::GET,
            &format!("/api/v1/tenant-modules/{b_module}/flows"),
            &b,
            None,
        )
        .await,
    )
    .await;
    assert_eq!(theirs.as_array().unwrap().len(), 0);
    let (status, still) = json_of(app.call(Method::GET, &path, &a, None).await).await;
    assert_eq!((status, &still), (200, &created));

    // An agent of A reads, and may not write.
    assert_eq!(
        app.call(Method::GET, &path, &a_agent, None).await.status(),
        200
    );
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/flows".to_owned(),
            Some(
                json!({ "tenant_module_id": module, "name": "x", "trigger": { "kind": "first_contact" }, "steps": menu_steps() }),
            ),
        ),
        (Method::PUT, path.clone(), Some(settings.clone())),
        (
            Method::PUT,
            format!("{path}/steps"),
            Some(json!({ "steps": menu_steps() })),
        ),
        (Method::DELETE, path.clone(), None),
    ] {
        let response = app.call(method.clone(), &path, &a_agent, body).await;
        assert_eq!(response.status(), 403, "{method} {path}");
    }
    assert_eq!(app.count("SELECT count(*) FROM flows").await, 1);
}
