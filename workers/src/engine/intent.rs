//! What a flow wants said to the customer, before any channel decides how to say it.

use serde::{Deserialize, Serialize};
use switchyard_shared::flows::Button;

/// One thing to send, or to do, for the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundIntent {
    /// A text message.
    Text { body: String },
    /// A question with reply buttons (at most three, titles of at most 20 characters).
    Buttons {
        body: String,
        buttons: Vec<ButtonIntent>,
    },
    /// Hand the conversation to a person.
    Handover,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonIntent {
    pub id: String,
    pub title: String,
}

impl From<&Button> for ButtonIntent {
    fn from(button: &Button) -> Self {
        Self {
            id: button.id().to_owned(),
            title: button.title().to_owned(),
        }
    }
}

impl OutboundIntent {
    pub fn buttons(body: &str, buttons: &[Button]) -> Self {
        Self::Buttons {
            body: body.to_owned(),
            buttons: buttons.iter().map(ButtonIntent::from).collect(),
        }
    }

    /// The message for a channel without buttons (SMS, email): buttons become a numbered list
    /// under the body, one `1) Title` line each; the customer answers with the number or the
    /// title. `None` for what is not a message (a handover).
    pub fn as_plain_text(&self) -> Option<String> {
        match self {
            Self::Text { body } => Some(body.clone()),
            Self::Buttons { body, buttons } => {
                let mut text = body.clone();
                text.push('\n');
                for (i, button) in buttons.iter().enumerate() {
                    text.push_str(&format!("\n{}) {}", i + 1, button.title));
                }
                Some(text)
            }
            Self::Handover => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_render_as_a_numbered_list() {
        let intent = OutboundIntent::Buttons {
            body: "How can we help?".into(),
            buttons: vec![
                ButtonIntent {
                    id: "book".into(),
                    title: "Book a visit".into(),
                },
                ButtonIntent {
                    id: "hours".into(),
                    title: "Opening hours".into(),
                },
            ],
        };
        assert_eq!(
            intent.as_plain_text().unwrap(),
            "How can we help?\n\n1) Book a visit\n2) Opening hours"
        );
        let text = OutboundIntent::Text { body: "Hi".into() };
        assert_eq!(text.as_plain_text().as_deref(), Some("Hi"));
        assert_eq!(OutboundIntent::Handover.as_plain_text(), None);
    }

    #[test]
    fn intents_serialize_with_a_type_tag() {
        let json = serde_json::to_value(OutboundIntent::Text { body: "Hi".into() }).unwrap();
        assert_eq!(json, serde_json::json!({ "type": "text", "body": "Hi" }));
        let back: OutboundIntent =
            serde_json::from_value(serde_json::json!({ "type": "handover" })).unwrap();
        assert_eq!(back, OutboundIntent::Handover);
    }
}
