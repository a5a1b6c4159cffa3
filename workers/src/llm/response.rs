//! Reading a successful (HTTP 200) `generateContent` answer (protocols.md §10.3).
//!
//! A 200 is not always a reply:
//!
//! - **Blocked prompt**: no `candidates`, and `promptFeedback.blockReason` says why
//!   (`SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, …) → [`LlmError::Blocked`].
//! - **Withheld reply**: the first candidate stopped for a policy reason (`SAFETY`,
//!   `RECITATION`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, the `IMAGE_*` ones) — any text it
//!   carries is cut short by the filter and is not sent — or stopped for any reason other than
//!   `STOP`/`MAX_TOKENS`, or has no text at all (a thinking model can spend the whole
//!   `maxOutputTokens` budget on thoughts) → [`LlmError::NoReply`].
//!
//! Either way the `usageMetadata` that came with it is kept in the error, because those tokens
//! were billed. The reply text is the first candidate's text parts joined, thought parts
//! (`thought: true`) excluded. Every count in `usageMetadata` may be missing and reads as 0.

use serde::Deserialize;

use super::error::{AttemptError, LlmError};

/// The business's next reply, as Gemini wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub text: String,
    /// `Stop`, or `MaxTokens` when the reply was cut at `maxOutputTokens`.
    pub finish_reason: FinishReason,
    pub usage: TokenUsage,
    /// The model that answered (`modelVersion`), e.g. `gemini-2.5-flash`.
    pub model_version: Option<String>,
    /// Google's id of this answer (`responseId`), for support requests.
    pub response_id: Option<String>,
}

/// Tokens billed for one call (`usageMetadata`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct TokenUsage {
    /// `promptTokenCount`: system instruction and contents.
    #[serde(default, rename = "promptTokenCount")]
    pub prompt_tokens: u32,
    /// `candidatesTokenCount`: the reply.
    #[serde(default, rename = "candidatesTokenCount")]
    pub candidates_tokens: u32,
    /// `thoughtsTokenCount`: the thinking of the 2.5 models, billed as output.
    #[serde(default, rename = "thoughtsTokenCount")]
    pub thoughts_tokens: u32,
    /// `totalTokenCount`: prompt + candidates + thoughts (+ tool-use prompt).
    #[serde(default, rename = "totalTokenCount")]
    pub total_tokens: u32,
}

/// Why the model stopped (`finishReason`), read as an open set: Google adds values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    /// `STOP`: the reply is complete.
    Stop,
    /// `MAX_TOKENS`: the reply was cut at `maxOutputTokens`.
    MaxTokens,
    /// None given, or `FINISH_REASON_UNSPECIFIED`.
    Unspecified,
    /// A safety or policy filter withheld the reply; the value as Google wrote it.
    Policy(String),
    /// Anything else (`LANGUAGE`, `OTHER`, `MALFORMED_FUNCTION_CALL`, new values…).
    Other(String),
}

impl FinishReason {
    /// The finish reasons by which a filter withholds a reply.
    const POLICY: [&'static str; 8] = [
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    ];

    pub fn parse(value: Option<&str>) -> Self {
        match value {
            None | Some("" | "FINISH_REASON_UNSPECIFIED") => Self::Unspecified,
            Some("STOP") => Self::Stop,
            Some("MAX_TOKENS") => Self::MaxTokens,
            Some(v) if Self::POLICY.contains(&v) => Self::Policy(v.to_owned()),
            Some(v) => Self::Other(v.to_owned()),
        }
    }

    /// As Google writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stop => "STOP",
            Self::MaxTokens => "MAX_TOKENS",
            Self::Unspecified => "FINISH_REASON_UNSPECIFIED",
            Self::Policy(v) | Self::Other(v) => v,
        }
    }

    /// Whether text that ends this way can be sent to the customer.
    fn ends_a_reply(&self) -> bool {
        matches!(self, Self::Stop | Self::MaxTokens | Self::Unspecified)
    }
}

impl std::fmt::Display for FinishReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    candidates: Vec<Candidate>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<TokenUsage>,
    model_version: Option<String>,
    response_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<CandidateContent>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct CandidateContent {
    #[serde(default)]
    parts: Vec<CandidatePart>,
}

