//! What the engine does with one inbound message, whatever its channel: inside the event's
//! transaction, right after the channel's handler stored the message.
//!
//! 1. Lock the conversation's state, so one conversation's messages are answered one at a
//!    time (the queue already applies them in order; the lock also covers replays).
//! 2. A conversation handed over to a person gets no automatic answer.
//! 3. A conversation waiting in a flow goes on in that flow ([`advance`]).
//! 4. Otherwise the first runnable flow whose trigger matches starts (flows in the tenant's
//!    module order: a first-contact flow for a new contact, keyword flows by the message).
//! 5. Otherwise a contact's first message gets the tenant's welcome text, and the message is
//!    left to the LLM: it joins the conversation's pending LLM turn ([`super::llm_turn`]),
//!    answered after a short window so messages sent in pieces get one answer.
//!
//! A flow's intents are queued in the outbox in order, rendered for the conversation's channel
//! ([`render`]), each under a key naming the event, the message and its place, so a replayed
//! event queues nothing twice and each message of an event gets its own answer; the new state
//! is written in the same transaction.

use std::time::Duration;

use switchyard_shared::db::conversation_states::{self, ConversationState};
use switchyard_shared::db::{TenantTx, flows, llm_turns};
use switchyard_shared::envelope::Envelope;
use switchyard_shared::flows::{FlowDefinition, FlowStatus, Trigger};
use uuid::Uuid;

use super::{FlowPosition, Inbound, OutboundIntent, advance};
use crate::handlers::HandleError;
use crate::handlers::replies::{self, Recipient};
use crate::outbox::render::{self, Reply};
use crate::senders::whatsapp::ReplyButton;

/// An inbound message a handler stored, to be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answerable {
    pub conversation_id: Uuid,
    pub contact_id: Uuid,
    /// The provider's id of the message (one event may carry several: a Gmail notification
    /// brings every new mail since the last one).
    pub provider_message_id: String,
    /// The message created its contact.
    pub first_contact: bool,
    pub text: String,
    /// The reply button the customer tapped, on channels that have them.
    pub button_id: Option<String>,
}

/// How the LLM batches a conversation's messages.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    /// A turn runs this long after the latest message that joined it…
    pub window: Duration,
    /// …but no later than this after its first.
    pub max_wait: Duration,
}

/// What answering a message did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answered {
    /// Outbox rows to dispatch after commit.
    pub outbox: Vec<Uuid>,
    /// The LLM turn the message joined, if it went to the LLM.
    pub llm_turn: Option<Uuid>,
}

/// Answer `message` of `envelope` inside `tx`; `welcome_text` is the tenant's.
pub async fn answer(
    tx: &mut TenantTx,
    envelope: &Envelope,
    message: &Answerable,
    welcome_text: Option<&str>,
    batching: Batching,
) -> Result<Answered, HandleError> {
    let Some(state) = conversation_states::lock(tx, message.conversation_id).await? else {
        return Ok(Answered::default());
    };
    if state.status == FlowStatus::HandedOver {
        tracing::debug!("conversation handed over to a person; no automatic answer");
        return Ok(Answered::default());
    }
    let input = Inbound {
        text: message.text.clone(),
        button_id: message.button_id.clone(),
    };
    let runnable = flows::runnable(tx).await?;
    let waiting_in = waiting_flow(&state);
    let current = runnable
        .iter()
        .find(|f| Some(f.id) == waiting_in)
        .map(|f| (f, FlowPosition::from_state(&state, f.id)));
    let started = || {
        runnable
            .iter()
            .find(|f| {
                Trigger::parse(&f.trigger)
                    .is_ok_and(|t| t.matches(&message.text, message.first_contact))
            })
            .map(|f| (f, None))
    };
    if let Some((record, at)) = current.or_else(started) {
        let definition = FlowDefinition {
            steps: record.steps.clone(),
        };
        match definition.parse() {
            Ok(flow) => {
                let outcome = advance(&flow, at.as_ref(), &input);
                let outbox = queue_intents(tx, envelope, message, &outcome.intents).await?;
                let state = FlowPosition::to_state(outcome.next.as_ref(), record.id);
                conversation_states::upsert(tx, message.conversation_id, &state).await?;
                return Ok(Answered {
                    outbox,
                    llm_turn: None,
                });
            }
            Err(e) => {
                tracing::error!(flow = %record.id, error = %e, "stored flow does not parse; skipped")
            }
        }
    }

    let mut answered = Answered::default();
    if message.first_contact
        && let Some(text) = welcome_text
    {
        answered.outbox.extend(
            queue_reply(
                tx,
                envelope,
                message,
                &format!("welcome:{}", message.contact_id),
                Reply::text(text),
            )
            .await?,
        );
    }
    if !message.text.trim().is_empty() {
        answered.llm_turn = Some(
            llm_turns::schedule(
                tx,
                message.conversation_id,
                batching.window,
                batching.max_wait,
            )
            .await?,
        );
    }
    Ok(answered)
}

/// The flow a conversation waits in, if any.
fn waiting_flow(state: &ConversationState) -> Option<Uuid> {
    match state.status {
        FlowStatus::WaitingReply | FlowStatus::InFlow => state.flow_id,
        _ => None,
    }
}

async fn queue_intents(
    tx: &mut TenantTx,
    envelope: &Envelope,
    message: &Answerable,
    intents: &[OutboundIntent],
) -> Result<Vec<Uuid>, HandleError> {
    let mut queued = Vec::new();
    for (i, intent) in intents.iter().enumerate() {
        let reply = match intent {
            OutboundIntent::Text { body } => Reply::text(body.clone()),
            OutboundIntent::Buttons { body, buttons } => Reply {
                text: body.clone(),
                buttons: buttons
                    .iter()
                    .map(|b| ReplyButton {
                        id: b.id.clone(),
                        title: b.title.clone(),
                    })
                    .collect(),
            },
            OutboundIntent::Handover => continue,
        };
        let key = flow_reply_key(envelope, message, i);
        queued.extend(queue_reply(tx, envelope, message, &key, reply).await?);
    }
    Ok(queued)
}

/// The idempotency key of the `n`-th message a flow sends in answer to `message` of `envelope`.
fn flow_reply_key(envelope: &Envelope, message: &Answerable, n: usize) -> String {
    format!("flow:{}:{}:{n}", envelope.id, message.provider_message_id)
}

async fn queue_reply(
    tx: &mut TenantTx,
    envelope: &Envelope,
    message: &Answerable,
    key: &str,
    reply: Reply,
) -> Result<Option<Uuid>, HandleError> {
    let destination = match render::destination(tx, message.conversation_id).await {
        Ok((destination, _)) => destination,
        Err(render::DestinationError::Db(e)) => return Err(e.into()),
        Err(e) => {
            tracing::warn!(error = %e, "reply has nowhere to go; not queued");
            return Ok(None);
        }
    };
    let to = Recipient {
        channel: destination.channel(),
        contact_id: message.contact_id,
        conversation_id: Some(message.conversation_id),
    };
    replies::queue(tx, envelope, to, key, render::request(&destination, &reply)).await
}
