//! One handler per channel. Each applies one envelope inside the caller's tenant
//! transaction and reports the outbox rows it queued.
//!
//! - [`whatsapp`]: WhatsApp Cloud API messages and receipts.
//! - [`sms`]: Telnyx messaging (messages and receipts) and legacy Twilio inbound SMS.
//! - [`voice`]: Telnyx calls and their AI assistant: call records, transcripts, leads.
//! - [`email`]: Gmail push notifications, which sync the tenant's mailbox.
//! - [`replies`]: what handlers queue for the outbox.
//!
//! A handler does not answer the customer itself: it reports each inbound message it stored
//! ([`Applied::answerable`]), and the conversation engine ([`crate::engine`]) answers it.

pub mod email;
pub mod replies;
pub mod sms;
pub mod voice;
pub mod whatsapp;

use switchyard_shared::db::DbError;

pub use crate::engine::conversation::Answerable;
use uuid::Uuid;

/// What applying an event produced.
#[derive(Debug, Default)]
pub struct Applied {
    /// Outbox rows queued by this event, to dispatch after commit.
    pub outbox: Vec<Uuid>,
    /// Inbound messages it stored for the first time, for the conversation engine to answer
    /// in the same transaction.
    pub answerable: Vec<Answerable>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The database is out of reach: nothing can succeed until it is back (the queue holds
    /// the event meanwhile, counting no attempt).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// This event may succeed later (a provider's 5xx or 429, a concurrent insert of the same
    /// contact): retried, then after each retry tier's delay.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never succeed (the payload is not what the channel sends).
    #[error("permanent: {0}")]
    Permanent(String),
}

impl From<DbError> for HandleError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            HandleError::Unavailable(e.to_string())
        } else if e.is_transient() {
            HandleError::Transient(e.to_string())
        } else {
            HandleError::Permanent(e.to_string())
        }
    }
}

/// A payload that can never be applied: `what` is wrong because of `e`.
pub(crate) fn permanent(what: &str, e: impl std::fmt::Display) -> HandleError {
    HandleError::Permanent(format!("{what}: {e}"))
}
