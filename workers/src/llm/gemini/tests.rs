//! The client against a scripted server: what it sends, when it tries again, and what it
//! gives up with.

use std::time::Instant;

use serde_json::{Value, json};

use super::*;
use crate::llm::prompt::{GenerationSettings, Role, Turn, build_request};
use crate::llm::response::{FinishReason, TokenUsage};
use crate::llm::scripted_server::{Scripted, ScriptedServer};

const SUCCESS: &str = include_str!("../../../../tests/fixtures/gemini/generate_response.json");
const BLOCKED: &str =
    include_str!("../../../../tests/fixtures/gemini/generate_response_blocked_prompt.json");
const OVERLOADED: &str = include_str!("../../../../tests/fixtures/gemini/error_503.json");
const KEY: &str = "test-gemini-key";

fn config(base: &str) -> GeminiConfig {
    GeminiConfig {
        api_base: format!("{base}/v1beta/"),
        api_key: Some(SecretString::new(KEY)),
        model: "gemini-2.5-flash".into(),
        timeout_ms: 2000,
        max_attempts: 3,
        retry_base_ms: 10,
        max_retry_delay_ms: 30_000,
    }
}

fn client(server: &ScriptedServer) -> GeminiClient {
    GeminiClient::new(reqwest::Client::new(), &config(&server.base))
}

fn request() -> GenerateContentRequest {
    let history = [Turn {
        role: Role::Customer,
        text: "Are you open on Saturday?".into(),
    }];
    build_request(
        &[],
        &json!({"name": "Fake Bakery"}),
        &history,
        &GenerationSettings::default(),
    )
}

fn rate_limited(retry_delay: &str, quota_id: &str) -> String {
    json!({"error": {
        "code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaId": quota_id}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        ]
    }})
    .to_string()
}

async fn generate(client: &GeminiClient) -> Result<Generated, LlmError> {
    client.generate("gemini-2.5-flash", &request()).await
}

#[tokio::test]
async fn posts_the_request_with_the_key_and_reads_the_reply() {
    let server = ScriptedServer::start(vec![Scripted::new(200, SUCCESS)]).await;
    let generated = generate(&client(&server)).await.unwrap();
    assert!(generated.text.starts_with("Absolutely!"));
    assert_eq!(generated.usage.total_tokens, 89);

    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].request_line,
        "POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1"
    );
    assert!(
        received[0]
            .headers
            .contains(&format!("x-goog-api-key: {KEY}\r\n"))
    );
    assert!(
        received[0]
            .headers
            .contains("content-type: application/json")
    );
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body, serde_json::to_value(request()).unwrap());
}

