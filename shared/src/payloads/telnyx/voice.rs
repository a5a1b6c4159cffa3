//! Telnyx voice (Call Control) and AI assistant payloads: the `payload` of `call.*` webhooks.
//!
//! Every call event carries the same identifiers and parties, read as a [`CallLeg`]. Only
//! `call.initiated` says which way the call goes (`direction`), and so which of `from` and
//! `to` is ours; events without it (answered,
//! hangup, the assistant's events) are routed by `connection_id`, and the caller can tell the
//! parties apart with [`CallLeg::remote_party_given`] once it knows the tenant's number.
//!
//! The rest of each payload is read per event: [`CallProgress`] for initiated / answered /
//! hangup, [`ConversationEnded`] and [`InsightsGenerated`] for the AI assistant.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::de::{null_as_empty, optional_str};

#[derive(Debug, Clone, Deserialize)]
pub struct CallLeg<'a> {
    /// The handle for commands: `POST /v2/calls/{call_control_id}/actions/…`.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub call_control_id: Option<Cow<'a, str>>,
    /// Unique to this leg of the call.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub call_leg_id: Option<Cow<'a, str>>,
    /// Shared by the legs of one phone call.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub call_session_id: Option<Cow<'a, str>>,
    /// The Call Control application: the key of a tenant's voice config.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub connection_id: Option<Cow<'a, str>>,
    /// Base64 text we set in a command, echoed back on the events that follow it.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub client_state: Option<Cow<'a, str>>,
    /// Only on `call.initiated`.
    #[serde(default)]
    pub direction: Option<Direction>,
    /// The calling number (or SIP URI).
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub from: Option<Cow<'a, str>>,
    /// The called number (or SIP URI).
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub to: Option<Cow<'a, str>>,
}

impl CallLeg<'_> {
    /// Our side of the call: `to` of an incoming call, `from` of an outgoing one; `None` when
    /// the payload does not say which way the call goes.
    pub fn our_number(&self) -> Option<&str> {
        match self.direction? {
            Direction::Incoming => self.to.as_deref(),
            Direction::Outgoing => self.from.as_deref(),
            Direction::Other => None,
        }
    }

    /// The other side: the caller of an incoming call, the callee of an outgoing one.
    pub fn remote_party(&self) -> Option<&str> {
        match self.direction? {
            Direction::Incoming => self.from.as_deref(),
            Direction::Outgoing => self.to.as_deref(),
            Direction::Other => None,
        }
    }

    /// The party that is not `ours`, for events without a direction.
    pub fn remote_party_given(&self, ours: &str) -> Option<&str> {
        match (self.from.as_deref(), self.to.as_deref()) {
            (Some(from), Some(to)) if to == ours => Some(from),
            (Some(from), Some(to)) if from == ours => Some(to),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Incoming,
    Outgoing,
    /// A value this build does not know.
    #[serde(other)]
    Other,
}

/// What `call.initiated`, `call.answered` and `call.hangup` add to the [`CallLeg`]. The
/// answer time of a call is the `occurred_at` of its `call.answered` event.
#[derive(Debug, Clone, Deserialize)]
pub struct CallProgress<'a> {
    /// `parked`, `bridging`, `hangup`, …
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub state: Option<Cow<'a, str>>,
    #[serde(default)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub caller_id_name: Option<Cow<'a, str>>,
    /// `normal_clearing`, `user_busy`, `no_answer`, `call_rejected`, `originator_cancel`, …
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub hangup_cause: Option<Cow<'a, str>>,
    /// `caller`, `callee` or `unknown`.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub hangup_source: Option<Cow<'a, str>>,
    /// The SIP response code as text, or `unspecified`.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub sip_hangup_cause: Option<Cow<'a, str>>,
}

/// `call.conversation.ended`: an AI assistant's conversation on the call is over.
#[derive(Debug, Clone, Deserialize)]
pub struct ConversationEnded<'a> {
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub assistant_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub conversation_id: Option<Cow<'a, str>>,
    #[serde(default)]
    pub duration_sec: Option<u64>,
    /// Why it ended (`user_hangup`, …); values are not documented.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub reason: Option<Cow<'a, str>>,
    /// `pstn` or `sip`.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub calling_party_type: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub llm_model: Option<Cow<'a, str>>,
    /// The transcript, when Telnyx sends one.
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub messages: Vec<TranscriptMessage<'a>>,
}

/// One turn of an assistant conversation.
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptMessage<'a> {
    pub role: Role,
    /// `null` on a turn that only calls tools.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub content: Option<Cow<'a, str>>,
    /// As Telnyx wrote it; the format is not documented.
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub tool_calls: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub tool_call_id: Option<Cow<'a, str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
    Tool,
    System,
    Developer,
    #[serde(other)]
    Other,
}

