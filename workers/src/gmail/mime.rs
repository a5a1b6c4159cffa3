//! Turn a Gmail `messages.get?format=full` answer into the email Switchyard stores
//! ([`InboundEmail`]): sender, recipients, subject, threading headers, date, thread and labels,
//! and one body text — the plain-text part when there is one, else the HTML part as text.
//!
//! ## How
//!
//! `format=full` gives the MIME tree already split: each part has its headers and, for a leaf,
//! `body.data` in base64url. Gmail has **already removed the part's Content-Transfer-Encoding**
//! (quoted-printable or base64) from `body.data`, but not its charset: an ISO-8859-1 part comes
//! as ISO-8859-1 bytes, and headers may still hold RFC 2047 encoded words (`=?utf-8?Q?…?=`).
//!
//! Rather than re-implement MIME, this module reassembles a raw RFC 2822 message from the tree —
//! the original headers, fresh boundaries for the multiparts, and every leaf re-encoded as
//! `Content-Transfer-Encoding: base64` so the bytes round-trip exactly — and hands it to
//! [`mail_parser`] (Stalwart's parser, maintained, no runtime dependency besides a
//! compile-time hash macro). It decodes the encoded-word headers, the address lists, the
//! dates, the charsets (UTF-8/16 and the single-byte ISO-8859 / Windows / KOI8 families; the
//! CJK charsets would need its `full_encoding` feature and `encoding_rs`), walks
//! multipart/alternative and nested multiparts, sets attachments apart, and converts an
//! HTML-only body to text with its own converter. That converter is small and good enough for
//! a conversation view (block tags become line breaks, entities decoded, scripts and styles
//! dropped), so a dedicated HTML→text crate such as `html2text`, which pulls in `html5ever` and
//! its tree, is not worth its weight here.
//!
//! Parts whose body is not inline (`attachmentId` instead of `data`) are kept as empty parts:
//! attachments are not fetched. Invalid base64url is treated the same way, so a broken part
//! never fails the whole message.

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, MessageParser};
use serde::{Deserialize, Serialize};

use super::sync::HistoryId;

/// A Gmail `Message` as `messages.get?format=full` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GmailMessage {
    pub id: String,
    #[serde(default)]
    pub thread_id: String,
    #[serde(default)]
    pub label_ids: Vec<String>,
    #[serde(default)]
    pub history_id: Option<HistoryId>,
    /// Epoch milliseconds, as a string.
    #[serde(default)]
    pub internal_date: Option<String>,
    #[serde(default)]
    pub payload: Option<MessagePart>,
}

/// One node of the MIME tree.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessagePart {
    #[serde(default)]
    pub mime_type: String,
    #[serde(default)]
    pub headers: Vec<Header>,
    #[serde(default)]
    pub body: PartBody,
    #[serde(default)]
    pub parts: Vec<MessagePart>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Header {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartBody {
    /// The part's content in base64url (padding optional), transfer encoding removed.
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub attachment_id: Option<String>,
}

/// An address with its display name, as in `Alex Customer <alex.customer@example.org>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mailbox {
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What Switchyard stores of an inbound email. Message ids are without angle brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundEmail {
    pub gmail_id: String,
    pub thread_id: String,
    pub label_ids: Vec<String>,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
    /// Where the sender asked replies to go (`Reply-To`), when not to `from`.
    pub reply_to: Option<Mailbox>,
    pub subject: String,
    pub message_id: Option<String>,
    pub references: Vec<String>,
    pub in_reply_to: Vec<String>,
    /// The `Date` header, else Gmail's `internalDate`.
    pub date: Option<DateTime<Utc>>,
    pub body: String,
}

/// Why a Gmail message cannot be stored as an email.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MimeError {
    #[error("message {0} has no payload (was it fetched with format=full?)")]
    NoPayload(String),
    #[error("message {0} could not be parsed as MIME")]
    Unparsable(String),
    #[error("message {0} has no sender address")]
    NoSender(String),
}

