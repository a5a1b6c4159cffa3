//! The customer's message, and how a branch matches it: by the button it picks (tapped, or
//! answered by number or title where buttons were a numbered list), or by keywords.

use switchyard_shared::flows::{Button, Condition};

/// An inbound message as a flow sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inbound {
    /// The message text (for a tapped WhatsApp button, its title); empty for media.
    pub text: String,
    /// The id of the tapped reply button, on channels that have them.
    pub button_id: Option<String>,
}

impl Inbound {
    pub fn text(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            button_id: None,
        }
    }

    pub fn button(id: &str, title: &str) -> Self {
        Self {
            text: title.to_owned(),
            button_id: Some(id.to_owned()),
        }
    }
}

/// A message in answer to a step, with the button it picks among those the step offered.
pub(super) struct Reply<'a> {
    inbound: &'a Inbound,
    chosen: Option<&'a str>,
}

impl<'a> Reply<'a> {
    /// `offered`: the buttons of the step the message answers (none if it answers nothing).
    pub(super) fn new(inbound: &'a Inbound, offered: &'a [Button]) -> Self {
        Self {
            inbound,
            chosen: chosen_button(inbound, offered),
        }
    }

    pub(super) fn matches(&self, condition: &Condition) -> bool {
        match condition {
            Condition::Button(id) => {
                self.chosen == Some(id.as_str()) || self.inbound.button_id.as_deref() == Some(id)
            }
            Condition::Keywords(keywords) => keywords.iter().any(|k| k.matches(&self.inbound.text)),
        }
    }
}

/// The offered button a message picks: by the tapped id, else by its number in the list
/// (`2`, `2)`, `2.`), else by its title (any case).
fn chosen_button<'a>(inbound: &Inbound, offered: &'a [Button]) -> Option<&'a str> {
    if let Some(id) = &inbound.button_id
        && let Some(button) = offered.iter().find(|b| b.id() == id)
    {
        return Some(button.id());
    }
    let text = inbound.text.trim();
    let number = text.trim_end_matches([')', '.']).trim();
    if let Ok(n) = number.parse::<usize>()
        && let Some(button) = n.checked_sub(1).and_then(|i| offered.get(i))
    {
        return Some(button.id());
    }
    let lower = text.to_lowercase();
    offered
        .iter()
        .find(|b| b.title().to_lowercase() == lower)
        .map(Button::id)
}
