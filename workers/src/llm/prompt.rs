//! Turning a conversation into a Gemini request: the tenant's prompt, its business profile and
//! the recent turns become one [`GenerateContentRequest`].
//!
//! - **System instruction**: each prompt section in the order given (the caller has already
//!   merged the tenant's bundle with the defaults and ordered it), as a `## {key}` heading over
//!   its content, then `## Business profile` with the profile rendered by
//!   [`super::profile::render_profile`]. Sections with blank content are left out; with nothing
//!   to say there is no `systemInstruction` at all.
//! - **Contents**: the history, oldest first, customer turns as `user` and business turns as
//!   `model`. Gemini wants the roles to alternate, so consecutive turns of one side are merged
//!   into one content, their texts separated by a blank line; blank turns are dropped (Gemini
//!   refuses empty text).
//! - **Bounds**: only the most recent turns are sent, at most [`HistoryLimits::max_turns`] turns
//!   and [`HistoryLimits::max_chars`] characters of turn text. The customer's latest turn (and
//!   anything after it) is always sent, even alone over the budget, since it is what is being
//!   answered; older turns are added while they fit.
//! - **Generation config**: `temperature`, `maxOutputTokens` and `thinkingConfig.thinkingBudget`
//!   when set; otherwise Gemini's defaults apply.
//!
//! Everything here is pure, so the exact body Gemini receives is tested below.

use serde_json::Value;

use super::profile::render_profile;
use super::request::{
    Content, ContentRole, GenerateContentRequest, GenerationConfig, ThinkingConfig,
};

/// Turns sent at most when not told otherwise.
pub const DEFAULT_MAX_TURNS: usize = 40;
/// Characters of turn text sent at most when not told otherwise (~6k tokens).
pub const DEFAULT_MAX_HISTORY_CHARS: usize = 24_000;

/// One named part of the tenant's prompt (persona, rules, booking policy…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptSection {
    pub key: String,
    pub content: String,
}

/// Which side of the conversation said a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    Business,
}

impl Role {
    fn content_role(self) -> ContentRole {
        match self {
            Role::Customer => ContentRole::User,
            Role::Business => ContentRole::Model,
        }
    }
}

/// One message of the conversation, in the channel's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

/// How much history is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    pub max_turns: usize,
    pub max_chars: usize,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            max_turns: DEFAULT_MAX_TURNS,
            max_chars: DEFAULT_MAX_HISTORY_CHARS,
        }
    }
}

/// The tenant's generation settings; `None` leaves Gemini's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationSettings {
    pub temperature: Option<f64>,
    pub max_output_tokens: Option<u32>,
    /// 0 turns the 2.5 models' thinking off (faster, cheaper replies); -1 lets the model decide.
    pub thinking_budget: Option<i32>,
    pub history: HistoryLimits,
}

/// The request that asks Gemini for the business's next reply.
pub fn build_request(
    sections: &[PromptSection],
    profile: &Value,
    history: &[Turn],
    config: &GenerationSettings,
) -> GenerateContentRequest {
    GenerateContentRequest {
        system_instruction: system_instruction(sections, profile)
            .map(|text| Content::text(None, text)),
        contents: contents(recent(history, config.history)),
        generation_config: GenerationConfig {
            temperature: config.temperature,
            max_output_tokens: config.max_output_tokens,
            thinking_config: config
                .thinking_budget
                .map(|thinking_budget| ThinkingConfig { thinking_budget }),
        }
        .non_empty(),
    }
}

/// The sections under their headings, then the business profile; `None` when all are blank.
pub fn system_instruction(sections: &[PromptSection], profile: &Value) -> Option<String> {
    let mut blocks: Vec<String> = sections
        .iter()
        .filter(|s| !s.content.trim().is_empty())
        .map(|s| format!("## {}\n{}", s.key.trim(), s.content.trim()))
        .collect();
    if let Some(profile) = render_profile(profile) {
        blocks.push(format!("## Business profile\n{profile}"));
    }
    (!blocks.is_empty()).then(|| blocks.join("\n\n"))
}

/// The most recent turns that fit `limits`, always including the customer's latest turn and
/// everything after it.
fn recent(history: &[Turn], limits: HistoryLimits) -> &[Turn] {
    let required_from = history
        .iter()
        .rposition(|t| t.role == Role::Customer)
        .unwrap_or(history.len());
    let mut start = history.len();
    let mut chars = 0usize;
    while let Some(candidate) = start.checked_sub(1) {
        let turn_chars = history[candidate].text.trim().chars().count();
        let fits =
            history.len() - candidate <= limits.max_turns && chars + turn_chars <= limits.max_chars;
        if candidate < required_from && !fits {
            break;
        }
        chars += turn_chars;
        start = candidate;
    }
    &history[start..]
}

/// Alternating contents: blank turns dropped, consecutive turns of one side merged.
fn contents(turns: &[Turn]) -> Vec<Content> {
    let mut contents: Vec<(ContentRole, Vec<&str>)> = Vec::new();
    for turn in turns {
        let text = turn.text.trim();
        if text.is_empty() {
            continue;
        }
        let role = turn.role.content_role();
        match contents.last_mut() {
            Some((last, texts)) if *last == role => texts.push(text),
            _ => contents.push((role, vec![text])),
        }
    }
    contents
        .into_iter()
        .map(|(role, texts)| Content::text(Some(role), texts.join("\n\n")))
        .collect()
}

#[cfg(test)]
mod tests;
