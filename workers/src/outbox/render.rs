//! Turning a channel-neutral reply into the outbox request of the conversation's channel.
//!
//! The conversation engine answers with a [`Reply`] — text, and optionally reply buttons —
//! without knowing the channel. [`destination`] reads where the conversation's answers go
//! (the tenant's WhatsApp number and the customer's WhatsApp id, the customer's phone number,
//! or the email thread to answer in), and [`request`] writes the request its channel's sender
//! takes:
//!
//! - WhatsApp: a text, or an interactive message with the reply buttons (at most 3);
//! - SMS and email have no buttons: the options follow the text as a numbered list
//!   (`1) Saturday`), and the customer answers with the number or the title, which the flow
//!   matches like a tap.

use serde_json::Value;
use switchyard_shared::db::{DbError, TenantTx, conversations, whatsapp_channels};
use switchyard_shared::domain::Channel;
use uuid::Uuid;

use super::email::EmailRequest;
use super::sms::SmsRequest;
use crate::gmail::mime::Mailbox;
use crate::gmail::reply::Original;
use crate::senders::whatsapp::{ReplyButton, TextMessage};

/// What the engine says, whatever the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<ReplyButton>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            buttons: Vec::new(),
        }
    }

    /// The text followed by the buttons as a numbered list, for channels without buttons.
    pub fn as_plain_text(&self) -> String {
        let mut text = self.text.clone();
        for (i, button) in self.buttons.iter().enumerate() {
            text.push_str(&format!("\n{}) {}", i + 1, button.title));
        }
        text
    }
}

/// Where a conversation's answers go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Whatsapp {
        phone_number_id: String,
        /// The customer's WhatsApp id (phone digits), or for username users their BSUID.
        to: Option<String>,
        recipient: Option<String>,
    },
    Sms {
        to: String,
    },
    Email {
        original: Original,
    },
}

impl Destination {
    /// The channel a reply to this destination goes out on.
    pub fn channel(&self) -> Channel {
        match self {
            Self::Whatsapp { .. } => Channel::Whatsapp,
            Self::Sms { .. } => Channel::Sms,
            Self::Email { .. } => Channel::Email,
        }
    }
}

/// Why a conversation's answers cannot go anywhere.
#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Unreachable(String),
}

/// Where the answers of conversation `id` go, and the contact they go to.
pub async fn destination(
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<(Destination, Uuid), DestinationError> {
    let parties = conversations::parties(tx, id).await?;
    let unreachable = |why: &str| DestinationError::Unreachable(why.to_owned());
    let parties = parties.ok_or_else(|| unreachable("no such conversation"))?;
    let contact = parties.contact_id;
    let destination = match parties.channel.as_str() {
        "whatsapp" => {
            let number = whatsapp_channels::get(tx)
                .await?
                .ok_or_else(|| unreachable("the tenant has no WhatsApp number"))?;
            let to = parties.whatsapp_id.or(parties.phone);
            if to.is_none() && parties.whatsapp_user_id.is_none() {
                return Err(unreachable("the contact has no WhatsApp id"));
            }
            Destination::Whatsapp {
                phone_number_id: number.phone_number_id,
                recipient: parties.whatsapp_user_id.filter(|_| to.is_none()),
                to: to.map(|t| t.trim_start_matches('+').to_owned()),
            }
        }
        "sms" | "voice" => Destination::Sms {
            to: parties
                .phone
                .ok_or_else(|| unreachable("the contact has no phone number"))?,
        },
        "email" => {
            let headers = parties
                .last_email
                .ok_or_else(|| unreachable("the conversation has no email to answer"))?;
            Destination::Email {
                original: original_of(&headers)
                    .ok_or_else(|| unreachable("the last email has no sender to answer"))?,
            }
        }
        other => {
            return Err(DestinationError::Unreachable(format!(
                "no replies on channel {other}"
            )));
        }
    };
    Ok((destination, contact))
}

/// The email to answer, from the headers the email handler stores as `raw`.
fn original_of(headers: &Value) -> Option<Original> {
    let mailbox = |v: &Value| -> Option<Mailbox> { serde_json::from_value(v.clone()).ok() };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let recipient = mailbox(&headers["reply_to"]).or_else(|| mailbox(&headers["from"]))?;
    let message_id = headers["message_id"].as_str().map(str::to_owned);
    let mut references = strings(&headers["references"]);
    if references.is_empty() {
        references = strings(&headers["in_reply_to"]);
    }
    if let Some(id) = &message_id
        && references.last() != Some(id)
    {
        references.push(id.clone());
    }
    Some(Original {
        recipient,
        subject: headers["subject"].as_str().unwrap_or_default().to_owned(),
        message_id,
        references,
        thread_id: headers["thread_id"].as_str().unwrap_or_default().to_owned(),
    })
}

/// The outbox request that says `reply` to `destination`.
pub fn request(destination: &Destination, reply: &Reply) -> Value {
    match destination {
        Destination::Whatsapp {
            phone_number_id,
            to,
            recipient,
        } => serde_json::json!(TextMessage {
            phone_number_id: phone_number_id.clone(),
            to: to.clone(),
            recipient: recipient.clone(),
            text: reply.text.clone(),
            reply_to: None,
            buttons: reply.buttons.iter().take(3).cloned().collect(),
        }),
        Destination::Sms { to } => SmsRequest::text(to, reply.as_plain_text()).to_json(),
        Destination::Email { original } => EmailRequest {
            original: original.clone(),
            text: reply.as_plain_text(),
        }
        .to_json(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn menu() -> Reply {
        Reply {
            text: "Which day suits you?".into(),
            buttons: vec![
                ReplyButton {
                    id: "sat".into(),
                    title: "Saturday".into(),
                },
                ReplyButton {
                    id: "sun".into(),
                    title: "Sunday".into(),
                },
            ],
        }
    }

    #[test]
    fn whatsapp_keeps_the_buttons() {
        let to = Destination::Whatsapp {
            phone_number_id: "100000000000001".into(),
            to: Some("15550001111".into()),
            recipient: None,
        };
        let request = request(&to, &menu());
        assert_eq!(request["buttons"][1]["id"], "sun");
        assert_eq!(request["text"], "Which day suits you?");
        let message: TextMessage = serde_json::from_value(request).unwrap();
        assert_eq!(message.message_type(), "interactive");
    }

    #[test]
    fn sms_and_email_list_the_options() {
        let sms = request(
            &Destination::Sms {
                to: "+15550001111".into(),
            },
            &menu(),
        );
        assert_eq!(
            sms,
            json!({"to": "+15550001111", "text": "Which day suits you?\n1) Saturday\n2) Sunday"})
        );
        let headers = json!({
            "subject": "Booking", "thread_id": "t1", "message_id": "c@x",
            "references": ["a@x"], "in_reply_to": ["a@x"],
            "from": {"address": "alex@example.org", "name": "Alex"}, "reply_to": null,
        });
        let original = original_of(&headers).unwrap();
        assert_eq!(original.references, ["a@x", "c@x"]);
        assert_eq!(original.recipient.address, "alex@example.org");
        let email = request(&Destination::Email { original }, &menu());
        assert_eq!(email["thread_id"], "t1");
        assert!(email["text"].as_str().unwrap().ends_with("2) Sunday"));
    }
}
