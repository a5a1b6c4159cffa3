//! Build the email that answers an inbound one, ready for `users.messages.send`.
//!
//! Gmail threads a sent message with the conversation only when three things agree: the
//! request's `threadId`, the `In-Reply-To` / `References` headers (RFC 5322 §3.6.4), and the
//! subject. So a reply is:
//!
//! - `From`: the connected mailbox; `To`: the original's `Reply-To`, else its sender;
//! - `Subject: Re: <original subject>` — never `Re: Re:`, whatever case the prefix had;
//! - `In-Reply-To`: the original's `Message-ID`; `References`: the original's `References`
//!   (or, lacking them, its `In-Reply-To`) followed by its `Message-ID`;
//! - a fresh `Message-ID` on the mailbox's domain, the `Date`, and a UTF-8 `text/plain` body.
//!
//! [`mail_builder`] (Stalwart's, the companion of the parser used in [`super::mime`]) writes
//! the RFC 2822 text: it folds long headers, encodes non-ASCII subjects and names as RFC 2047
//! encoded words, and picks 7bit, quoted-printable or base64 for the body. The result is
//! base64url without padding in [`SendRequest::raw`], beside the `threadId`, which is exactly
//! the body of `messages.send` (see `tests/fixtures/gmail/send_request.json`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::message_id::MessageId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::client::SendRequest;
use super::mime::{InboundEmail, Mailbox};

/// Why a reply could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("the original message has no sender to answer")]
    NoRecipient,
    #[error("writing the message: {0}")]
    Write(#[from] std::io::Error),
}

/// What a reply needs of the message it answers; the outbox stores it with the reply's text,
/// so the reply is written when it is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Original {
    /// Where the reply goes: the original's `Reply-To`, else its sender.
    pub recipient: Mailbox,
    pub subject: String,
    /// The original's `Message-ID`, without angle brackets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The original's thread ancestry followed by the original itself: the reply's
    /// `References`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
    /// The Gmail thread.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thread_id: String,
}

impl From<&InboundEmail> for Original {
    fn from(email: &InboundEmail) -> Self {
        Self {
            recipient: email.reply_to.clone().unwrap_or_else(|| email.from.clone()),
            subject: email.subject.clone(),
            message_id: email.message_id.clone(),
            references: references(email),
            thread_id: email.thread_id.clone(),
        }
    }
}

/// The reply from `mailbox` to `original`, saying `body`, dated `now`.
pub fn build(
    mailbox: &Mailbox,
    original: &Original,
    body: &str,
    now: DateTime<Utc>,
) -> Result<SendRequest, ReplyError> {
    let recipient = &original.recipient;
    if recipient.address.is_empty() {
        return Err(ReplyError::NoRecipient);
    }
    let domain = mailbox
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, domain)| domain);
    let mut message = MessageBuilder::new()
        .from(address(mailbox))
        .to(address(recipient))
        .subject(reply_subject(&original.subject))
        .message_id(format!("{}@{domain}", Uuid::now_v7().simple()))
        .date(now.timestamp())
        .text_body(body);
    if let Some(id) = &original.message_id {
        let references: Vec<&str> = original.references.iter().map(String::as_str).collect();
        message = message
            .in_reply_to(MessageId::new(id.as_str()))
            .references(MessageId::from(references));
    }
    let raw = message.write_to_vec()?;
    Ok(SendRequest {
        raw: URL_SAFE_NO_PAD.encode(raw),
        thread_id: Some(original.thread_id.clone()).filter(|t| !t.is_empty()),
    })
}

fn address(mailbox: &Mailbox) -> Address<'_> {
    Address::new_address(mailbox.name.as_deref(), mailbox.address.as_str())
}

/// `Re: <subject>`, without stacking prefixes; line breaks cannot smuggle in headers.
pub fn reply_subject(subject: &str) -> String {
    let subject: String = subject
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let subject = subject.trim();
    let already = subject
        .get(..3)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("re:"));
    if already {
        format!("Re: {}", subject[3..].trim_start())
    } else if subject.is_empty() {
        "Re:".to_owned()
    } else {
        format!("Re: {subject}")
    }
}

/// The original's thread ancestry followed by the original itself.
fn references(original: &InboundEmail) -> Vec<String> {
    let ancestry = if original.references.is_empty() {
        &original.in_reply_to
    } else {
        &original.references
    };
    let mut ids = ancestry.clone();
    if let Some(id) = &original.message_id
        && ids.last() != Some(id)
    {
        ids.push(id.clone());
    }
    ids
}

#[cfg(test)]
mod tests {
    use mail_parser::MessageParser;

    use super::*;
    use crate::gmail::mime::{self, GmailMessage};

