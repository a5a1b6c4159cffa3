//! A tenant's LLM settings (round trip, refusals) and the monthly usage report with its
//! budget, from usage recorded through the repository as the engine records it.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_shared::db::llm_usage::{self, Usage, UsageOutcome};
use switchyard_shared::db::{TenantTx, contacts, conversations};
use switchyard_shared::domain::{Channel, E164Number, ModelName, Month, TenantId};

use crate::helpers::*;
use crate::prompts::{audit_actions, json_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_settings_round_trip_and_refuse_bad_values() {
    let app = spawn_app().await;
    let (admin, agent) = app.admin_and_agent_keys("Clinic").await;
    let get = || app.call(Method::GET, "/api/v1/llm/settings", &agent, None);
    let put = |body: Value| app.call(Method::PUT, "/api/v1/llm/settings", &admin, Some(body));

    let defaults = json_of(get().await, 200).await;
    assert_eq!(
        defaults,
        json!({
            "model": null, "monthly_token_budget": null, "fallback_text": null,
            "llm_enabled": true, "updated_at": null
        })
    );
    let saved = json_of(
        put(json!({
            "model": "gemini-2.5-flash",
            "monthly_token_budget": 250000,
            "fallback_text": "Thanks! A colleague will answer shortly. 🦷",
            "llm_enabled": false
        }))
        .await,
        200,
    )
    .await;
    assert_eq!(saved["model"], "gemini-2.5-flash");
    assert_eq!(saved["monthly_token_budget"], 250000);
    assert_eq!(saved["llm_enabled"], false);
    assert!(saved["updated_at"].is_string());
    assert_eq!(json_of(get().await, 200).await, saved);

    // PUT replaces: what is absent goes back to its default.
    let replaced = json_of(put(json!({ "monthly_token_budget": 0 })).await, 200).await;
    assert_eq!(
        (
            &replaced["model"],
            &replaced["monthly_token_budget"],
            &replaced["fallback_text"],
            &replaced["llm_enabled"]
        ),
        (&Value::Null, &json!(0), &Value::Null, &json!(true))
    );
    assert_eq!(audit_actions(&app, "llm.settings.replace").await, 2);

    let refused = app
        .call(
            Method::PUT,
            "/api/v1/llm/settings",
            &agent,
            Some(json!({ "llm_enabled": false })),
        )
        .await;
    assert_eq!(refused.status(), 403);

    for (body, field) in [
        (json!({ "model": "Gemini Pro" }), "model"),
        (json!({ "model": "" }), "model"),
        (json!({ "model": "m".repeat(65) }), "model"),
        (
            json!({ "monthly_token_budget": -1 }),
            "monthly_token_budget",
        ),
        (
            json!({ "monthly_token_budget": 1_000_000_000_001_i64 }),
            "monthly_token_budget",
        ),
        (
            json!({ "fallback_text": "x".repeat(4097) }),
            "fallback_text",
        ),
        (json!({ "fallback_text": " \n\t " }), "fallback_text"),
    ] {
        let answer = json_of(put(body.clone()).await, 422).await;
        assert!(
            answer["error"]["fields"][field].is_string(),
            "{body}: {answer}"
        );
    }
    for raw in [
        r#"{"monthly_token_budget": 1e30}"#,
        r#"{"monthly_token_budget": 99999999999999999999999}"#,
        r#"{"monthly_token_budget": 1.5}"#,
        r#"{"llm_enabled": "yes"}"#,
        r#"{"temperature": 2}"#,
        r#"{"fallback_text": "\u0000"}"#,
    ] {
        let response = app
            .client
            .put(app.url("/api/v1/llm/settings"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{raw}");
    }
    // Nothing refused was stored.
    assert_eq!(json_of(get().await, 200).await, replaced);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorded_usage_shows_in_the_monthly_report_and_the_budget() {
    let app = spawn_app().await;
    let (tenant, admin) = app.provision("Clinic").await;
    let tenant: TenantId = tenant.parse().unwrap();
    let (_, other) = app.provision("Other").await;
    let put = app
        .call(
            Method::PUT,
            "/api/v1/llm/settings",
            &admin,
            Some(json!({ "monthly_token_budget": 1000 })),
        )
        .await;
    assert_eq!(put.status(), 200);

    let model = ModelName::parse("gemini-2.5-flash").unwrap();
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let phone = E164Number::parse("+15550001111").unwrap();
    let (contact, _) = contacts::upsert_phone(&mut tx, &phone).await.unwrap();
    let conversation = conversations::upsert(&mut tx, contact, Channel::Sms, None)
        .await
        .unwrap();
    let before = llm_usage::budget_check(&mut tx).await.unwrap();
    assert_eq!(
        (before.budget, before.used, before.remaining),
        (Some(1000), 0, Some(1000))
    );
    assert!(before.allows_call());
    for (conversation_id, prompt, output, total, outcome) in [
        (Some(conversation), 300, 100, 420, UsageOutcome::Ok),
        (Some(conversation), 200, 150, 350, UsageOutcome::Ok),
        (None, 120, 0, 120, UsageOutcome::Blocked),
        (Some(conversation), 0, 0, 0, UsageOutcome::Failed),
    ] {
        let usage = Usage {
            conversation_id,
            model: model.clone(),
            prompt_tokens: prompt,
            output_tokens: output,
            total_tokens: total,
            outcome,
        };
        llm_usage::record_usage(&mut tx, &usage).await.unwrap();
    }
    assert_eq!(
        llm_usage::conversation_total(&mut tx, conversation)
            .await
            .unwrap(),
        770
    );
    assert_eq!(
        llm_usage::month_total(&mut tx, Month::current())
            .await
            .unwrap(),
        890
    );
    let after = llm_usage::budget_check(&mut tx).await.unwrap();
    assert_eq!((after.used, after.remaining), (890, Some(110)));
    // The next call may run, and may overshoot; the budget then shows nothing left.
    let overshoot = Usage {
        conversation_id: Some(conversation),
        model: model.clone(),
        prompt_tokens: 250,
        output_tokens: 60,
        total_tokens: 310,
        outcome: UsageOutcome::Ok,
    };
    llm_usage::record_usage(&mut tx, &overshoot).await.unwrap();
    let spent = llm_usage::budget_check(&mut tx).await.unwrap();
    assert_eq!((spent.used, spent.remaining), (1200, Some(0)));
    assert!(!spent.allows_call());
    let refused = Usage {
        total_tokens: 0,
        prompt_tokens: 0,
        output_tokens: 0,
        outcome: UsageOutcome::OverBudget,
        ..overshoot
    };
    llm_usage::record_usage(&mut tx, &refused).await.unwrap();
    tx.commit().await.unwrap();
    // Last month's use does not count against this month.
    let last_month = Month::of(Month::current().start() - chrono::Duration::days(1));
    sqlx::query(
        "INSERT INTO llm_usage (id, tenant_id, model, prompt_tokens, output_tokens, \
           total_tokens, outcome, created_at) \
         VALUES ($1, $2, 'gemini-2.5-flash', 5000, 5000, 10000, 'ok', $3)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(tenant.as_uuid())
    .bind(last_month.start() + chrono::Duration::hours(1))
    .execute(&app.owner_pool)
    .await
    .unwrap();

    let report = json_of(
        app.call(Method::GET, "/api/v1/llm/usage", &admin, None)
            .await,
        200,
    )
    .await;
    assert_eq!(report["month"], Month::current().to_string());
    assert_eq!(
        report["totals"],
        json!({ "calls": 6, "prompt_tokens": 870, "output_tokens": 310, "total_tokens": 1200 })
    );
    assert_eq!(report["by_outcome"]["ok"]["calls"], 3);
    assert_eq!(report["by_outcome"]["ok"]["total_tokens"], 1080);
    assert_eq!(report["by_outcome"]["blocked"]["total_tokens"], 120);
    assert_eq!(report["by_outcome"]["failed"]["calls"], 1);
    assert_eq!(report["by_outcome"]["over_budget"]["calls"], 1);
    assert_eq!(
        report["budget"],
        json!({ "budget": 1000, "used": 1200, "remaining": 0 })
    );

    let earlier = json_of(
        app.call(
            Method::GET,
            &format!("/api/v1/llm/usage?month={last_month}"),
            &admin,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(earlier["totals"]["total_tokens"], 10000);
    assert_eq!(earlier["budget"]["remaining"], 0);
    let quiet = json_of(
        app.call(Method::GET, "/api/v1/llm/usage?month=2001-01", &admin, None)
            .await,
        200,
    )
    .await;
    assert_eq!(quiet["totals"]["calls"], 0);
    assert_eq!(quiet["by_outcome"]["blocked"]["calls"], 0);
    for bad in [
        "2026-13",
        "2026-1",
        "1999-12",
        "november",
        "2026-11%00",
        "%F0%9F%A6%B7",
    ] {
        let response = app
            .call(
                Method::GET,
                &format!("/api/v1/llm/usage?month={bad}"),
                &admin,
                None,
            )
            .await;
        assert_eq!(response.status(), 422, "{bad}");
    }

    // Another tenant sees none of it, and has no budget.
    let theirs = json_of(
        app.call(Method::GET, "/api/v1/llm/usage", &other, None)
            .await,
        200,
    )
    .await;
    assert_eq!(theirs["totals"]["calls"], 0);
    assert_eq!(
        theirs["budget"],
        json!({ "budget": null, "used": 0, "remaining": null })
    );

    // Deleting the conversation keeps its usage on record.
    sqlx::query("DELETE FROM conversations WHERE id = $1")
        .bind(conversation)
        .execute(&app.owner_pool)
        .await
        .unwrap();
    let kept = json_of(
        app.call(Method::GET, "/api/v1/llm/usage", &admin, None)
            .await,
        200,
    )
    .await;
    assert_eq!(kept["totals"]["total_tokens"], 1200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_for_a_deleted_tenant_is_404() {
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
            "/api/v1/prompts",
            json!({ "sections": [{ "section_key": "tone", "content": "x" }] }),
        ),
        ("/api/v1/llm/settings", json!({ "llm_enabled": false })),
    ] {
        let response = app
            .client
            .put(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("x-tenant-id", &tenant)
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = json_of(response, 404).await;
        assert_eq!(error["error"]["message"], "no such tenant", "{path}");
    }
}
