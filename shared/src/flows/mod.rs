//! Message flows: the scripted conversations a tenant sets up, and the rules that make a flow
//! safe to run.
//!
//! A tenant enables **modules** from the platform's catalogue (welcome, FAQ, booking, …) and
//! orders them ([`ModuleOrder`]). Each module owns **flows**; a flow starts on a [`Trigger`]
//! (the customer's first contact, or a message with one of its [`Keyword`]s) and is a list of
//! **steps**. The admin API stores flows; the worker's flow engine runs them when a customer
//! writes, keeping each conversation's place in `conversation_states` ([`FlowStatus`]).
//!
//! What people write is a [`FlowDefinition`] (JSON; see [`definition`] for the fields of each
//! kind of step). [`FlowDefinition::parse`] is the only way to a [`Flow`], and refuses, with a
//! [`FlowError`] naming the offending step and field:
//!
//! - **Shape.** 1-100 steps; ids of 1-64 of `A-Z a-z 0-9 _ -`, unique in the flow; a known
//!   kind with exactly the fields it uses (an unused field is an error, not ignored); texts
//!   trimmed, not blank, within WhatsApp's limits (4096 characters for a message, 1024 above
//!   buttons).
//! - **Buttons.** 1-3 per step, titles of at most 20 characters; ids and titles unique in the
//!   step (titles compared ignoring case, because a channel without buttons accepts the title
//!   typed back as the answer).
//! - **One entry.** The first step in the list is where the flow starts; every other step must
//!   be reachable from it.
//! - **References.** Every `next`, branch `rules[].to` and `default` names a step of the flow,
//!   and every rule on a `button` names a button that some `buttons` step offers.
//! - **No cycle without a wait.** Running a flow walks from step to step until a step waits for
//!   the customer (`buttons`, `wait_reply`) or ends the walk (`end`, `handover`). So a cycle
//!   whose steps are all `text` or `branch` would run forever on one message — refused, naming
//!   its steps. A cycle that passes a `buttons` or `wait_reply` step is a menu loop: each turn
//!   waits for a new message, so it is fine.
//! - **Branches that run first need a default.** A branch matches the customer's latest
//!   message; with no rule matching and no `default`, it asks the waiting step's question again.
//!   A branch reachable from the entry without passing a waiting step runs on the message that
//!   started the flow, where there is no question to repeat, so it must have a `default`.

pub mod definition;
mod error;
mod flow;
mod keyword;
mod module_order;
mod parse;
mod status;
mod step;
mod trigger;

#[cfg(test)]
mod tests;

pub use definition::{
    ButtonDefinition, FlowDefinition, RuleDefinition, StepDefinition, TriggerDefinition,
    TriggerKind,
};
pub use error::FlowError;
pub use flow::Flow;
pub use keyword::Keyword;
pub use module_order::{ModuleOrder, OrderError};
pub use status::FlowStatus;
pub use step::{
    Action, Button, Condition, MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS, MAX_STEPS, Rule, Step, StepId,
    StepKind,
};
pub use trigger::Trigger;
