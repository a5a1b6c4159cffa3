//! Domain types that can only hold valid values ("parse, don't validate").
//!
//! Each type has a fallible constructor (`parse`) that is the only way in from untrusted text;
//! everything downstream takes the type, not a `String`, so a value is checked exactly once.

mod channel;
mod keys;
mod model;
mod month;
mod phone;
mod tenant;
mod whatsapp;

pub use channel::Channel;
pub use keys::{ConversationKey, DedupKey};
pub use model::ModelName;
pub use month::Month;
pub use phone::E164Number;
pub use tenant::{TenantId, TenantSlug, TenantStatus};
pub use whatsapp::{PhoneNumberId, WabaId};

/// Why a piece of text was refused by one of the domain parsers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct ParseError {
    pub what: &'static str,
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, reason: impl Into<String>) -> Self {
        Self {
            what,
            reason: reason.into(),
        }
    }
}
