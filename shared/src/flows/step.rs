//! The validated parts of a flow: step ids, steps and what each kind of step does. Values of
//! these types come out of [`FlowDefinition::parse`](super::FlowDefinition::parse) only, so
//! whoever holds one knows its text fits the channel limits and its references resolve.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::keyword::Keyword;

/// Most steps in one flow.
pub const MAX_STEPS: usize = 100;
/// WhatsApp's limit on reply buttons in one interactive message.
pub const MAX_BUTTONS: usize = 3;
/// WhatsApp's limit on a reply button's title, in characters.
pub const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// WhatsApp's limit on a text message, in characters.
pub const MAX_TEXT_CHARS: usize = 4096;
/// WhatsApp's limit on the body of an interactive (buttons) message, in characters.
pub const MAX_BUTTONS_BODY_CHARS: usize = 1024;
/// Most rules in one branch, and most keywords in one rule or trigger.
pub const MAX_RULES: usize = 20;
pub const MAX_KEYWORDS: usize = 20;

/// What a step does. Stored in `flow_steps.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Send `body`, go on to `next`.
    Text,
    /// Send `body` with up to three reply buttons, wait for the reply, then go on to `next`.
    Buttons,
    /// Send the optional `body`, wait for the reply, then go on to `next`.
    WaitReply,
    /// Look at the customer's latest message and go to the step of the first matching rule,
    /// else to `default`, else ask the question again.
    Branch,
    /// Hand the conversation to a person; the flow stays silent from then on.
    Handover,
    /// The flow is over; the conversation is idle again.
    End,
}

impl StepKind {
    pub const ALL: [StepKind; 6] = [
        Self::Text,
        Self::Buttons,
        Self::WaitReply,
        Self::Branch,
        Self::Handover,
        Self::End,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Buttons => "buttons",
            Self::WaitReply => "wait_reply",
            Self::Branch => "branch",
            Self::Handover => "handover",
            Self::End => "end",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a step of this kind stops the walk until the customer replies.
    pub fn waits(self) -> bool {
        matches!(self, Self::Buttons | Self::WaitReply)
    }
}

/// A step's id: 1-64 of `A-Z a-z 0-9 _ -`, unique within its flow. Button ids have the same
/// shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StepId(String);

impl StepId {
    pub fn parse(raw: &str) -> Option<Self> {
        is_id(raw).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `raw` has the shape of a step or button id.
pub(crate) fn is_id(raw: &str) -> bool {
    (1..=64).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A reply button: an id the branch rules match on, and a title of at most 20 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub(crate) id: String,
    pub(crate) title: String,
}

impl Button {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn title(&self) -> &str {
        &self.title
    }
}

/// What a branch rule looks for in the customer's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The reply is this button: tapped, or — where buttons were shown as a numbered list —
    /// answered with its number or its title.
    Button(String),
    /// The reply contains any of these keywords.
    Keywords(Vec<Keyword>),
}

/// One rule of a branch: when the condition holds, go to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub when: Condition,
    pub to: StepId,
}

/// What a step does, with what it needs to do it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Text {
        body: String,
        next: StepId,
    },
    Buttons {
        body: String,
        buttons: Vec<Button>,
        next: StepId,
    },
    WaitReply {
        prompt: Option<String>,
        next: StepId,
    },
    Branch {
        rules: Vec<Rule>,
        default: Option<StepId>,
    },
    Handover,
    End,
}

impl Action {
    pub fn kind(&self) -> StepKind {
        match self {
            Self::Text { .. } => StepKind::Text,
            Self::Buttons { .. } => StepKind::Buttons,
            Self::WaitReply { .. } => StepKind::WaitReply,
            Self::Branch { .. } => StepKind::Branch,
            Self::Handover => StepKind::Handover,
            Self::End => StepKind::End,
        }
    }

    /// Every step this one can lead to, with the field that names it.
    pub fn targets(&self) -> Vec<(String, &StepId)> {
        match self {
            Self::Text { next, .. } | Self::Buttons { next, .. } | Self::WaitReply { next, .. } => {
                vec![("next".to_owned(), next)]
            }
            Self::Branch { rules, default } => rules
                .iter()
                .enumerate()
                .map(|(i, rule)| (format!("rules[{i}].to"), &rule.to))
                .chain(default.iter().map(|d| ("default".to_owned(), d)))
                .collect(),
            Self::Handover | Self::End => Vec::new(),
        }
    }
}

/// One step of a valid flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub(crate) id: StepId,
    pub(crate) action: Action,
}

impl Step {
    pub fn id(&self) -> &StepId {
        &self.id
    }

    pub fn action(&self) -> &Action {
        &self.action
    }

    pub fn kind(&self) -> StepKind {
        self.action.kind()
    }
}
