//! Applying voice events: Telnyx Call Control webhooks and what its AI assistant reports.
//!
//! - `call.initiated`, `call.answered`, `call.hangup` merge into the call's record (`calls`,
//!   one per `call_session_id`): parties, direction, start / answer / end times, hangup cause.
//!   Telnyx delivers them out of order, so the repository keeps every fact the first time it
//!   is seen and moves the state forward only — a hangup that comes before its `initiated`
//!   still ends as an ended call.
//! - `call.conversation.ended` stores the assistant's transcript and a short summary on the
//!   call, creates or updates the caller's open lead (source channel `voice`, notes = the
//!   summary), and — when the tenant's voice config has a `follow_up_sms_text` — queues that
//!   text as one SMS to the caller (idempotency key `follow-up:{call_session_id}`).
//! - `call.conversation_insights.generated` makes the insight results the summary of the call
//!   and the notes of its lead.
//!
//! The caller is the other party: the payload says which when it has a direction; otherwise
//! it is the contact of the envelope's conversation key, which the ingress resolved. A caller
//! whose number is not E.164 (a SIP URI) gets no contact, lead or follow-up.

use chrono::Utc;
use serde_json::Value;
use switchyard_shared::db::calls::{self, CallEvent, CallState};
use switchyard_shared::db::{TenantTx, channel_configs, contacts, conversations, leads};
use switchyard_shared::domain::{Channel, E164Number};
use switchyard_shared::envelope::Envelope;
use switchyard_shared::payloads::telnyx::{
    CallLeg, CallProgress, ConversationEnded, Direction, Event, InsightsGenerated, Role, Webhook,
};
use uuid::Uuid;

use super::replies::{self, Recipient};
use super::{Applied, HandleError, permanent};
use crate::outbox::sms::SmsRequest;

/// Apply one voice envelope inside `tx` (whose dedup key the caller has claimed).
pub async fn apply(tx: &mut TenantTx, envelope: &Envelope) -> Result<Applied, HandleError> {
    let body = serde_json::to_vec(&envelope.payload).map_err(|e| permanent("payload", e))?;
    let webhook = Webhook::parse(&body).map_err(|e| permanent("payload", e))?;
    let at = webhook.occurred_at();
    let event = webhook.event().map_err(|e| permanent("payload", e))?;
    let (leg, progress) = match &event {
        Event::CallInitiated(leg, p) => (leg, Some((CallState::Initiated, p))),
        Event::CallAnswered(leg, p) => (leg, Some((CallState::Answered, p))),
        Event::CallHangup(leg, p) => (leg, Some((CallState::Ended, p))),
        Event::ConversationEnded(leg, _) | Event::InsightsGenerated(leg, _) => (leg, None),
        _ => {
            tracing::info!(event_type = %webhook.event_type(), "voice event kept without action");
            return Ok(Applied::default());
        }
    };
    let call = Call::record(tx, envelope, leg, progress.map(|(state, p)| (state, p, at))).await?;
    match event {
        Event::ConversationEnded(_, ended) => conversation_ended(tx, envelope, &call, &ended).await,
        Event::InsightsGenerated(_, insights) => {
            insights_generated(tx, &call, &insights).await?;
            Ok(Applied::default())
        }
        _ => Ok(Applied::default()),
    }
}

/// The call an event belongs to, once recorded.
struct Call {
    id: Uuid,
    session_id: String,
    /// The other party, when they have a phone number.
    caller: Option<(E164Number, Uuid)>,
}

impl Call {
    /// Merge what the event says into the call's record. `progress` is the state a
    /// `call.initiated` / `answered` / `hangup` proves, its payload, and when it happened.
    async fn record(
        tx: &mut TenantTx,
        envelope: &Envelope,
        leg: &CallLeg<'_>,
        progress: Option<(CallState, &CallProgress<'_>, Option<chrono::DateTime<Utc>>)>,
    ) -> Result<Self, HandleError> {
        let session_id = leg
            .call_session_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| permanent("payload", "no call_session_id"))?;
        let party = leg
            .remote_party()
            .unwrap_or_else(|| envelope.conversation_key.contact());
        let caller = match E164Number::parse(party) {
            Ok(phone) => {
                let (contact_id, _) = contacts::upsert_phone(tx, &phone).await?;
                Some((phone, contact_id))
            }
            Err(_) => None,
        };
        let mut event = CallEvent {
            call_session_id: session_id,
            call_control_id: leg.call_control_id.as_deref(),
            connection_id: leg.connection_id.as_deref(),
            direction: match leg.direction {
                Some(Direction::Incoming) => Some("incoming"),
                Some(Direction::Outgoing) => Some("outgoing"),
                _ => None,
            },
            from: leg.from.as_deref(),
            to: leg.to.as_deref(),
            contact_id: caller.as_ref().map(|(_, id)| *id),
            state: CallState::Initiated,
            started_at: None,
            answered_at: None,
            ended_at: None,
            hangup_cause: None,
            hangup_source: None,
            sip_hangup_cause: None,
        };
        if let Some((state, p, at)) = progress {
            event.state = state;
            event.started_at = p.start_time;
            match state {
                CallState::Initiated => event.started_at = p.start_time.or(at),
                CallState::Answered => event.answered_at = at,
                CallState::Ended => {
                    event.ended_at = p.end_time.or(at);
                    event.hangup_cause = p.hangup_cause.as_deref();
                    event.hangup_source = p.hangup_source.as_deref();
                    event.sip_hangup_cause = p.sip_hangup_cause.as_deref();
                }
            }
        }
        let id = calls::record(tx, &event).await?;
        Ok(Self {
            id,
            session_id: session_id.to_owned(),
            caller,
        })
    }
}

