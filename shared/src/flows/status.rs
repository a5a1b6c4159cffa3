//! Where a conversation stands with the flows, as `conversation_states.status` stores it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    /// In no flow: the next message may start one.
    Idle,
    /// Inside a flow, between steps.
    InFlow,
    /// Inside a flow, at a `buttons` or `wait_reply` step, waiting for the customer.
    WaitingReply,
    /// A person has the conversation; flows stay silent.
    HandedOver,
}

impl FlowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::InFlow => "in_flow",
            Self::WaitingReply => "waiting_reply",
            Self::HandedOver => "handed_over",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Idle,
            Self::InFlow,
            Self::WaitingReply,
            Self::HandedOver,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::FlowStatus;

    #[test]
    fn round_trips_through_text() {
        for s in ["idle", "in_flow", "waiting_reply", "handed_over"] {
            assert_eq!(FlowStatus::parse(s).map(FlowStatus::as_str), Some(s));
        }
        assert_eq!(FlowStatus::parse("busy"), None);
    }
}