#[tokio::test]
async fn a_429_waits_for_the_retry_delay_google_asked_for() {
    let server = ScriptedServer::start(vec![
        Scripted::new(
            429,
            rate_limited("0.3s", "GenerateRequestsPerMinutePerProjectPerModel"),
        ),
        Scripted::new(200, SUCCESS),
    ])
    .await;
    let started = Instant::now();
    let generated = generate(&client(&server)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(generated.finish_reason, FinishReason::Stop);
    assert_eq!(server.received().len(), 2);
}

#[tokio::test]
async fn a_long_retry_delay_is_capped() {
    let server = ScriptedServer::start(vec![
        Scripted::new(
            429,
            rate_limited("3600s", "GenerateRequestsPerMinutePerProjectPerModel"),
        ),
        Scripted::new(200, SUCCESS),
    ])
    .await;
    let client = GeminiClient::new(
        reqwest::Client::new(),
        &GeminiConfig {
            max_retry_delay_ms: 200,
            ..config(&server.base)
        },
    );
    let started = Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(20), generate(&client)).await;
    assert!(answer.unwrap().is_ok());
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_per_day_quota_is_not_retried() {
    let server = ScriptedServer::start(vec![
        Scripted::new(
            429,
            rate_limited("20s", "GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
        ),
        Scripted::new(200, SUCCESS),
    ])
    .await;
    let error = generate(&client(&server)).await.unwrap_err();
    assert!(matches!(error, LlmError::DailyQuotaExhausted(_)), "{error}");
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn an_overload_is_retried_with_backoff() {
    let server = ScriptedServer::start(vec![
        Scripted::new(503, OVERLOADED),
        Scripted::new(503, OVERLOADED),
        Scripted::new(200, SUCCESS),
    ])
    .await;
    assert!(generate(&client(&server)).await.is_ok());
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_lasting_overload_gives_up_after_the_last_attempt() {
    let server = ScriptedServer::start(vec![Scripted::new(503, OVERLOADED)]).await;
    let error = generate(&client(&server)).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::Unavailable {
            attempts: 3,
            last: "HTTP 503 UNAVAILABLE: The model is overloaded. Please try again later.".into(),
        }
    );
    assert_eq!(server.received().len(), 3);
}

#[tokio::test]
async fn a_timed_out_call_is_made_again() {
    let server = ScriptedServer::start(vec![
        Scripted::new(200, SUCCESS).after(Duration::from_secs(5)),
        Scripted::new(200, SUCCESS),
    ])
    .await;
    let client = GeminiClient::new(
        reqwest::Client::new(),
        &GeminiConfig {
            timeout_ms: 200,
            ..config(&server.base)
        },
    );
    assert!(generate(&client).await.is_ok());
    assert_eq!(server.received().len(), 2);

    let server = ScriptedServer::start(vec![
        Scripted::new(200, SUCCESS).after(Duration::from_secs(5)),
    ])
    .await;
    let client = GeminiClient::new(
        reqwest::Client::new(),
        &GeminiConfig {
            timeout_ms: 100,
            max_attempts: 2,
            ..config(&server.base)
        },
    );
    assert_eq!(
        generate(&client).await.unwrap_err(),
        LlmError::Unavailable {
            attempts: 2,
            last: "no answer within 100 ms".into(),
        }
    );
}

#[tokio::test]
async fn a_blocked_prompt_and_a_safety_stop_are_final_with_their_usage() {
    let server = ScriptedServer::start(vec![Scripted::new(200, BLOCKED)]).await;
    let error = generate(&client(&server)).await.unwrap_err();
    assert!(matches!(&error, LlmError::Blocked { reason, .. } if reason == "SAFETY"));
    assert_eq!(error.usage().map(|u| u.prompt_tokens), Some(12));
    assert_eq!(server.received().len(), 1);

    let safety = json!({
        "candidates": [{"finishReason": "SAFETY", "index": 0,
                        "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]}],
        "usageMetadata": {"promptTokenCount": 20, "totalTokenCount": 20},
        "modelVersion": "gemini-2.5-flash"
    });
    let server = ScriptedServer::start(vec![Scripted::new(200, safety.to_string())]).await;
    let error = generate(&client(&server)).await.unwrap_err();
    assert_eq!(
        error,
        LlmError::NoReply {
            finish_reason: FinishReason::Policy("SAFETY".into()),
            usage: Some(TokenUsage {
                prompt_tokens: 20,
                total_tokens: 20,
                ..TokenUsage::default()
            }),
        }
    );
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let invalid = json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
        "message": "* GenerateContentRequest.contents: contents is not specified"}});
    let server = ScriptedServer::start(vec![Scripted::new(400, invalid.to_string())]).await;
    let error = generate(&client(&server)).await.unwrap_err();
    assert!(matches!(&error, LlmError::Permanent(m) if m.contains("contents is not specified")));
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn nothing_is_sent_without_a_key_a_model_or_a_conversation() {
    let server = ScriptedServer::start(vec![Scripted::new(200, SUCCESS)]).await;
    let no_key = GeminiClient::new(
        reqwest::Client::new(),
        &GeminiConfig {
            api_key: None,
            ..config(&server.base)
        },
    );
    assert!(
        matches!(generate(&no_key).await, Err(LlmError::Permanent(m)) if m.contains("GEMINI_API_KEY"))
    );
    let client = client(&server);
    for model in ["", "../admin", "gemini 2.5", "a/b"] {
        assert!(matches!(
            client.generate(model, &request()).await,
            Err(LlmError::Permanent(_))
        ));
    }
    let empty = GenerateContentRequest {
        contents: Vec::new(),
        ..request()
    };
    assert!(matches!(
        client.generate("gemini-2.5-flash", &empty).await,
        Err(LlmError::Permanent(_))
    ));
    assert!(server.received().is_empty());
    // A `models/` prefix is the same model.
    assert!(
        client
            .generate("models/gemini-2.5-flash", &request())
            .await
            .is_ok()
    );
    assert!(
        server.received()[0]
            .request_line
            .contains("/models/gemini-2.5-flash:generateContent")
    );
}
