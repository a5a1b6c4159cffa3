//! Admin API identities: API keys, logins, roles, impersonation, revocation.

use serde_json::{Value, json};

use crate::helpers::*;

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_key_manages_its_users_who_log_in_and_can_be_logged_out_everywhere() {
    let app = spawn_app().await;
    let (tenant, key) = app.provision("Acme").await;
    let created = app.call(reqwest::Method::POST,
        "/api/v1/users",
        &key,
        Some(json!({
            "email": "ana@acme.example", "password": "correct horse battery", "role": "tenant_admin"
        })),
    )
    .await;
    assert_eq!(created.status(), 201);

    let response = login(&app, "ANA@acme.example", "correct horse battery").await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    let jwt = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token["tenant_id"], tenant.as_str());

    let me: Value = app
        .call(reqwest::Method::GET, "/api/v1/me", &jwt, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "tenant_admin");
    assert_eq!(me["tenant_id"], tenant.as_str());

    // Log out everywhere: the token stops working at once; a new login works.
    let out = app
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/logout-everywhere",
            &jwt,
            None,
        )
        .await;
    assert_eq!(out.status(), 204);
    let stale = app
        .call(reqwest::Method::GET, "/api/v1/me", &jwt, None)
        .await;
    assert_eq!(stale.status(), 401);
    let again = login(&app, "ana@acme.example", "correct horse battery").await;
    assert_eq!(again.status(), 200);
    let fresh = again.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/tenant", &fresh, None)
            .await
            .status(),
        200
    );

    // The audit log recorded who did what.
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
    assert!(actions.contains(&"tenant.logout_everywhere"), "{actions:?}");
    assert!(actions.contains(&"user.create"));
    assert!(actions.contains(&"tenant.create"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_get_401_and_repeated_attempts_429() {
    let app = spawn_app().await;
    let (_, key) = app.provision("Acme").await;
    app.call(
        reqwest::Method::POST,
        "/api/v1/users",
        &key,
        Some(json!({
            "email": "bo@acme.example", "password": "a long enough password", "role": "agent"
        })),
    )
    .await;
    let wrong = login(&app, "bo@acme.example", "not the password").await;
    assert_eq!(wrong.status(), 401);
    let unknown = login(&app, "nobody@acme.example", "a long enough password").await;
    assert_eq!(unknown.status(), 401);
    let (a, b): (Value, Value) = (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(a["error"]["message"], b["error"]["message"]);
    // LOGIN_ATTEMPTS_PER_MINUTE is 5 in the tests; one was spent on this address above. The
    // other four go at once, so the quota cannot refill (one attempt per 12 s) on a slow run.
    let burst = futures_util::future::join_all(
        (0..4).map(|_| login(&app, "bo@acme.example", "not the password")),
    )
    .await;
    for response in burst {
        assert_eq!(response.status(), 401);
    }
    // On a loaded machine (password hashing is slow on purpose) a slot may refill meanwhile;
    // attempts still come faster than one per 12 s, so the limit is reached within a few.
    let mut limited = false;
    for _ in 0..4 {
        let attempt = login(&app, "bo@acme.example", "a long enough password").await;
        if attempt.status() == 429 {
            limited = true;
            break;
        }
        assert_eq!(
            attempt.status(),
            200,
            "only the right password gets through"
        );
    }
    assert!(limited, "repeated attempts were never limited");
    // Other addresses are not affected.
    assert_eq!(
        login(&app, "other@acme.example", "whatever password")
            .await
            .status(),
        401
    );
    for token in [
        "garbage",
        "sk_live_000000000000_nope",
        "eyJhbGciOiJIUzI1NiJ9.e30.x",
    ] {
        assert_eq!(
            app.call(reqwest::Method::GET, "/api/v1/me", token, None)
                .await
                .status(),
            401,
            "{token}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_impersonation_and_cross_tenant_ids() {
    let app = spawn_app().await;
    let (tenant_a, key_a) = app.provision("Alpha").await;
    let (tenant_b, key_b) = app.provision("Beta").await;

    // An agent key cannot do admin things.
    let agent: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/api-keys",
            &key_a,
            Some(json!({ "name": "support desk", "role": "agent" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let agent_key = agent["key"].as_str().unwrap();
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/api-keys", agent_key, None)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/tenant", agent_key, None)
            .await
            .status(),
        200
    );
    // Tenant credentials never reach platform endpoints or another tenant.
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/tenants", &key_a, None)
            .await
            .status(),
        403
    );
    let other = app
        .client
        .get(app.url("/api/v1/tenant"))
        .bearer_auth(&key_a)
        .header("X-Tenant-Id", &tenant_b)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);
    // Tenant A's key on tenant B's API key id: not found.
    let b_keys: Value = app
        .call(reqwest::Method::GET, "/api/v1/api-keys", &key_b, None)
        .await
        .json()
        .await
        .unwrap();
    let b_key_id = b_keys[0]["id"].as_str().unwrap();
    assert!(
        b_keys[0].get("key").is_none(),
        "a listed key never shows the secret"
    );
    let cross = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{b_key_id}"),
            &key_a,
            None,
        )
        .await;
    assert_eq!(cross.status(), 404);
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/tenant", &key_b, None)
            .await
            .status(),
        200
    );

    // A platform admin acts for a tenant with X-Tenant-Id.
    let acting = app
        .client
        .get(app.url("/api/v1/tenant"))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-Tenant-Id", &tenant_a)
        .send()
        .await
        .unwrap();
    assert_eq!(acting.status(), 200);
    assert_eq!(
        acting.json::<Value>().await.unwrap()["id"],
        tenant_a.as_str()
    );
    let without = app
        .call(reqwest::Method::GET, "/api/v1/tenant", ADMIN_TOKEN, None)
        .await;
    assert_eq!(without.status(), 400);

    // Revoking a key stops it at once.
    let revoked = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/api-keys/{b_key_id}"),
            &key_b,
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/tenant", &key_b, None)
            .await
            .status(),
        401
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_derives_unique_slugs_and_ensure_is_idempotent() {
    let app = spawn_app().await;
    let first: Value = app
        .admin_post("/api/v1/tenants", &json!({ "name": "Acme" }))
        .await
        .json()
        .await
        .unwrap();
    let second: Value = app
        .admin_post("/api/v1/tenants", &json!({ "name": "ACME!" }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (first["slug"].as_str(), second["slug"].as_str()),
        (Some("acme"), Some("acme-2"))
    );

    let ensure = json!({ "external_org_id": "org_123", "name": "Acme" });
    let created = app.admin_post("/api/v1/tenants/ensure", &ensure).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert!(created["api_key"]["key"].is_string());
    let again = app.admin_post("/api/v1/tenants/ensure", &ensure).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["tenant"]["id"], created["tenant"]["id"]);
    assert!(again["api_key"].is_null());

    let page: Value = app
        .admin_get("/api/v1/tenants?limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["tenants"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap();
    let rest: Value = app
        .admin_get(&format!("/api/v1/tenants?after={next}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["tenants"].as_array().unwrap().len(), 1);
    assert!(rest["tenants"][0]["messages"].is_number());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_are_updated_suspended_and_reactivated() {
    let app = spawn_app().await;
    let (tenant, key) = app.provision("Acme").await;
    let patched = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/tenant",
            &key,
            Some(json!({ "welcome_text": "Hello!", "plan": "pro" })),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!(
        (patched["welcome_text"].as_str(), patched["plan"].as_str()),
        (Some("Hello!"), Some("pro"))
    );
    let cleared: Value = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/tenant",
            &key,
            Some(json!({ "welcome_text": null })),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(cleared["welcome_text"].is_null());
    assert_eq!(cleared["plan"], "pro");
    let invalid = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/tenant",
            &key,
            Some(json!({ "rate_limit_per_minute": 0, "metadata": [] })),
        )
        .await;
    assert_eq!(invalid.status(), 422);
    let error: Value = invalid.json().await.unwrap();
    assert!(error["error"]["fields"]["rate_limit_per_minute"].is_string());
    assert!(error["error"]["fields"]["metadata"].is_string());

    let suspended: Value = app
        .admin_post(&format!("/api/v1/tenants/{tenant}/suspend"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(suspended["status"], "suspended");
    let active: Value = app
        .admin_post(&format!("/api/v1/tenants/{tenant}/reactivate"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active["status"], "active");
    // Only platform admins suspend.
    let refused = app
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/tenants/{tenant}/suspend"),
            &key,
            None,
        )
        .await;
    assert_eq!(refused.status(), 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_tenants_webhooks_are_kept_and_processed_after_reactivation() {
    let app = spawn_app().await;
    let tenant = app.fixture_tenant().await;
    let suspended = app
        .admin_post(&format!("/api/v1/tenants/{tenant}/suspend"), &json!({}))
        .await;
    assert_eq!(suspended.status(), 200);

    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the event held", || async {
        app.count("SELECT count(*) FROM held_events").await == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.count("SELECT count(*) FROM messages").await, 0);
    assert!(app.graph.sent().is_empty());

    let reactivated: Value = app
        .admin_post(&format!("/api/v1/tenants/{tenant}/reactivate"), &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reactivated["status"], "active");
    assert_eq!(reactivated["released_events"], 1);
    eventually("the held message processed", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == 1
    })
    .await;
    eventually("the welcome sent", || async { app.graph.sent().len() == 1 }).await;
    assert_eq!(app.count("SELECT count(*) FROM held_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_platform_admin_is_created_from_the_shell_and_logs_in() {
    let app = spawn_app().await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["create-platform-admin", "--email", "ops@example.com"])
        .env("PLATFORM_ADMIN_PASSWORD", "operator password 1")
        .env("DATABASE_URL", app.settings.database.url.expose())
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let response = login(&app, "ops@example.com", "operator password 1").await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert!(token["tenant_id"].is_null());
    let jwt = token["access_token"].as_str().unwrap();
    let created = app
        .call(
            reqwest::Method::POST,
            "/api/v1/tenants",
            jwt,
            Some(json!({ "name": "Via login" })),
        )
        .await;
    assert_eq!(created.status(), 201);
    // The audit log names the user, not the bootstrap token.
    let log: Value = app
        .admin_get("/api/v1/platform/audit-log")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        log[0]["actor"].as_str().unwrap().starts_with("user:"),
        "{log}"
    );

    let short = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["create-platform-admin", "--email", "x@example.com"])
        .env("PLATFORM_ADMIN_PASSWORD", "short")
        .env("DATABASE_URL", app.settings.database.url.expose())
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(!short.status.success());
}

/// Every admin endpoint: 401 without credentials; 403 for a role below the one it needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_missing_credentials_and_low_roles() {
    let app = spawn_app().await;
    let (tenant, key) = app.provision("Acme").await;
    let agent: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/api-keys",
            &key,
            Some(json!({ "name": "desk", "role": "agent" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let agent = agent["key"].as_str().unwrap().to_owned();
    let id = uuid::Uuid::now_v7();
    use reqwest::Method as M;
    // (method, path, the lowest role allowed: "agent" | "tenant_admin" | "platform_admin")
    let endpoints: Vec<(M, String, &str)> = vec![
        (
            M::POST,
            "/api/v1/auth/logout-everywhere".into(),
            "tenant_admin",
        ),
        (M::GET, "/api/v1/me".into(), "agent"),
        (M::POST, "/api/v1/users".into(), "tenant_admin"),
        (M::GET, "/api/v1/users".into(), "tenant_admin"),
        (M::POST, "/api/v1/api-keys".into(), "tenant_admin"),
        (M::GET, "/api/v1/api-keys".into(), "tenant_admin"),
        (M::DELETE, format!("/api/v1/api-keys/{id}"), "tenant_admin"),
        (M::POST, "/api/v1/contacts".into(), "agent"),
        (M::GET, "/api/v1/contacts".into(), "agent"),
        (M::GET, format!("/api/v1/contacts/{id}"), "agent"),
        (M::PATCH, format!("/api/v1/contacts/{id}"), "agent"),
        (M::DELETE, format!("/api/v1/contacts/{id}"), "tenant_admin"),
        (M::GET, "/api/v1/conversations".into(), "agent"),
        (M::GET, "/api/v1/messages".into(), "agent"),
        (M::POST, "/api/v1/vault".into(), "tenant_admin"),
        (M::GET, "/api/v1/vault".into(), "agent"),
        (M::PUT, format!("/api/v1/vault/{id}"), "tenant_admin"),
        (
            M::POST,
            format!("/api/v1/vault/{id}/reveal"),
            "tenant_admin",
        ),
        (M::DELETE, format!("/api/v1/vault/{id}"), "tenant_admin"),
        (M::GET, "/api/v1/tenant".into(), "agent"),
        (M::PATCH, "/api/v1/tenant".into(), "tenant_admin"),
        (M::PUT, "/api/v1/channels/whatsapp".into(), "tenant_admin"),
        (
            M::DELETE,
            "/api/v1/channels/whatsapp".into(),
            "tenant_admin",
        ),
        (
            M::POST,
            "/api/v1/channels/whatsapp/embedded-signup".into(),
            "tenant_admin",
        ),
        (M::PUT, "/api/v1/channels/sms".into(), "tenant_admin"),
        (M::DELETE, "/api/v1/channels/sms".into(), "tenant_admin"),
        (
            M::POST,
            "/api/v1/channels/sms/reveal".into(),
            "tenant_admin",
        ),
        (
            M::POST,
            "/api/v1/channels/sms/activate".into(),
            "tenant_admin",
        ),
        (
            M::POST,
            "/api/v1/channels/sms/deactivate".into(),
            "tenant_admin",
        ),
        (M::POST, "/api/v1/tenants".into(), "platform_admin"),
        (M::GET, "/api/v1/tenants".into(), "platform_admin"),
        (M::POST, "/api/v1/tenants/ensure".into(), "platform_admin"),
        (
            M::GET,
            format!("/api/v1/tenants/{tenant}"),
            "platform_admin",
        ),
        (
            M::PATCH,
            format!("/api/v1/tenants/{tenant}"),
            "platform_admin",
        ),
        (
            M::DELETE,
            format!("/api/v1/tenants/{tenant}"),
            "platform_admin",
        ),
        (
            M::POST,
            format!("/api/v1/tenants/{tenant}/suspend"),
            "platform_admin",
        ),
        (
            M::POST,
            format!("/api/v1/tenants/{tenant}/reactivate"),
            "platform_admin",
        ),
        (
            M::GET,
            format!("/api/v1/tenants/{tenant}/channels/whatsapp"),
            "platform_admin",
        ),
        (
            M::PUT,
            format!("/api/v1/tenants/{tenant}/channels/whatsapp"),
            "platform_admin",
        ),
        (
            M::GET,
            "/api/v1/platform/audit-log".into(),
            "platform_admin",
        ),
        (
            M::GET,
            "/api/v1/platform/channel-stats".into(),
            "platform_admin",
        ),
    ];
    for (method, path, needs) in endpoints {
        let anonymous = app
            .client
            .request(method.clone(), app.url(&path))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            401,
            "{method} {path} without credentials"
        );
        let too_low: &[&str] = match needs {
            "tenant_admin" => &[agent.as_str()],
            "platform_admin" => &[agent.as_str(), key.as_str()],
            _ => &[],
        };
        for token in too_low {
            let refused = app
                .call(method.clone(), &path, token, Some(json!({})))
                .await;
            assert_eq!(refused.status(), 403, "{method} {path} with a lower role");
        }
    }
}
