//! Replies a handler queues: rows in the outbox, written in the event's transaction and sent
//! after it commits (see [`crate::outbox`]).
//!
//! Every reply has an idempotency key naming its cause, unique per tenant, so the same cause
//! never queues two sends — e.g. `welcome:{contact}` for the first-contact welcome the
//! conversation engine queues, or `flow:{event}:{message}:{n}` for a flow's n-th message in answer to one message
//! of an event.

use serde_json::Value;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::outbox::{self, NewOutbound};
use switchyard_shared::domain::Channel;
use switchyard_shared::envelope::Envelope;
use uuid::Uuid;

use super::HandleError;

/// Who a reply goes to, and on which channel.
#[derive(Debug, Clone, Copy)]
pub struct Recipient {
    pub channel: Channel,
    pub contact_id: Uuid,
    pub conversation_id: Option<Uuid>,
}

/// Queue `request` (the channel's outbox request) under `key`; `None` when a reply with that
/// key was queued before.
pub async fn queue(
    tx: &mut TenantTx,
    envelope: &Envelope,
    to: Recipient,
    key: &str,
    request: Value,
) -> Result<Option<Uuid>, HandleError> {
    Ok(outbox::enqueue(
        tx,
        &NewOutbound {
            channel: to.channel,
            conversation_id: to.conversation_id,
            contact_id: Some(to.contact_id),
            idempotency_key: key,
            request,
            source_event_id: Some(envelope.id),
        },
    )
    .await?)
}