    const MESSAGE: &str = include_str!("../../../tests/fixtures/gmail/message_full.json");

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_255_700, 0).unwrap()
    }

    fn inbox() -> Mailbox {
        Mailbox {
            address: "tenant.inbox@example.com".into(),
            name: None,
        }
    }

    fn original() -> InboundEmail {
        let message: GmailMessage = serde_json::from_str(MESSAGE).unwrap();
        mime::decode(&message).unwrap()
    }

    /// The message `raw` holds, parsed back.
    fn parse(request: &SendRequest) -> mail_parser::Message<'static> {
        let raw = URL_SAFE_NO_PAD.decode(&request.raw).unwrap();
        MessageParser::default().parse(&raw).unwrap().into_owned()
    }

    #[test]
    fn a_reply_to_the_fixture_threads_with_it() {
        let request = build(
            &inbox(),
            &(&original()).into(),
            "Hi Alex, the invoice is attached to your account page.",
            now(),
        )
        .unwrap();
        assert_eq!(request.thread_id.as_deref(), Some("19b7f0a1c2d3e4f5"));
        assert!(!request.raw.contains(['=', '+', '/']), "{}", request.raw);
        let reply = parse(&request);
        let from = reply.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.address(), Some("tenant.inbox@example.com"));
        let to = reply.to().and_then(|a| a.first()).unwrap();
        assert_eq!(
            (to.name(), to.address()),
            (Some("Alex Customer"), Some("alex.customer@example.org"))
        );
        assert_eq!(reply.subject(), Some("Re: Invoice for order #1234"));
        let original_id = "CAFAKE0000000000000000000000000000@mail.example.org";
        assert_eq!(mime::ids(reply.in_reply_to()), [original_id]);
        assert_eq!(mime::ids(reply.references()), [original_id]);
        assert!(reply.message_id().unwrap().ends_with("@example.com"));
        assert_eq!(
            reply.date().map(|d| d.to_timestamp()),
            Some(now().timestamp())
        );
        assert_eq!(
            reply.body_text(0).as_deref(),
            Some("Hi Alex, the invoice is attached to your account page.")
        );
        // The same shape as the documented request body.
        let body = serde_json::to_value(&request).unwrap();
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["raw", "threadId"]);
    }

    #[test]
    fn references_extend_the_thread() {
        let mut original = original();
        original.message_id = Some("c@x".into());
        original.references = vec!["a@x".into(), "b@x".into()];
        original.in_reply_to = vec!["b@x".into()];
        let reply = parse(&build(&inbox(), &(&original).into(), "ok", now()).unwrap());
        assert_eq!(mime::ids(reply.references()), ["a@x", "b@x", "c@x"]);
        assert_eq!(mime::ids(reply.in_reply_to()), ["c@x"]);

        // Without References, In-Reply-To is the ancestry.
        original.references.clear();
        let reply = parse(&build(&inbox(), &(&original).into(), "ok", now()).unwrap());
        assert_eq!(mime::ids(reply.references()), ["b@x", "c@x"]);

        // Without a Message-ID there is nothing to point at; the threadId still threads it.
        original.message_id = None;
        let request = build(&inbox(), &(&original).into(), "ok", now()).unwrap();
        let reply = parse(&request);
        assert!(reply.in_reply_to().is_empty() && reply.references().is_empty());
        assert_eq!(request.thread_id.as_deref(), Some("19b7f0a1c2d3e4f5"));
    }

    #[test]
    fn reply_to_wins_over_the_sender() {
        let mut original = original();
        original.reply_to = Some(Mailbox {
            address: "bookings@example.org".into(),
            name: None,
        });
        let reply = parse(&build(&inbox(), &(&original).into(), "ok", now()).unwrap());
        let to = reply.to().and_then(|a| a.first()).unwrap();
        assert_eq!(to.address(), Some("bookings@example.org"));
    }

    #[test]
    fn non_ascii_subject_name_and_body_round_trip() {
        let mut original = original();
        original.subject = "Reserva para mañana — 東京".into();
        let mailbox = Mailbox {
            address: "reservas@example.com".into(),
            name: Some("Café Olé".into()),
        };
        let body = "¡Hola José! Tu mesa está reservada. 🍽️\nHasta pronto.";
        let request = build(&mailbox, &(&original).into(), body, now()).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&request.raw).unwrap();
        // Headers stay ASCII on the wire (encoded words).
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        assert!(raw[..head_end].is_ascii());
        let reply = parse(&request);
        assert_eq!(reply.subject(), Some("Re: Reserva para mañana — 東京"));
        assert_eq!(
            reply.from().and_then(|a| a.first()).and_then(|a| a.name()),
            Some("Café Olé")
        );
        assert_eq!(reply.body_text(0).as_deref().map(str::trim_end), Some(body));
    }

    #[test]
    fn subjects_never_stack_prefixes() {
        assert_eq!(reply_subject("Invoice"), "Re: Invoice");
        assert_eq!(reply_subject("Re: Invoice"), "Re: Invoice");
        assert_eq!(reply_subject("RE:Invoice"), "Re: Invoice");
        assert_eq!(reply_subject("re:  Invoice "), "Re: Invoice");
        assert_eq!(reply_subject("Regarding Invoice"), "Re: Regarding Invoice");
        assert_eq!(reply_subject(""), "Re:");
        assert_eq!(reply_subject("ñ"), "Re: ñ");
        assert_eq!(
            reply_subject("Hi\r\nBcc: x@example.org"),
            "Re: Hi  Bcc: x@example.org"
        );
    }

    #[test]
    fn an_injected_line_break_adds_no_header() {
        let mut original = original();
        original.subject = "Hi\r\nBcc: spy@example.org".into();
        let reply = parse(&build(&inbox(), &(&original).into(), "ok", now()).unwrap());
        assert!(reply.bcc().is_none());
        assert_eq!(reply.subject(), Some("Re: Hi  Bcc: spy@example.org"));
    }
}
