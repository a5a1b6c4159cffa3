//! A flow as people write it: the JSON the admin API takes and shows, and the shape its steps
//! are stored in. Nothing here is trusted; [`FlowDefinition::parse`] turns it into a
//! [`Flow`](super::Flow) or says which step is wrong.
//!
//! A step is one flat object whatever its kind; the fields a kind does not use must be absent:
//!
//! | kind | fields |
//! |---|---|
//! | `text` | `body` (1-4096 characters), `next` |
//! | `buttons` | `body` (1-1024), `buttons` (1-3 of `{id, title}`, titles 1-20 characters, ids and titles unique), `next` |
//! | `wait_reply` | `body` (optional prompt, 1-4096), `next` |
//! | `branch` | `rules` (1-20 of `{button, to}` or `{keywords, to}`), `default` (optional) |
//! | `handover`, `end` | nothing |
//!
//! In storage, `id`, `kind` and `next` are columns of `flow_steps`; the other fields are its
//! `config` (`jsonb`), written by [`StepDefinition::config`] and read by
//! [`StepDefinition::from_stored`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::step::StepKind;

/// A flow's steps, in order; the first is where the flow starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    #[schema(min_items = 1, max_items = 100)]
    pub steps: Vec<StepDefinition>,
}

/// One step. Which fields it takes depends on `kind`; the others must be absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StepDefinition {
    /// Unique within the flow; other steps name it in `next`, `rules[].to` and `default`.
    #[schema(example = "menu", pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    #[schema(value_type = StepKind, example = "buttons")]
    pub kind: String,
    /// `text`: the message (1-4096 characters). `buttons`: the text above the buttons
    /// (1-1024). `wait_reply`: an optional prompt, sent again when a reply matches nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub body: Option<String>,
    /// `buttons`: 1-3 reply buttons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 3)]
    pub buttons: Option<Vec<ButtonDefinition>>,
    /// `branch`: tried in order; the first that matches the customer's message wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 20)]
    pub rules: Option<Vec<RuleDefinition>>,
    /// `branch`: where to go when no rule matches. Without it the question is asked again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub default: Option<String>,
    /// `text`, `buttons`, `wait_reply`: the step that follows (after the reply, for the
    /// waiting kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub next: Option<String>,
}

/// A reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonDefinition {
    /// What branch rules match on; unique within the step.
    #[schema(example = "book", pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub id: String,
    /// What the customer sees; unique within the step.
    #[schema(
        example = "Book a visit",
        min_length = 1,
        max_length = 20,
        pattern = r"\S"
    )]
    pub title: String,
}

/// A branch rule: exactly one of `button` and `keywords`, and where to go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDefinition {
    /// The id of a button of a `buttons` step of this flow. Matches the tapped button, and
    /// where buttons were shown as a numbered list, its number or its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub button: Option<String>,
    /// Matches when the message contains any of them (whole words, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 20)]
    pub keywords: Option<Vec<String>>,
    /// The step to go to.
    #[schema(pattern = r"^[A-Za-z0-9_-]{1,64}$")]
    pub to: String,
}

/// The fields of a step kept in `flow_steps.config`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buttons: Option<Vec<ButtonDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<RuleDefinition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<String>,
}

impl StepDefinition {
    /// The `config` column: every field but `id`, `kind` and `next`.
    pub fn config(&self) -> serde_json::Value {
        let config = StoredConfig {
            body: self.body.clone(),
            buttons: self.buttons.clone(),
            rules: self.rules.clone(),
            default: self.default.clone(),
        };
        serde_json::to_value(config).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// A stored step back from its columns.
    pub fn from_stored(
        id: String,
        kind: String,
        config: serde_json::Value,
        next: Option<String>,
    ) -> Result<Self, serde_json::Error> {
        let config: StoredConfig = serde_json::from_value(config)?;
        Ok(Self {
            id,
            kind,
            body: config.body,
            buttons: config.buttons,
            rules: config.rules,
            default: config.default,
            next,
        })
    }

    /// A step of `kind` with no fields yet, for building definitions in code.
    pub fn new(id: &str, kind: StepKind) -> Self {
        Self {
            id: id.to_owned(),
            kind: kind.as_str().to_owned(),
            body: None,
            buttons: None,
            rules: None,
            default: None,
            next: None,
        }
    }
}

/// When a flow starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerDefinition {
    #[schema(value_type = TriggerKind, example = "keywords")]
    pub kind: String,
    /// `keywords` only: 1-20 keywords of 1-100 characters; the flow starts when a message
    /// contains any of them (whole words, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_items = 1, max_items = 20)]
    pub keywords: Option<Vec<String>>,
}

/// What starts a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// The customer's first message to the tenant on a channel.
    FirstContact,
    /// A message containing one of the trigger's keywords.
    Keywords,
}
