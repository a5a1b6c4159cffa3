//! Walking a flow: from where a conversation stands and the customer's new message, what to
//! send and where the conversation stands next.
//!
//! - **No position** (idle): the message started the flow; walk from the first step.
//! - **Waiting at a `buttons` or `wait_reply` step**: the message is the reply; walk from the
//!   step's `next`.
//! - **Handed over**: say nothing, stay handed over.
//!
//! Walking sends `text` steps and follows their `next` until a step waits (`buttons` sends its
//! buttons, `wait_reply` its optional prompt; the conversation then waits there), a `handover`
//! (hand over, then silence) or an `end` (idle). A `branch` looks at the message being handled:
//! the first rule that matches — by button (tapped, or its number or title typed back), or by
//! keyword — decides the next step; else the `default`; else the question is asked again: the
//! waiting step the message answered sends its prompt again and keeps waiting.
//!
//! A position that no longer fits the flow (its steps were replaced and the step is gone, or is
//! no longer a waiting step) starts the flow over. [`FlowDefinition::parse`] refuses cycles
//! that do not wait, so a walk always stops; should it not, it ends the flow after visiting as
//! many steps as the flow has, rather than spin.
//!
//! [`FlowDefinition::parse`]: switchyard_shared::flows::FlowDefinition::parse

use switchyard_shared::db::conversation_states::{ConversationState, NewState};
use switchyard_shared::flows::{Action, Button, Flow, FlowStatus, Step};
use uuid::Uuid;

use super::intent::OutboundIntent;
use super::reply::{Inbound, Reply};

/// Where a conversation stands inside a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowPosition {
    /// At a `buttons` or `wait_reply` step (its id), waiting for the customer's reply.
    Waiting { step: String },
    /// A person has the conversation; the flow says nothing more.
    HandedOver,
}

impl FlowPosition {
    /// The position a stored state describes in flow `flow_id`; `None` when the conversation
    /// is idle, in another flow, or in a flow that was deleted.
    pub fn from_state(state: &ConversationState, flow_id: Uuid) -> Option<Self> {
        match (state.status, state.flow_id, &state.step_key) {
            (FlowStatus::HandedOver, _, _) => Some(Self::HandedOver),
            (FlowStatus::WaitingReply | FlowStatus::InFlow, Some(f), Some(step))
                if f == flow_id =>
            {
                Some(Self::Waiting { step: step.clone() })
            }
            _ => None,
        }
    }

    /// The state to store for `position` in flow `flow_id` (`None`: idle).
    pub fn to_state(position: Option<&Self>, flow_id: Uuid) -> NewState<'_> {
        match position {
            None => NewState::IDLE,
            Some(Self::Waiting { step }) => NewState {
                flow_id: Some(flow_id),
                step_key: Some(step),
                status: FlowStatus::WaitingReply,
            },
            Some(Self::HandedOver) => NewState {
                flow_id: Some(flow_id),
                step_key: None,
                status: FlowStatus::HandedOver,
            },
        }
    }
}

/// What one message did to a conversation's flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// What to send, in order.
    pub intents: Vec<OutboundIntent>,
    /// Where the conversation stands now; `None`: idle, the flow is over.
    pub next: Option<FlowPosition>,
}

/// Handle `input` for a conversation at `at` in `flow` (`None`: not in it yet — `input` is
/// the message that started it).
pub fn advance(flow: &Flow, at: Option<&FlowPosition>, input: &Inbound) -> StepOutcome {
    match at {
        Some(FlowPosition::HandedOver) => StepOutcome {
            intents: Vec::new(),
            next: Some(FlowPosition::HandedOver),
        },
        Some(FlowPosition::Waiting { step }) => match flow.step(step) {
            Some(waiting) => resume(flow, waiting, input),
            None => Walk::new(flow, input, None).run(flow.entry()),
        },
        None => Walk::new(flow, input, None).run(flow.entry()),
    }
}

/// The reply to waiting step `waiting`: walk on from its `next`.
fn resume(flow: &Flow, waiting: &Step, input: &Inbound) -> StepOutcome {
    let next = match waiting.action() {
        Action::Buttons { next, .. } | Action::WaitReply { next, .. } => next,
        _ => return Walk::new(flow, input, None).run(flow.entry()),
    };
    let walk = Walk::new(flow, input, Some(waiting));
    match flow.step(next.as_str()) {
        Some(step) => walk.run(step),
        None => walk.finish(None),
    }
}

struct Walk<'a> {
    flow: &'a Flow,
    reply: Reply<'a>,
    /// The waiting step this message answers, if it answers one.
    answered: Option<&'a Step>,
    intents: Vec<OutboundIntent>,
}

impl<'a> Walk<'a> {
    fn new(flow: &'a Flow, input: &'a Inbound, answered: Option<&'a Step>) -> Self {
        let offered: &[Button] = match answered.map(Step::action) {
            Some(Action::Buttons { buttons, .. }) => buttons,
            _ => &[],
        };
        Self {
            flow,
            reply: Reply::new(input, offered),
            answered,
            intents: Vec::new(),
        }
    }

    fn run(mut self, from: &'a Step) -> StepOutcome {
        let mut at = from;
        for _ in 0..=self.flow.steps().len() {
            let next = match at.action() {
                Action::Text { body, next } => {
                    self.intents
                        .push(OutboundIntent::Text { body: body.clone() });
                    next
                }
                Action::Buttons { .. } | Action::WaitReply { .. } => {
                    self.intents.extend(prompt(at));
                    return self.wait_at(at);
                }
                Action::Branch { rules, default } => {
                    let chosen = rules
                        .iter()
                        .find(|rule| self.reply.matches(&rule.when))
                        .map(|rule| &rule.to)
                        .or(default.as_ref());
                    match (chosen, self.answered) {
                        (Some(next), _) => next,
                        (None, Some(question)) => {
                            self.intents.extend(prompt(question));
                            return self.wait_at(question);
                        }
                        (None, None) => return self.finish(None),
                    }
                }
                Action::Handover => {
                    self.intents.push(OutboundIntent::Handover);
                    return self.finish(Some(FlowPosition::HandedOver));
                }
                Action::End => return self.finish(None),
            };
            match self.flow.step(next.as_str()) {
                Some(step) => at = step,
                None => return self.finish(None),
            }
        }
        self.finish(None)
    }

    fn wait_at(self, step: &Step) -> StepOutcome {
        let position = FlowPosition::Waiting {
            step: step.id().as_str().to_owned(),
        };
        self.finish(Some(position))
    }

    fn finish(self, next: Option<FlowPosition>) -> StepOutcome {
        StepOutcome {
            intents: self.intents,
            next,
        }
    }
}

/// What a waiting step says when it starts waiting (and when its question is asked again).
fn prompt(step: &Step) -> Option<OutboundIntent> {
    match step.action() {
        Action::Buttons { body, buttons, .. } => Some(OutboundIntent::buttons(body, buttons)),
        Action::WaitReply {
            prompt: Some(body), ..
        } => Some(OutboundIntent::Text { body: body.clone() }),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