/// base64url with or without padding, as Gmail's `data` comes.
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decode a `format=full` message.
pub fn decode(message: &GmailMessage) -> Result<InboundEmail, MimeError> {
    let payload = message
        .payload
        .as_ref()
        .ok_or_else(|| MimeError::NoPayload(message.id.clone()))?;
    let raw = reassemble(payload);
    let parsed = MessageParser::default()
        .parse(&raw)
        .ok_or_else(|| MimeError::Unparsable(message.id.clone()))?;
    let from =
        first_mailbox(parsed.from()).ok_or_else(|| MimeError::NoSender(message.id.clone()))?;
    let to = parsed
        .to()
        .map(|to| {
            to.iter()
                .filter_map(|a| mailbox(a.name(), a.address()))
                .collect()
        })
        .unwrap_or_default();
    let date = parsed
        .date()
        .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0))
        .or_else(|| {
            let millis = message.internal_date.as_deref()?.parse().ok()?;
            DateTime::from_timestamp_millis(millis)
        });
    let body = (0..parsed.text_body_count())
        .filter_map(|i| parsed.body_text(i))
        .map(|text| text.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n\n");
    Ok(InboundEmail {
        gmail_id: message.id.clone(),
        thread_id: message.thread_id.clone(),
        label_ids: message.label_ids.clone(),
        from,
        to,
        reply_to: first_mailbox(parsed.reply_to()),
        subject: parsed.subject().unwrap_or_default().trim().to_owned(),
        message_id: parsed.message_id().map(str::to_owned),
        references: ids(parsed.references()),
        in_reply_to: ids(parsed.in_reply_to()),
        date,
        body,
    })
}

fn first_mailbox(address: Option<&mail_parser::Address>) -> Option<Mailbox> {
    address
        .and_then(|a| a.first())
        .and_then(|a| mailbox(a.name(), a.address()))
}

fn mailbox(name: Option<&str>, address: Option<&str>) -> Option<Mailbox> {
    let address = address.map(str::trim).filter(|a| !a.is_empty())?;
    Some(Mailbox {
        address: address.to_owned(),
        name: name
            .map(str::trim)
            .filter(|n| !n.is_empty() && *n != address)
            .map(str::to_owned),
    })
}

/// The message ids of a `References` / `In-Reply-To` header.
pub(super) fn ids(value: &HeaderValue) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(ids) => ids.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

/// The raw message for the tree rooted at `part`.
fn reassemble(part: &MessagePart) -> Vec<u8> {
    let mut out = Vec::new();
    let mut boundaries = 0;
    write_part(part, &mut out, &mut boundaries);
    out
}