/// `call.conversation_insights.generated`: the results of the assistant's insight prompts.
#[derive(Debug, Clone, Deserialize)]
pub struct InsightsGenerated<'a> {
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub insight_group_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub results: Vec<InsightResult<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InsightResult<'a> {
    #[serde(borrow, default, deserialize_with = "optional_str")]
    pub insight_id: Option<Cow<'a, str>>,
    /// A string or a structured object, depending on the insight.
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
}

impl InsightResult<'_> {
    /// The result when it is plain text.
    pub fn text(&self) -> Option<String> {
        self.result
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(json: &str) -> CallLeg<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn parties_by_direction() {
        let incoming =
            leg(r#"{"direction": "incoming", "from": "+15550001111", "to": "+15550003333"}"#);
        assert_eq!(incoming.our_number(), Some("+15550003333"));
        assert_eq!(incoming.remote_party(), Some("+15550001111"));
        let outgoing =
            leg(r#"{"direction": "outgoing", "from": "+15550003333", "to": "+15550001111"}"#);
        assert_eq!(outgoing.our_number(), Some("+15550003333"));
        assert_eq!(outgoing.remote_party(), Some("+15550001111"));
        for unknown in [
            leg(r#"{"from": "+15550001111", "to": "+15550003333"}"#),
            leg(r#"{"direction": "sideways", "from": "+15550001111", "to": "+15550003333"}"#),
        ] {
            assert_eq!(unknown.our_number(), None);
            assert_eq!(unknown.remote_party(), None);
            assert_eq!(
                unknown.remote_party_given("+15550003333"),
                Some("+15550001111")
            );
            assert_eq!(
                unknown.remote_party_given("+15550001111"),
                Some("+15550003333")
            );
            assert_eq!(unknown.remote_party_given("+15559999999"), None);
        }
    }

    #[test]
    fn answered_without_direction() {
        let json = r#"{"call_control_id": "v3:x", "connection_id": "7000000000000000001",
            "from": "+15550001111", "to": "+15550003333", "start_time": "2026-01-01T00:10:00Z",
            "state": "answered"}"#;
        let (leg, progress): (CallLeg, CallProgress) = (
            serde_json::from_str(json).unwrap(),
            serde_json::from_str(json).unwrap(),
        );
        assert_eq!(leg.connection_id.as_deref(), Some("7000000000000000001"));
        assert_eq!(leg.direction, None);
        assert_eq!(progress.state.as_deref(), Some("answered"));
        assert!(progress.start_time.is_some() && progress.hangup_cause.is_none());
    }

    #[test]
    fn transcript_and_insights() {
        let ended: ConversationEnded = serde_json::from_str(
            r#"{"duration_sec": 12, "messages": [
                {"role": "assistant", "content": "Hello, how can I help?", "timestamp": "2026-01-01T00:10:01Z"},
                {"role": "user", "content": "A table for four."},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "t1"}]},
                {"role": "tool", "content": "booked", "tool_call_id": "t1"},
                {"role": "narrator", "content": "?"}]}"#,
        )
        .unwrap();
        let roles: Vec<Role> = ended.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::Assistant,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::Other
            ]
        );
        assert!(ended.messages[2].tool_calls.is_some());
        assert_eq!(ended.messages[3].tool_call_id.as_deref(), Some("t1"));

        let insights: InsightsGenerated = serde_json::from_str(
            r#"{"insight_group_id": "g1", "results": [
                {"insight_id": "i1", "result": "The caller booked a table."},
                {"insight_id": "i2", "result": {"sentiment": "positive"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            insights.results[0].text().as_deref(),
            Some("The caller booked a table.")
        );
        assert_eq!(insights.results[1].text(), None);
        assert_eq!(
            insights.results[1].result.map(RawValue::get),
            Some(r#"{"sentiment": "positive"}"#)
        );
    }

    #[test]
    fn malformed_payloads_say_what_is_wrong() {
        for (json, expected) in [
            (r#"{"connection_id": 7}"#, "invalid type: integer `7`"),
            (r#"{"from": ["+1"]}"#, "invalid type: sequence"),
        ] {
            let err = serde_json::from_str::<CallLeg>(json)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{json}: {err}");
        }
        let err = serde_json::from_str::<ConversationEnded>(r#"{"duration_sec": "long"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type: string \"long\""), "{err}");
        let err = serde_json::from_str::<ConversationEnded>(r#"{"messages": [{"content": "x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `role`"), "{err}");
    }
}
