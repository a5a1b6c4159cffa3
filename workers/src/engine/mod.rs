//! The flow engine: what a tenant's message flows say to a customer, step by step.
//!
//! The heart of it is pure: [`flow::advance`] takes a valid [`Flow`](switchyard_shared::flows::Flow),
//! where the conversation stands in it ([`flow::FlowPosition`], or nowhere) and the customer's
//! message ([`reply::Inbound`]), and returns what to send ([`intent::OutboundIntent`]) and where
//! the conversation stands afterwards. It reads no database and sends nothing, so every rule
//! of a flow's behaviour is tested without services.
//!
//! Around it, [`conversation::answer`] handles each inbound message a channel's handler stored:
//! it locks the conversation's state, picks the flow (the one it waits in, or the first
//! runnable flow whose trigger matches), calls `advance`, queues the intents in the outbox and
//! writes the new state — all in the event's transaction, so a redelivered message changes
//! nothing. A message no flow takes goes to the LLM: it joins the conversation's pending turn,
//! which [`llm_turn::LlmTurnRunner`] answers a moment later with Gemini.
//!
//! Intents are channel-agnostic: a channel with reply buttons (WhatsApp) sends them as
//! buttons; any other renders them as a numbered list
//! ([`OutboundIntent::as_plain_text`](intent::OutboundIntent::as_plain_text)), and a reply
//! of "2" or the button's title counts as that button.

pub mod conversation;
pub mod flow;
pub mod intent;
pub mod llm_turn;
pub mod reply;

pub use flow::{FlowPosition, StepOutcome, advance};
pub use intent::{ButtonIntent, OutboundIntent};
pub use reply::Inbound;