fn write_part(part: &MessagePart, out: &mut Vec<u8>, boundaries: &mut usize) {
    let multipart = part.mime_type.starts_with("multipart/");
    for header in &part.headers {
        let name = header.name.trim();
        let rewritten = name.eq_ignore_ascii_case("content-transfer-encoding")
            || (multipart && name.eq_ignore_ascii_case("content-type"));
        if rewritten || !is_header_name(name) {
            continue;
        }
        header_line(out, name, &header.value);
    }
    if multipart {
        *boundaries += 1;
        // Base64 lines and header lines never start with "--", so the boundary cannot clash.
        let boundary = format!("switchyard-part-{boundaries}");
        header_line(
            out,
            "Content-Type",
            &format!("{}; boundary=\"{boundary}\"", part.mime_type),
        );
        out.extend_from_slice(b"\r\n");
        for child in &part.parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            write_part(child, out, boundaries);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        return;
    }
    let has_type = part
        .headers
        .iter()
        .any(|h| h.name.trim().eq_ignore_ascii_case("content-type"));
    if !has_type && !part.mime_type.is_empty() {
        header_line(out, "Content-Type", &part.mime_type);
    }
    if !part.parts.is_empty() {
        // An attached message (message/rfc822): Gmail splits it into parts of its own.
        out.extend_from_slice(b"\r\n");
        for child in &part.parts {
            write_part(child, out, boundaries);
        }
        return;
    }
    header_line(out, "Content-Transfer-Encoding", "base64");
    out.extend_from_slice(b"\r\n");
    let content = part
        .body
        .data
        .as_deref()
        .and_then(|data| URL_SAFE_ANY_PADDING.decode(data.trim()).ok())
        .unwrap_or_default();
    let encoded = STANDARD.encode(content);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// A header name that cannot end the header block, start a boundary line or smuggle in
/// another header: letters, digits and inner hyphens.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `Name: value`, with any line break in the value folded away.
fn header_line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    for (i, line) in value
        .split(['\r', '\n'])
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(line.trim().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Encode `content` as Gmail sends `body.data`, for building test messages.
#[cfg(test)]
fn data(content: &[u8]) -> Option<String> {
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(content))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = include_str!("../../../tests/fixtures/gmail/message_full.json");

    fn header(name: &str, value: &str) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    fn leaf(mime_type: &str, headers: Vec<Header>, content: &[u8]) -> MessagePart {
        MessagePart {
            mime_type: mime_type.into(),
            headers,
            body: PartBody {
                data: data(content),
                attachment_id: None,
            },
            parts: Vec::new(),
        }
    }

    fn container(mime_type: &str, headers: Vec<Header>, parts: Vec<MessagePart>) -> MessagePart {
        MessagePart {
            body: PartBody::default(),
            parts,
            ..leaf(mime_type, headers, b"")
        }
    }

    fn top_headers(content_type: &str) -> Vec<Header> {
        vec![
            header("From", "=?ISO-8859-1?Q?Jos=E9_P=E9rez?= <jose@example.org>"),
            header("To", "Shop <shop@example.com>, other@example.com"),
            header("Subject", "=?UTF-8?B?UmVzZXJ2YSBwYXJhIG1hw7FhbmE=?="),
            header("Message-ID", "<abc@example.org>"),
            header("Content-Type", content_type),
        ]
    }

    fn message(payload: MessagePart) -> GmailMessage {
        GmailMessage {
            id: "m1".into(),
            thread_id: "t1".into(),
            label_ids: vec!["INBOX".into()],
            history_id: None,
            internal_date: Some("1767255595000".into()),
            payload: Some(payload),
        }
    }

    #[test]
    fn decodes_the_fixture() {
        let message: GmailMessage = serde_json::from_str(MESSAGE).unwrap();
        let email = decode(&message).unwrap();
        assert_eq!(
            email.from,
            Mailbox {
                address: "alex.customer@example.org".into(),
                name: Some("Alex Customer".into())
            }
        );
        assert_eq!(
            email.to,
            [Mailbox {
                address: "tenant.inbox@example.com".into(),
                name: None
            }]
        );
        assert_eq!(email.subject, "Invoice for order #1234");
        assert_eq!(
            email.message_id.as_deref(),
            Some("CAFAKE0000000000000000000000000000@mail.example.org")
        );
        assert!(email.references.is_empty() && email.in_reply_to.is_empty());
        assert_eq!(email.reply_to, None);
        assert_eq!(
            email.date,
            DateTime::parse_from_rfc2822("Thu, 1 Jan 2026 08:19:55 +0000")
                .ok()
                .map(|d| d.with_timezone(&Utc))
        );
        assert_eq!(email.thread_id, "19b7f0a1c2d3e4f5");
        assert_eq!(email.label_ids, ["UNREAD", "CATEGORY_PERSONAL", "INBOX"]);
        // The plain part wins over the HTML one.
        assert_eq!(
            email.body,
            "Hello,\r\n\r\nCould you send me the invoice for order #1234?\r\n\r\nThanks,\r\nAlex"
        );
    }

    #[test]
    fn a_quoted_printable_latin1_part_and_encoded_headers_decode() {
        // Gmail removed the quoted-printable encoding; the bytes are still ISO-8859-1.
        let body = leaf(
            "text/plain",
            vec![
                header("Content-Type", "text/plain; charset=ISO-8859-1"),
                header("Content-Transfer-Encoding", "quoted-printable"),
            ],
            b"Caf\xe9 cr\xe8me =3D 5\xa4 pour Jos\xe9",
        );
        let mut payload = body;
        payload
            .headers
            .splice(0..0, top_headers("text/plain").into_iter().take(4));
        let email = decode(&message(payload)).unwrap();
        assert_eq!(email.body, "Café crème =3D 5¤ pour José");
        assert_eq!(email.from.name.as_deref(), Some("José Pérez"));
        assert_eq!(email.subject, "Reserva para mañana");
        assert_eq!(email.to.len(), 2);
        assert_eq!(email.to[0].name.as_deref(), Some("Shop"));
        assert_eq!(email.to[1].address, "other@example.com");
        assert_eq!(email.message_id.as_deref(), Some("abc@example.org"));
    }

    #[test]
    fn a_utf8_base64_part_decodes() {
        let mut payload = leaf(
            "text/plain",
            vec![header("Content-Transfer-Encoding", "base64")],
            "Grüße aus Köln — 東京 🚀".as_bytes(),
        );
        payload
            .headers
            .extend(top_headers("text/plain; charset=UTF-8"));
        let email = decode(&message(payload)).unwrap();
        assert_eq!(email.body, "Grüße aus Köln — 東京 🚀");
    }

    #[test]
    fn an_html_only_message_becomes_text() {
        let payload = leaf(
            "text/html",
            top_headers("text/html; charset=UTF-8"),
            b"<html><head><style>p{color:red}</style></head><body><p>Hello&nbsp;<b>Ana</b>,</p>\
              <p>Your table is booked &amp; confirmed.</p></body></html>",
        );
        let email = decode(&message(payload)).unwrap();
        assert!(!email.body.contains('<'), "{:?}", email.body);
        assert!(!email.body.contains("color"), "{:?}", email.body);
        assert!(email.body.contains("Ana"), "{:?}", email.body);
        assert!(
            email.body.contains("booked & confirmed."),
            "{:?}",
            email.body
        );
    }

    #[test]
    fn nested_multiparts_keep_the_text_and_skip_the_attachment() {
        let alternative = container(
            "multipart/alternative",
            vec![header(
                "Content-Type",
                "multipart/alternative; boundary=\"inner\"",
            )],
            vec![
                leaf(
                    "text/plain",
                    vec![header("Content-Type", "text/plain; charset=UTF-8")],
                    b"See the attached menu.\r\n",
                ),
                leaf(
                    "text/html",
                    vec![header("Content-Type", "text/html; charset=UTF-8")],
                    b"<p>See the <i>attached</i> menu.</p>",
                ),
            ],
        );
        let attachment = MessagePart {
            mime_type: "application/pdf".into(),
            headers: vec![
                header("Content-Type", "application/pdf; name=\"menu.pdf\""),
                header("Content-Disposition", "attachment; filename=\"menu.pdf\""),
            ],
            body: PartBody {
                data: None,
                attachment_id: Some("ANGjdJ8".into()),
            },
            parts: Vec::new(),
        };
        let payload = container(
            "multipart/mixed",
            top_headers("multipart/mixed; boundary=\"outer\""),
            vec![alternative, attachment],
        );
        let email = decode(&message(payload)).unwrap();
        assert_eq!(email.body, "See the attached menu.");
    }

    #[test]
    fn a_forwarded_message_stays_an_attachment() {
        let inner = leaf(
            "text/plain",
            vec![
                header("From", "someone@example.net"),
                header("Subject", "Original"),
                header("Content-Type", "text/plain"),
            ],
            b"Forwarded text",
        );
        let forwarded = MessagePart {
            parts: vec![inner],
            ..leaf("message/rfc822", vec![], b"")
        };
        let payload = container(
            "multipart/mixed",
            top_headers("multipart/mixed"),
            vec![leaf("text/plain", vec![], b"FYI, see below."), forwarded],
        );
        let mut message = message(payload);
        // Header names that are not names are dropped, not written.
        let headers = &mut message.payload.as_mut().unwrap().headers;
        headers.push(header("--switchyard-part-1", "x"));
        headers.push(header("X-Bad\r\nBcc", "x"));
        let email = decode(&message).unwrap();
        assert_eq!(email.body, "FYI, see below.");
        assert_eq!(email.subject, "Reserva para mañana");
    }

    #[test]
    fn missing_parts_give_an_empty_body_or_a_clear_error() {
        // A multipart without children, and a leaf with broken data: no body, no failure.
        let empty = container(
            "multipart/alternative",
            top_headers("multipart/alternative"),
            vec![],
        );
        assert_eq!(decode(&message(empty)).unwrap().body, "");
        let mut broken = leaf("text/plain", top_headers("text/plain"), b"");
        broken.body.data = Some("!!not base64!!".into());
        let email = decode(&message(broken)).unwrap();
        assert_eq!(email.body, "");
        // Without a Date header, Gmail's internalDate is the date.
        assert_eq!(
            email.date,
            DateTime::from_timestamp_millis(1_767_255_595_000)
        );

        let mut no_payload = message(MessagePart::default());
        no_payload.payload = None;
        assert_eq!(decode(&no_payload), Err(MimeError::NoPayload("m1".into())));
        let no_sender = leaf("text/plain", vec![header("Subject", "hi")], b"hi");
        assert_eq!(
            decode(&message(no_sender)),
            Err(MimeError::NoSender("m1".into()))
        );
    }

    #[test]
    fn replies_carry_their_threading_headers() {
        let mut payload = leaf("text/plain", top_headers("text/plain"), b"Thanks!");
        payload.headers.push(header("In-Reply-To", "<a@x>"));
        payload
            .headers
            .push(header("Reply-To", "Bookings <bookings@example.org>"));
        payload
            .headers
            .push(header("References", "<root@x>\r\n <a@x>"));
        let email = decode(&message(payload)).unwrap();
        assert_eq!(email.in_reply_to, ["a@x"]);
        assert_eq!(email.references, ["root@x", "a@x"]);
        assert_eq!(
            email.reply_to,
            Some(Mailbox {
                address: "bookings@example.org".into(),
                name: Some("Bookings".into())
            })
        );
    }
}
