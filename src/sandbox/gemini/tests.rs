//! The fake Gemini as the worker's Gemini client sees it, over real HTTP.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchyard_shared::config::GeminiConfig;
use switchyard_shared::secrets::SecretString;
use switchyard_workers::llm::{
    FinishReason, GeminiClient, GenerateContentRequest, GenerationSettings, LlmError,
    PromptSection, Role, TokenUsage, Turn, build_request,
};

use super::*;

const MODEL: &str = "gemini-2.5-flash";

struct Harness {
    fake: FakeGemini,
    client: GeminiClient,
    http: reqwest::Client,
    _shutdown: Shutdown,
}

fn config(api_base: String, key: Option<&str>) -> GeminiConfig {
    GeminiConfig {
        api_base,
        api_key: key.map(SecretString::new),
        model: MODEL.into(),
        timeout_ms: 5000,
        max_attempts: 3,
        retry_base_ms: 10,
        max_retry_delay_ms: 5000,
    }
}

async fn harness() -> Harness {
    let shutdown = Shutdown::new();
    let fake = FakeGemini::start("127.0.0.1:0".parse().unwrap(), shutdown.clone())
        .await
        .unwrap();
    let client = GeminiClient::new(
        reqwest::Client::new(),
        &config(fake.api_base(), Some(FAKE_GEMINI_API_KEY)),
    );
    Harness {
        fake,
        client,
        http: reqwest::Client::new(),
        _shutdown: shutdown,
    }
}

fn turn(role: Role, text: &str) -> Turn {
    Turn {
        role,
        text: text.into(),
    }
}

/// A dental clinic's prompt, profile and conversation.
fn request() -> GenerateContentRequest {
    build_request(
        &[PromptSection {
            key: "persona".into(),
            content: "You are the receptionist.".into(),
        }],
        &json!({"name": "Demo Dental", "phone": "+15550001234"}),
        &[
            turn(Role::Customer, "Hi"),
            turn(Role::Business, "Hello! How can we help?"),
            turn(Role::Customer, "Can I   book a cleaning\non Friday?"),
        ],
        &GenerationSettings::default(),
    )
}

impl Harness {
    async fn generate(&self) -> Result<switchyard_workers::llm::Generated, LlmError> {
        self.client.generate(MODEL, &request()).await
    }

