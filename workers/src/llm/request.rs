//! The body of a Gemini `generateContent` call, as Google names it on the wire (camelCase,
//! protocols.md §10.2).
//!
//! Only what Switchyard sends is modelled: text parts, the system instruction, and the few
//! generation settings a tenant can choose. Optional fields are left out of the JSON when unset,
//! so Gemini applies its own defaults rather than ours by accident. [`super::prompt`] builds
//! these from a conversation; the types also deserialize, so tests and the sandbox can read a
//! body back.

use serde::{Deserialize, Serialize};

/// `POST {base}/models/{model}:generateContent`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    /// Top level, not inside `generationConfig`; its role is ignored by Gemini, so none is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    /// The conversation, oldest first, alternating `user` and `model`.
    pub contents: Vec<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
}

/// One message of the conversation (or the system instruction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<ContentRole>,
    pub parts: Vec<Part>,
}

impl Content {
    /// A content of one text part.
    pub fn text(role: Option<ContentRole>, text: impl Into<String>) -> Self {
        Self {
            role,
            parts: vec![Part { text: text.into() }],
        }
    }
}

/// Who said a content: `user` (the customer) or `model` (the business's earlier replies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentRole {
    User,
    Model,
}

/// A text part; Switchyard sends no images, files or function calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub text: String,
}

/// `generationConfig`: every field optional, omitted when unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_config: Option<ThinkingConfig>,
}

impl GenerationConfig {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `None` when nothing is set, so no empty `generationConfig` object is sent.
    pub fn non_empty(self) -> Option<Self> {
        (!self.is_empty()).then_some(self)
    }
}

/// `thinkingConfig` of the 2.5 models: `thinkingBudget` 0 turns thinking off, -1 lets the model
/// decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThinkingConfig {
    pub thinking_budget: i32,
}
