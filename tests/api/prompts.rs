//! Prompt bundles: the global one (platform admins only), a tenant's own, the merge the LLM
//! gets, isolation between tenants, and refusals with reasons.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_shared::db::TenantTx;
use switchyard_shared::domain::TenantId;

use crate::helpers::*;

fn bundle(pairs: &[(&str, &str)]) -> Value {
    json!({
        "sections": pairs.iter()
            .map(|(k, c)| json!({ "section_key": k, "content": c }))
            .collect::<Vec<_>>()
    })
}

/// `(section_key, content)` of a bundle answer, in order.
fn pairs(body: &Value) -> Vec<(String, String)> {
    body["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["section_key"].as_str().unwrap().to_owned(),
                s["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, c)| ((*k).to_owned(), (*c).to_owned()))
        .collect()
}

pub async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{body}");
    body
}

pub async fn audit_actions(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(&app.owner_pool)
        .await
        .unwrap()
}

const GLOBAL: [(&str, &str); 3] = [
    ("role", "You are the front desk of a dental clinic."),
    ("tone", "Be formal."),
    ("safety", "Never give medical advice."),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_platform_admin_writes_the_global_bundle() {
    let app = spawn_app().await;
    let (admin, agent) = app.admin_and_agent_keys("Clinic").await;

    let empty = json_of(app.admin_get("/api/v1/prompts/global").await, 200).await;
    assert!(pairs(&empty).is_empty());
    let stored = json_of(
        app.admin_put("/api/v1/prompts/global", &bundle(&GLOBAL))
            .await,
        200,
    )
    .await;
    assert_eq!(pairs(&stored), owned(&GLOBAL));
    assert!(stored["sections"][0]["updated_at"].is_string());

    for key in [&admin, &agent] {
        let refused = app
            .call(
                Method::PUT,
                "/api/v1/prompts/global",
                key,
                Some(bundle(&[("role", "Obey me.")])),
            )
            .await;
        let body = json_of(refused, 403).await;
        assert_eq!(body["error"]["code"], "forbidden");
        // Tenants read the bundle they inherit.
        let read = json_of(
            app.call(Method::GET, "/api/v1/prompts/global", key, None)
                .await,
            200,
        )
        .await;
        assert_eq!(pairs(&read), owned(&GLOBAL));
    }
    // The runtime role cannot write a global row inside a tenant's transaction either.
    let tenant: TenantId = app.provision("Sneaky").await.0.parse().unwrap();
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let forged = sqlx::query(
        "INSERT INTO prompt_sections (id, tenant_id, section_key, position, content) \
         VALUES ($1, NULL, 'x', 1, 'forged')",
    )
    .bind(uuid::Uuid::now_v7())
    .execute(tx.conn())
    .await;
    let code = forged
        .unwrap_err()
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("42501"));
    tx.rollback().await.unwrap();
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    for sql in [
        "UPDATE prompt_sections SET content = 'changed' WHERE tenant_id IS NULL",
        "DELETE FROM prompt_sections WHERE tenant_id IS NULL",
    ] {
        let done = sqlx::query(sql).execute(tx.conn()).await.unwrap();
        assert_eq!(done.rows_affected(), 0, "{sql}");
    }
    tx.commit().await.unwrap();

    // Replacing reorders, changes and drops sections.
    let reordered = json_of(
        app.admin_put(
            "/api/v1/prompts/global",
            &bundle(&[("safety", GLOBAL[2].1), ("role", "You answer calls.")]),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        pairs(&reordered),
        owned(&[("safety", GLOBAL[2].1), ("role", "You answer calls.")])
    );
    assert_eq!(audit_actions(&app, "prompts.global.replace").await, 2);
    let emptied = json_of(
        app.admin_put("/api/v1/prompts/global", &bundle(&[])).await,
        200,
    )
    .await;
    assert!(pairs(&emptied).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_bundle_round_trips_and_merges_into_the_effective_prompt() {
    let app = spawn_app().await;
    let (tenant, _) = app.provision("Clinic").await;
    let (admin, agent) = app.admin_and_agent_keys("Other Clinic").await;
    app.admin_put("/api/v1/prompts/global", &bundle(&GLOBAL))
        .await;

    let own = [
        ("hours", "Mon-Fri 9-17."),
        ("tone", "Be warm and brief."),
        ("faq.parking", "Free parking behind the building."),
    ];
    let stored = json_of(
        app.call(Method::PUT, "/api/v1/prompts", &admin, Some(bundle(&own)))
            .await,
        200,
    )
    .await;
    assert_eq!(pairs(&stored), owned(&own));
    let read = json_of(
        app.call(Method::GET, "/api/v1/prompts", &agent, None).await,
        200,
    )
    .await;
    assert_eq!(read, stored);
    let refused = app
        .call(Method::PUT, "/api/v1/prompts", &agent, Some(bundle(&own)))
        .await;
    assert_eq!(refused.status(), 403);

    // The tenant's "tone" takes the global's second place; its own sections follow in its
    // order.
    let effective = json_of(
        app.call(Method::GET, "/api/v1/prompts/effective", &agent, None)
            .await,
        200,
    )
    .await;
    let merged: Vec<(&str, &str)> = effective["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["section_key"].as_str().unwrap(),
                s["source"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        merged,
        [
            ("role", "global"),
            ("tone", "tenant"),
            ("safety", "global"),
            ("hours", "tenant"),
            ("faq.parking", "tenant"),
        ]
    );
    assert_eq!(effective["sections"][1]["content"], "Be warm and brief.");

    // An empty override hides the global section; an unchanged section keeps its time.
    let hidden = json_of(
        app.call(
            Method::PUT,
            "/api/v1/prompts",
            &admin,
            Some(bundle(&[own[0], ("safety", "")])),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        hidden["sections"][0]["updated_at"],
        stored["sections"][0]["updated_at"]
    );
    let effective = json_of(
        app.call(Method::GET, "/api/v1/prompts/effective", &admin, None)
            .await,
        200,
    )
    .await;
    let keys: Vec<&str> = effective["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["section_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["role", "tone", "hours"]);
    assert_eq!(effective["sections"][1]["source"], "global");
    assert_eq!(audit_actions(&app, "prompts.replace").await, 2);

    // A platform admin acts on a tenant named with X-Tenant-Id, and must name one.
    let none = app
        .client
        .get(app.url("/api/v1/prompts"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 400);
    let put = app
        .client
        .put(app.url("/api/v1/prompts"))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-Tenant-Id", &tenant)
        .json(&bundle(&[("tone", "Be cheerful.")]))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let theirs = app
        .client
        .get(app.url("/api/v1/prompts/effective"))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-Tenant-Id", &tenant)
        .send()
        .await
        .unwrap();
    let theirs = json_of(theirs, 200).await;
    assert_eq!(theirs["sections"][1]["content"], "Be cheerful.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_never_see_each_others_sections() {
    let app = spawn_app().await;
    let (a_id, a) = app.provision("Alpha").await;
    let (b_id, b) = app.provision("Beta").await;
    app.admin_put("/api/v1/prompts/global", &bundle(&[("role", "You help.")]))
        .await;
    let put = app
        .call(
            Method::PUT,
            "/api/v1/prompts",
            &a,
            Some(bundle(&[
                ("role", "Alpha's secret role."),
                ("promo", "Alpha promo"),
            ])),
        )
        .await;
    assert_eq!(put.status(), 200);

    let own = json_of(
        app.call(Method::GET, "/api/v1/prompts", &b, None).await,
        200,
    )
    .await;
    assert!(pairs(&own).is_empty());
    let effective = json_of(
        app.call(Method::GET, "/api/v1/prompts/effective", &b, None)
            .await,
        200,
    )
    .await;
    assert_eq!(pairs(&effective), owned(&[("role", "You help.")]));
    assert_eq!(effective["sections"][0]["source"], "global");
    // B's key cannot name A's tenant.
    let crossed = app
        .client
        .get(app.url("/api/v1/prompts"))
        .bearer_auth(&b)
        .header("X-Tenant-Id", &a_id)
        .send()
        .await
        .unwrap();
    assert_eq!(crossed.status(), 403);
    // B replacing its bundle leaves A's alone.
    app.call(
        Method::PUT,
        "/api/v1/prompts",
        &b,
        Some(bundle(&[("promo", "Beta promo")])),
    )
    .await;
    let a_own = json_of(
        app.call(Method::GET, "/api/v1/prompts", &a, None).await,
        200,
    )
    .await;
    assert_eq!(pairs(&a_own).len(), 2);

    // In the database: B's transaction sees the global rows and its own, never A's.
    let b_tenant: TenantId = b_id.parse().unwrap();
    let mut tx = TenantTx::begin(&app.pool, b_tenant).await.unwrap();
    let visible: Vec<(Option<uuid::Uuid>, String)> =
        sqlx::query_as("SELECT tenant_id, content FROM prompt_sections ORDER BY content")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        visible,
        [
            (Some(b_tenant.as_uuid()), "Beta promo".to_owned()),
            (None, "You help.".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_with_bad_sections_are_refused_with_reasons() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_agent_keys("Clinic").await;
    let put = |body: Value| app.call(Method::PUT, "/api/v1/prompts", &admin, Some(body));

    let refused = json_of(
        put(bundle(&[
            ("tone", "a"),
            ("", "b"),
            ("tone", "c"),
            ("Bad Key", "d"),
        ]))
        .await,
        422,
    )
    .await;
    let fields = refused["error"]["fields"].as_object().unwrap();
    let mut named: Vec<&str> = fields.keys().map(String::as_str).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        [
            "sections[1].section_key",
            "sections[2].section_key",
            "sections[3].section_key"
        ]
    );
    assert!(
        fields["sections[2].section_key"]
            .as_str()
            .unwrap()
            .contains("section 0")
    );

    let oversize = "é".repeat(16 * 1024 + 1);
    let refused = json_of(put(bundle(&[("big", &oversize)])).await, 422).await;
    assert!(refused["error"]["fields"]["sections[0].content"].is_string());
    let exact = "x".repeat(32 * 1024);
    assert_eq!(put(bundle(&[("big", &exact)])).await.status(), 200);

    let many: Vec<Value> = (0..101)
        .map(|i| json!({ "section_key": format!("s{i}"), "content": "x" }))
        .collect();
    let refused = json_of(put(json!({ "sections": many })).await, 422).await;
    assert!(refused["error"]["fields"]["sections"].is_string());

    for body in [
        json!({}),
        json!({ "sections": "tone" }),
        json!({ "sections": [{ "section_key": "tone" }] }),
        json!({ "sections": [{ "section_key": "tone", "content": "x", "extra": 1 }] }),
        json!({ "sections": [], "more": true }),
        json!({ "sections": [{ "section_key": 7, "content": "x" }] }),
    ] {
        let response = put(body.clone()).await;
        assert_eq!(response.status(), 422, "{body}");
    }
    let nul = app
        .client
        .put(app.url("/api/v1/prompts"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(r#"{"sections": [{"section_key": "tone", "content": "a\u0000b"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(nul.status(), 422);
    let text = app
        .client
        .put(app.url("/api/v1/prompts"))
        .bearer_auth(&admin)
        .body("sections")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    // Nothing refused was stored.
    let own = json_of(
        app.call(Method::GET, "/api/v1/prompts", &admin, None).await,
        200,
    )
    .await;
    assert_eq!(pairs(&own), vec![("big".to_owned(), exact)]);
}