async fn conversation_ended(
    tx: &mut TenantTx,
    envelope: &Envelope,
    call: &Call,
    ended: &ConversationEnded<'_>,
) -> Result<Applied, HandleError> {
    let transcript = envelope
        .payload
        .pointer("/data/payload/messages")
        .filter(|m| m.as_array().is_some_and(|turns| !turns.is_empty()));
    let summary = summary_of(ended);
    let summary = calls::set_conversation(
        tx,
        call.id,
        ended.conversation_id.as_deref(),
        transcript,
        &summary,
    )
    .await?;
    let mut applied = Applied::default();
    let Some((phone, contact_id)) = &call.caller else {
        return Ok(applied);
    };
    leads::upsert_open(
        tx,
        *contact_id,
        Channel::Voice,
        summary.as_deref(),
        Some(call.id),
    )
    .await?;

    let follow_up = channel_configs::get(tx, Channel::Voice)
        .await?
        .and_then(|voice| {
            voice
                .settings
                .get("follow_up_sms_text")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        });
    if let Some(text) = follow_up {
        let conversation_id = conversations::upsert(tx, *contact_id, Channel::Sms, None).await?;
        let to = Recipient {
            channel: Channel::Sms,
            contact_id: *contact_id,
            conversation_id: Some(conversation_id),
        };
        let key = format!("follow-up:{}", call.session_id);
        let request = SmsRequest::text(phone.as_str(), text).to_json();
        applied
            .outbox
            .extend(replies::queue(tx, envelope, to, &key, request).await?);
    }
    Ok(applied)
}

/// A line about the assistant's conversation, until insights give a better summary.
fn summary_of(ended: &ConversationEnded<'_>) -> String {
    let mut summary = String::from("AI assistant conversation");
    if let Some(seconds) = ended.duration_sec {
        summary.push_str(&format!(" of {seconds} s"));
    }
    if let Some(reason) = ended.reason.as_deref() {
        summary.push_str(&format!(", ended by {reason}"));
    }
    let said: Vec<&str> = ended
        .messages
        .iter()
        .filter(|m| m.role == Role::User)
        .filter_map(|m| m.content.as_deref())
        .collect();
    if let Some(first) = said.first() {
        summary.push_str(&format!("; the caller said: \"{first}\""));
    }
    summary.push('.');
    summary
}

/// The insight results as text, one per line (structured results as their JSON).
fn insights_text(insights: &InsightsGenerated<'_>) -> String {
    insights
        .results
        .iter()
        .filter_map(|r| {
            r.text()
                .or_else(|| r.result.map(|raw| raw.get().to_owned()))
        })
        .filter(|text| !text.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn insights_generated(
    tx: &mut TenantTx,
    call: &Call,
    insights: &InsightsGenerated<'_>,
) -> Result<(), HandleError> {
    let text = insights_text(insights);
    if text.is_empty() {
        tracing::info!("insights without results kept without action");
        return Ok(());
    }
    calls::set_summary(tx, call.id, &text).await?;
    leads::note_call(tx, call.id, &text).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_how_long_why_and_what_the_caller_wanted() {
        let ended: ConversationEnded = serde_json::from_str(
            r#"{"duration_sec": 252, "reason": "user_hangup", "messages": [
                {"role": "assistant", "content": "Hello, how can I help?"},
                {"role": "user", "content": "A table for four tonight."}]}"#,
        )
        .unwrap();
        assert_eq!(
            summary_of(&ended),
            "AI assistant conversation of 252 s, ended by user_hangup; \
             the caller said: \"A table for four tonight.\"."
        );
        let bare: ConversationEnded = serde_json::from_str("{}").unwrap();
        assert_eq!(summary_of(&bare), "AI assistant conversation.");
    }

    #[test]
    fn insights_become_text_lines() {
        let insights: InsightsGenerated = serde_json::from_str(
            r#"{"results": [{"insight_id": "i1", "result": "Booked a table."},
                            {"insight_id": "i2", "result": {"sentiment": "positive"}},
                            {"insight_id": "i3", "result": " "}, {"insight_id": "i4"}]}"#,
        )
        .unwrap();
        assert_eq!(
            insights_text(&insights),
            "Booked a table.\n{\"sentiment\": \"positive\"}"
        );
    }
}
