//! # switchyard-workers
//!
//! Workers take envelopes off the queue and make them true in the database, once.
//!
//! For each delivery ([`consumer`]): open one transaction scoped to the envelope's tenant
//! (row-level security), claim the envelope's dedup key — a conflict means the event was
//! applied before, so it is acknowledged and skipped — apply the event with the handler for its
//! channel ([`handlers`]), queue any reply as an outbox row, commit, and only then acknowledge.
//! Replies leave through the [`outbox`] dispatcher and the channel [`senders`], after the
//! commit, so a redelivered event never sends twice.
//!
//! Replies written by an LLM come from Gemini through [`llm`].
//! Message flows are walked by the [`engine`]: a pure function from a conversation's place in
//! a flow and the customer's message to the replies and the next place.
//!
//! A tenant's events beyond its fair share are parked and drained round-robin across tenants
//! ([`fairness`]), so one tenant's flood does not delay the others.
//!
//! Workers share nothing but PostgreSQL and the broker, so any number of them can run.

pub mod consumer;
pub mod engine;
pub mod fairness;
pub mod gmail;
pub mod handlers;
pub mod llm;
pub mod outbox;
pub mod senders;
pub mod startup;

pub use startup::Worker;
