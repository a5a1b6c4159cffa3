//! Why a flow definition was refused. Every error names the offending step (by its id when it
//! has a valid one) and knows where in the request it is ([`FlowError::path`]), so the admin
//! API can answer 422 with a field and a reason a person can act on.

/// A problem with a flow definition: the first one found, in step order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error("a flow needs 1-{max} steps")]
    StepCount { max: usize },
    #[error("step {index}: the id must be 1-64 of A-Z, a-z, 0-9, '_' and '-'")]
    InvalidId { index: usize },
    #[error("step '{step}': another step has the same id")]
    DuplicateId { index: usize, step: String },
    /// A field of a step is missing, not allowed for its kind, or out of bounds; `field` is
    /// relative to the step (`body`, `buttons[1].title`, `rules[0].keywords`).
    #[error("step '{step}': {field} {reason}")]
    InvalidField {
        index: usize,
        step: String,
        field: String,
        reason: String,
    },
    #[error("step '{step}': {field} names step '{target}', which does not exist")]
    Dangling {
        index: usize,
        step: String,
        field: String,
        target: String,
    },
    #[error("step '{step}': {field} matches button '{button}', which no buttons step offers")]
    UnknownButton {
        index: usize,
        step: String,
        field: String,
        button: String,
    },
    #[error("step '{step}' cannot be reached from the first step '{entry}'")]
    Unreachable {
        index: usize,
        step: String,
        entry: String,
    },
    #[error(
        "steps {} would repeat forever without waiting for the customer's reply",
        cycle.join(" -> ")
    )]
    Cycle { index: usize, cycle: Vec<String> },
    #[error(
        "step '{step}': this branch can run before the customer has replied to anything, so it \
         needs a default"
    )]
    NoDefault { index: usize, step: String },
    #[error("trigger: {field} {reason}")]
    InvalidTrigger { field: String, reason: String },
}

impl FlowError {
    /// Where the problem is in a flow request: `steps`, `steps[2]`, `steps[2].next`,
    /// `trigger.keywords[0]`.
    pub fn path(&self) -> String {
        match self {
            Self::StepCount { .. } => "steps".into(),
            Self::InvalidId { index } => format!("steps[{index}].id"),
            Self::DuplicateId { index, .. } => format!("steps[{index}].id"),
            Self::InvalidField { index, field, .. }
            | Self::Dangling { index, field, .. }
            | Self::UnknownButton { index, field, .. } => format!("steps[{index}].{field}"),
            Self::Unreachable { index, .. }
            | Self::Cycle { index, .. }
            | Self::NoDefault { index, .. } => format!("steps[{index}]"),
            Self::InvalidTrigger { field, .. } => format!("trigger.{field}"),
        }
    }

    /// The id of the step at fault, when there is one and it is valid.
    pub fn step(&self) -> Option<&str> {
        match self {
            Self::DuplicateId { step, .. }
            | Self::InvalidField { step, .. }
            | Self::Dangling { step, .. }
            | Self::UnknownButton { step, .. }
            | Self::Unreachable { step, .. }
            | Self::NoDefault { step, .. } => Some(step),
            Self::Cycle { cycle, .. } => cycle.first().map(String::as_str),
            Self::StepCount { .. } | Self::InvalidId { .. } | Self::InvalidTrigger { .. } => None,
        }
    }
}