    /// A raw call: the status and Google's answer.
    async fn post(&self, model: &str, key: Option<&str>, body: &str) -> (StatusCode, Value) {
        let mut call = self
            .http
            .post(format!(
                "{}/models/{model}:generateContent",
                self.fake.api_base()
            ))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            call = call.header("x-goog-api-key", key);
        }
        let response = call.send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn answers_in_the_business_name_and_records_the_exact_body() {
    let h = harness().await;
    let generated = h.generate().await.unwrap();
    let reply = "(sandbox) Thanks for writing to Demo Dental. You said: \"Can I book a cleaning on Friday?\"";
    assert_eq!(generated.text, reply);
    assert_eq!(generated.finish_reason, FinishReason::Stop);
    assert_eq!(generated.model_version.as_deref(), Some(MODEL));
    assert_eq!(
        generated.response_id.as_deref(),
        Some("sandbox-0000000000000001")
    );

    let body = serde_json::to_value(request()).unwrap();
    let texts = [
        "## persona\nYou are the receptionist.\n\n## Business profile\n- Name: Demo Dental\n- Phone: +15550001234",
        "Hi",
        "Hello! How can we help?",
        "Can I   book a cleaning\non Friday?",
    ];
    let prompt: u64 = texts.iter().map(|t| tokens(t)).sum();
    assert_eq!(
        generated.usage,
        TokenUsage {
            prompt_tokens: u32::try_from(prompt).unwrap(),
            candidates_tokens: u32::try_from(tokens(reply)).unwrap(),
            thoughts_tokens: 0,
            total_tokens: u32::try_from(prompt + tokens(reply)).unwrap(),
        }
    );
    assert_eq!(
        h.fake.requests(),
        [GeminiRequest {
            model: MODEL.into(),
            body,
        }]
    );
}

#[tokio::test]
async fn echoes_a_short_version_without_a_business_name() {
    let h = harness().await;
    let long = "word ".repeat(40);
    let request = build_request(
        &[],
        &Value::Null,
        &[turn(Role::Customer, &long)],
        &GenerationSettings::default(),
    );
    let generated = h.client.generate(MODEL, &request).await.unwrap();
    let echoed: String = long.trim().chars().take(ECHO_CHARS).collect();
    assert_eq!(
        generated.text,
        format!("(sandbox) You said: \"{}…\"", echoed.trim_end())
    );
    // A small maxOutputTokens cuts the reply, as Gemini does.
    let request = build_request(
        &[],
        &Value::Null,
        &[turn(Role::Customer, "hello")],
        &GenerationSettings {
            max_output_tokens: Some(3),
            ..GenerationSettings::default()
        },
    );
    let generated = h.client.generate(MODEL, &request).await.unwrap();
    assert_eq!(generated.text, "(sandbox) Yo");
    assert_eq!(generated.finish_reason, FinishReason::MaxTokens);
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_refused_like_google() {
    let h = harness().await;
    let body = serde_json::to_string(&request()).unwrap();
    let (status, answer) = h.post(MODEL, None, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"]["status"], "PERMISSION_DENIED");
    let (status, answer) = h.post(MODEL, Some("wrong"), &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(answer["error"]["details"][0]["reason"], "API_KEY_INVALID");

    let client = GeminiClient::new(
        reqwest::Client::new(),
        &config(h.fake.api_base(), Some("wrong")),
    );
    let error = client.generate(MODEL, &request()).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Permanent(m) if m.contains("API key not valid")),
        "{error}"
    );
    // Every request is recorded, refused or not.
    assert_eq!(h.fake.requests().len(), 3);
}

#[tokio::test]
async fn malformed_bodies_get_invalid_argument_with_a_reason() {
    let h = harness().await;
    let key = Some(FAKE_GEMINI_API_KEY);
    let cases = [
        ("not json", "Invalid JSON payload"),
        (r#"{"contents": []}"#, "contents is not specified"),
        (r#"{"generationConfig": {}}"#, "contents is not specified"),
        (r#"{"contents": {"role": "user"}}"#, "expected a list"),
        (
            r#"{"contents": [{"role": "user"}]}"#,
            "parts must not be empty",
        ),
        (
            r#"{"contents": [{"role": "user", "parts": [{}]}]}"#,
            "required oneof field 'data'",
        ),
        (
            r#"{"contents": [{"role": "assistant", "parts": [{"text": "hi"}]}]}"#,
            "valid role",
        ),
        (
            r#"{"contents": [{"parts": [{"text": 5}]}]}"#,
            "expected a string",
        ),
        (
            r#"{"contents": [{"parts": [{"text": "hi"}]}], "system": "x"}"#,
            "Unknown name \"system\"",
        ),
        (
            r#"{"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 3}}"#,
            "temperature",
        ),
        (
            r#"{"contents": [{"parts": [{"text": "hi"}]}], "systemInstruction": {"parts": []}}"#,
            "system_instruction.parts",
        ),
    ];
    for (body, reason) in cases {
        let (status, answer) = h.post(MODEL, key, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT", "{body}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(reason), "{body}: {message}");
    }
    // snake_case names are Google's too; a default role is `user`.
    let (status, _) = h
        .post(
            MODEL,
            key,
            r#"{"contents": [{"parts": [{"text": "hi"}]}], "system_instruction": {"parts": [{"text": "Be brief."}]}}"#,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = h.post("text-bison", key, r#"{"contents": []}"#).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["status"], "NOT_FOUND");
}

#[tokio::test]
async fn an_injected_429_is_waited_out() {
    let h = harness().await;
    h.fake.fail_next(GeminiFailure {
        count: 1,
        status: 429,
        retry_delay: Some("0.2s".into()),
        per_day: false,
    });
    let started = std::time::Instant::now();
    assert!(h.generate().await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(h.fake.requests().len(), 2);
}

#[tokio::test]
async fn a_per_day_429_and_a_lasting_overload_end_the_generation() {
    let h = harness().await;
    h.fake.fail_next(GeminiFailure {
        count: 1,
        status: 429,
        retry_delay: Some("30s".into()),
        per_day: true,
    });
    assert!(matches!(
        h.generate().await,
        Err(LlmError::DailyQuotaExhausted(_))
    ));
    assert_eq!(h.fake.requests().len(), 1);

    h.fake.fail_next(GeminiFailure {
        count: 5,
        status: 503,
        retry_delay: None,
        per_day: false,
    });
    let error = h.generate().await.unwrap_err();
    assert_eq!(
        error,
        LlmError::Unavailable {
            attempts: 3,
            last: "HTTP 503 UNAVAILABLE: The model is overloaded. Please try again later.".into(),
        }
    );
    // Two injected failures are left; the third request after them succeeds.
    assert!(h.generate().await.is_ok());
}

#[tokio::test]
async fn blocks_are_answered_with_their_usage() {
    let h = harness().await;
    h.fake.block_next(GeminiBlock {
        count: 1,
        kind: BlockKind::Prompt,
    });
    h.fake.block_next(GeminiBlock {
        count: 1,
        kind: BlockKind::Safety,
    });
    let blocked = h.generate().await.unwrap_err();
    assert!(matches!(&blocked, LlmError::Blocked { reason, .. } if reason == "SAFETY"));
    assert!(
        blocked
            .usage()
            .is_some_and(|u| u.prompt_tokens > 0 && u.candidates_tokens == 0)
    );
    let stopped = h.generate().await.unwrap_err();
    assert!(matches!(
        &stopped,
        LlmError::NoReply { finish_reason: FinishReason::Policy(r), usage: Some(_) } if r == "SAFETY"
    ));
    assert!(h.generate().await.is_ok());
}

#[tokio::test]
async fn control_endpoints_inject_and_list() {
    let h = harness().await;
    let control = |path: &str| format!("{}/{path}", h.fake.sandbox_base());
    let injected = h
        .http
        .post(control("fail"))
        .json(&json!({"count": 1, "status": 503}))
        .send()
        .await
        .unwrap();
    assert_eq!(injected.status(), StatusCode::NO_CONTENT);
    let injected = h
        .http
        .post(control("block"))
        .json(&json!({"count": 1, "kind": "safety"}))
        .send()
        .await
        .unwrap();
    assert_eq!(injected.status(), StatusCode::NO_CONTENT);
    // The failure first (retried), then the block.
    assert!(matches!(h.generate().await, Err(LlmError::NoReply { .. })));

    let listed: Value = h
        .http
        .get(control("requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["model"], MODEL);
    assert_eq!(listed[1]["body"], serde_json::to_value(request()).unwrap());

    let refused = h
        .http
        .post(control("block"))
        .json(&json!({"count": 1, "kind": "everything"}))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error());
}