#[derive(Deserialize)]
struct CandidatePart {
    text: Option<String>,
    #[serde(default)]
    thought: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

/// Read a 200 answer: the reply, or why there is none. A body that is not the documented shape
/// is retryable (a proxy or a cut connection, not Gemini's verdict).
pub fn interpret_success(body: &[u8]) -> Result<Generated, AttemptError> {
    let response: Response = serde_json::from_slice(body).map_err(|e| AttemptError::Retryable {
        retry_delay: None,
        reason: format!("unreadable answer: {e}"),
    })?;
    let usage = response.usage_metadata;
    let block_reason = response
        .prompt_feedback
        .and_then(|f| f.block_reason)
        .filter(|r| !r.is_empty() && r != "BLOCKED_REASON_UNSPECIFIED");
    let Some(candidate) = response.candidates.into_iter().next() else {
        return Err(AttemptError::Final(LlmError::Blocked {
            reason: block_reason.unwrap_or_else(|| "no candidates".into()),
            usage,
        }));
    };
    let finish_reason = FinishReason::parse(candidate.finish_reason.as_deref());
    let text: String = candidate
        .content
        .into_iter()
        .flat_map(|c| c.parts)
        .filter(|p| !p.thought)
        .filter_map(|p| p.text)
        .collect();
    if !finish_reason.ends_a_reply() || text.trim().is_empty() {
        return Err(AttemptError::Final(LlmError::NoReply {
            finish_reason,
            usage,
        }));
    }
    Ok(Generated {
        text: text.trim().to_owned(),
        finish_reason,
        usage: usage.unwrap_or_default(),
        model_version: response.model_version,
        response_id: response.response_id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SUCCESS: &[u8] = include_bytes!("../../../tests/fixtures/gemini/generate_response.json");
    const BLOCKED: &[u8] =
        include_bytes!("../../../tests/fixtures/gemini/generate_response_blocked_prompt.json");

    fn read(body: serde_json::Value) -> Result<Generated, AttemptError> {
        interpret_success(&serde_json::to_vec(&body).unwrap())
    }

    fn final_error(result: Result<Generated, AttemptError>) -> LlmError {
        match result {
            Err(AttemptError::Final(e)) => e,
            other => panic!("expected a final error, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_fixture_reply() {
        let generated = interpret_success(SUCCESS).unwrap();
        assert!(
            generated
                .text
                .starts_with("Absolutely! You can pre-order a cake")
        );
        assert_eq!(generated.finish_reason, FinishReason::Stop);
        assert_eq!(
            generated.usage,
            TokenUsage {
                prompt_tokens: 58,
                candidates_tokens: 31,
                thoughts_tokens: 0,
                total_tokens: 89,
            }
        );
        assert_eq!(generated.model_version.as_deref(), Some("gemini-2.5-flash"));
        assert_eq!(
            generated.response_id.as_deref(),
            Some("FAKEresponseId0000000001")
        );
    }

    #[test]
    fn a_blocked_prompt_keeps_its_reason_and_usage() {
        let error = final_error(interpret_success(BLOCKED));
        assert_eq!(
            error,
            LlmError::Blocked {
                reason: "SAFETY".into(),
                usage: Some(TokenUsage {
                    prompt_tokens: 12,
                    total_tokens: 12,
                    ..TokenUsage::default()
                }),
            }
        );
        // No candidates and no reason still is no reply.
        let error = final_error(read(json!({"usageMetadata": {}})));
        assert!(matches!(error, LlmError::Blocked { ref reason, .. } if reason == "no candidates"));
    }

    #[test]
    fn thoughts_are_left_out_and_counted() {
        let generated = read(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"text": "Let me think about cakes.", "thought": true},
                {"text": "Yes, "},
                {"text": "we bake cakes."}
            ]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5,
                              "thoughtsTokenCount": 7, "totalTokenCount": 22}
        }))
        .unwrap();
        assert_eq!(generated.text, "Yes, we bake cakes.");
        assert_eq!(generated.usage.thoughts_tokens, 7);
        assert_eq!(generated.usage.total_tokens, 22);
        assert_eq!(generated.model_version, None);
    }

    #[test]
    fn a_policy_stop_withholds_even_partial_text() {
        for reason in [
            "SAFETY",
            "RECITATION",
            "PROHIBITED_CONTENT",
            "SPII",
            "BLOCKLIST",
        ] {
            let error = final_error(read(json!({
                "candidates": [{"content": {"parts": [{"text": "partial"}]},
                                "finishReason": reason, "safetyRatings": []}],
                "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}
            })));
            assert_eq!(
                error,
                LlmError::NoReply {
                    finish_reason: FinishReason::Policy(reason.into()),
                    usage: Some(TokenUsage {
                        prompt_tokens: 9,
                        total_tokens: 9,
                        ..TokenUsage::default()
                    }),
                }
            );
        }
    }

    #[test]
    fn no_text_or_an_unusual_stop_is_no_reply() {
        // A thinking model that spent its budget on thoughts.
        let error = final_error(read(json!({
            "candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
            "usageMetadata": {"promptTokenCount": 9, "thoughtsTokenCount": 512, "totalTokenCount": 521}
        })));
        assert!(matches!(
            error,
            LlmError::NoReply { finish_reason: FinishReason::MaxTokens, usage: Some(u) }
                if u.thoughts_tokens == 512
        ));
        let error = final_error(read(json!({
            "candidates": [{"content": {"parts": [{"text": "¿Qué?"}]}, "finishReason": "LANGUAGE"}]
        })));
        assert_eq!(
            error,
            LlmError::NoReply {
                finish_reason: FinishReason::Other("LANGUAGE".into()),
                usage: None,
            }
        );
        // A reply cut at maxOutputTokens is still a reply.
        let generated = read(json!({
            "candidates": [{"content": {"parts": [{"text": "We open at"}]}, "finishReason": "MAX_TOKENS"}]
        }))
        .unwrap();
        assert_eq!(generated.finish_reason, FinishReason::MaxTokens);
        assert_eq!(generated.usage, TokenUsage::default());
    }

    #[test]
    fn an_unreadable_success_is_retryable() {
        assert!(matches!(
            interpret_success(b"<html>proxy error</html>"),
            Err(AttemptError::Retryable {
                retry_delay: None,
                ..
            })
        ));
    }
}
