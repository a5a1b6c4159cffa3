//! Answers written by the LLM, end to end against the fake Gemini: the merged prompt on the
//! exact request body, one answer for messages sent in pieces, Google's refusals, the fallback
//! text and the monthly budget.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::gemini::{
    BlockKind, FAKE_GEMINI_API_KEY, FakeGemini, GeminiBlock, GeminiFailure,
};
use switchyard_shared::secrets::SecretString;
use switchyard_shared::shutdown::Shutdown;

use crate::helpers::*;

/// An app whose worker asks the fake Gemini, and a WhatsApp tenant (no welcome text) with a
/// business profile; the tenant's API key.
async fn app_with_gemini() -> (TestApp, FakeGemini, String) {
    let gemini = FakeGemini::start(SocketAddr::from(([127, 0, 0, 1], 0)), Shutdown::new())
        .await
        .unwrap();
    let api_base = gemini.api_base();
    let app = spawn_app_with(move |s| {
        s.gemini.api_base = api_base;
        s.gemini.api_key = Some(SecretString::new(FAKE_GEMINI_API_KEY));
    })
    .await;
    let (tenant, key) = app
        .tenant_with("Demo Dental", None, json!({ "name": "Demo Dental" }))
        .await;
    app.put_whatsapp(tenant, PHONE_NUMBER_ID, WABA_ID, None)
        .await;
    (app, gemini, key)
}

async fn say(app: &TestApp, wamid: &str, text: &str) {
    let event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", wamid, text);
    assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
}

fn sent_texts(app: &TestApp) -> Vec<String> {
    app.graph
        .sent()
        .iter()
        .map(|m| {
            m.body["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

async fn put_settings(app: &TestApp, key: &str, settings: Value) {
    let response = app
        .call(Method::PUT, "/api/v1/llm/settings", key, Some(settings))
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn usage_outcomes(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT outcome FROM llm_usage ORDER BY created_at")
        .fetch_all(&app.owner_pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_pieces_get_one_answer_from_the_merged_prompt() {
    let (app, gemini, key) = app_with_gemini().await;
    let global = app
        .admin_put(
            "/api/v1/prompts/global",
            &json!({ "sections": [
                { "section_key": "tone", "content": "Be brief." },
                { "section_key": "safety", "content": "Never give medical advice." },
            ]}),
        )
        .await;
    assert_eq!(global.status(), 200);
    let own = app
        .call(
            Method::PUT,
            "/api/v1/prompts",
            &key,
            Some(json!({ "sections": [
                { "section_key": "hours", "content": "Open Monday to Friday." },
                { "section_key": "tone", "content": "Be warm and brief." },
            ]})),
        )
        .await;
    assert_eq!(own.status(), 200);

    // Two messages typed in quick succession (Meta may batch them in one webhook).
    let mut event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.L1", "Hi!");
    let mut second = event["entry"][0]["changes"][0]["value"]["messages"][0].clone();
    second["id"] = json!("wamid.L2");
    second["text"]["body"] = json!("Are you open on Saturday?");
    event["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap()
        .push(second);
    assert_eq!(app.post_whatsapp(bytes(&event)).await.status(), 200);
    eventually("one answer", || async { app.graph.sent().len() == 1 }).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.graph.sent().len(), 1, "one answer for both messages");
    assert!(
        sent_texts(&app)[0].starts_with("(sandbox)"),
        "{:?}",
        sent_texts(&app)
    );

    let requests = gemini.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].model, "gemini-2.5-flash");
    let body = &requests[0].body;
    let system = body["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    // Global order, the tenant's override in the global's place, its own section after.
    let at = |text: &str| {
        system
            .find(text)
            .unwrap_or_else(|| panic!("{text} in {system}"))
    };
    assert!(at("Be warm and brief.") < at("Never give medical advice."));
    assert!(at("Never give medical advice.") < at("Open Monday to Friday."));
    assert!(at("Open Monday to Friday.") < at("Demo Dental"));
    assert!(!system.contains("Be brief."));
    // Both messages, as one customer turn.
    let contents = body["contents"].as_array().unwrap();
    assert_eq!(contents.len(), 1);
    assert_eq!(contents[0]["role"], "user");
    let said = contents[0]["parts"][0]["text"].as_str().unwrap();
    assert!(
        said.contains("Hi!") && said.contains("Are you open on Saturday?"),
        "{said}"
    );

    eventually("the usage recorded", || async {
        usage_outcomes(&app).await == ["ok"]
    })
    .await;
    assert!(
        app.count("SELECT coalesce(sum(total_tokens), 0)::bigint FROM llm_usage WHERE conversation_id IS NOT NULL")
            .await
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_waits_for_googles_delay_and_a_503_is_tried_again() {
    let (app, gemini, _) = app_with_gemini().await;
    gemini.fail_next(GeminiFailure {
        count: 1,
        status: 429,
        retry_delay: Some("0.3s".into()),
        per_day: false,
    });
    gemini.fail_next(GeminiFailure {
        count: 1,
        status: 503,
        retry_delay: None,
        per_day: false,
    });
    say(&app, "wamid.R1", "Hello?").await;
    eventually("the answer", || async { app.graph.sent().len() == 1 }).await;
    assert_eq!(gemini.requests().len(), 3);
    assert_eq!(usage_outcomes(&app).await, ["ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_prompt_gets_the_fallback_and_a_person() {
    let (app, gemini, key) = app_with_gemini().await;
    put_settings(
        &app,
        &key,
        json!({ "fallback_text": "A colleague will get back to you shortly." }),
    )
    .await;
    gemini.block_next(GeminiBlock {
        count: 1,
        kind: BlockKind::Prompt,
    });
    say(&app, "wamid.B1", "something the filter blocks").await;
    eventually("the fallback", || async { app.graph.sent().len() == 1 }).await;
    assert_eq!(
        sent_texts(&app),
        ["A colleague will get back to you shortly."]
    );
    let status: String = sqlx::query_scalar("SELECT status FROM conversation_states")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    assert_eq!(status, "handed_over");
    assert_eq!(usage_outcomes(&app).await, ["blocked"]);

    // Handed over: the next message is not answered by the bot.
    say(&app, "wamid.B2", "hello?").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.graph.sent().len(), 1);
    assert_eq!(gemini.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenants_model_is_asked_until_its_budget_is_spent_then_the_fallback_answers() {
    let (app, gemini, key) = app_with_gemini().await;
    put_settings(
        &app,
        &key,
        json!({
            "model": "gemini-2.5-pro",
            "monthly_token_budget": 1,
            "fallback_text": "Thanks! We will answer soon.",
        }),
    )
    .await;
    // The first answer spends more than the budget.
    say(&app, "wamid.M1", "First question").await;
    eventually("the first answer", || async { app.graph.sent().len() == 1 }).await;
    assert!(sent_texts(&app)[0].starts_with("(sandbox)"));
    say(&app, "wamid.M2", "Second question").await;
    eventually("the fallback", || async { app.graph.sent().len() == 2 }).await;
    assert_eq!(sent_texts(&app)[1], "Thanks! We will answer soon.");
    let requests = gemini.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].model, "gemini-2.5-pro",
        "the tenant's own model"
    );
    assert_eq!(usage_outcomes(&app).await, ["ok", "over_budget"]);
}
