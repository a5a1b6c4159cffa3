//! Applying WhatsApp events: inbound messages become contacts, conversations and messages;
//! delivery receipts move an outbound message's status forward. A contact's first message
//! queues the tenant's welcome text.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_shared::db::messages::{self, DeliveryStatus, InboundMessage, StatusUpdate};
use switchyard_shared::db::{TenantTx, contacts, conversations};
use switchyard_shared::domain::Channel;
use switchyard_shared::envelope::{Envelope, EventKind};
use switchyard_shared::payloads::whatsapp::{
    ContactInfo, MessageKeys, MessagesValue, StatusKeys, WebhookBody, only_change, parse_timestamp,
};

use super::{Answerable, Applied, HandleError, permanent};

/// Apply one WhatsApp envelope inside `tx` (whose dedup key the caller has claimed).
pub async fn apply(tx: &mut TenantTx, envelope: &Envelope) -> Result<Applied, HandleError> {
    let body: WebhookBody =
        WebhookBody::deserialize(&envelope.payload).map_err(|e| permanent("payload", e))?;
    let (_, change) = only_change(&body).ok_or_else(|| permanent("payload", "no change"))?;
    match envelope.kind {
        EventKind::MessageReceived => {
            let value: MessagesValue = MessagesValue::deserialize(&change.value)
                .map_err(|e| permanent("change value", e))?;
            apply_message(tx, &value).await
        }
        EventKind::MessageStatus => {
            let value: MessagesValue = MessagesValue::deserialize(&change.value)
                .map_err(|e| permanent("change value", e))?;
            apply_status(tx, &value).await?;
            Ok(Applied::default())
        }
        EventKind::Other | EventKind::Call | EventKind::MailboxChanged => {
            tracing::info!(field = %change.field, "WhatsApp notification kept without action");
            Ok(Applied::default())
        }
    }
}

/// The text, media reference and quoted message of an inbound message, by its `type`.
struct Content {
    message_type: String,
    body: Option<String>,
    media: Option<Value>,
    /// The id of a tapped reply button (or list row, or template quick-reply payload).
    button_id: Option<String>,
}

fn content_of(message: &Value) -> Content {
    let message_type = message
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("unknown")
        .to_owned();
    let inner = message.get(&message_type);
    let text_at = |pointer: &str| {
        inner
            .and_then(|v| v.pointer(pointer))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (body, media) = match message_type.as_str() {
        "text" => (text_at("/body"), None),
        "interactive" => (
            text_at("/button_reply/title")
                .or_else(|| text_at("/list_reply/title"))
                .or_else(|| text_at("/nfm_reply/body")),
            None,
        ),
        "button" => (text_at("/text"), None),
        "reaction" => (text_at("/emoji"), None),
        "image" | "audio" | "video" | "document" | "sticker" => {
            let pick = |k: &str| inner.and_then(|v| v.get(k)).cloned().unwrap_or(Value::Null);
            (
                text_at("/caption"),
                Some(json!({
                    "id": pick("id"), "mime_type": pick("mime_type"), "sha256": pick("sha256"),
                    "caption": pick("caption"), "filename": pick("filename"),
                })),
            )
        }
        "location" => {
            let coords = inner.map(|l| {
                format!(
                    "{},{}",
                    l.get("latitude").unwrap_or(&Value::Null),
                    l.get("longitude").unwrap_or(&Value::Null)
                )
            });
            (text_at("/name").or(coords), None)
        }
        _ => (None, None),
    };
    let button_id = match message_type.as_str() {
        "interactive" => text_at("/button_reply/id").or_else(|| text_at("/list_reply/id")),
        "button" => text_at("/payload"),
        _ => None,
    };
    Content {
        message_type,
        body,
        media,
        button_id,
    }
}

async fn apply_message(tx: &mut TenantTx, value: &MessagesValue) -> Result<Applied, HandleError> {
    let message = value
        .messages
        .first()
        .ok_or_else(|| permanent("payload", "no message"))?;
    let keys = MessageKeys::deserialize(message).map_err(|e| permanent("message", e))?;
    let contact: Option<ContactInfo> = value
        .contacts
        .first()
        .and_then(|c| ContactInfo::deserialize(c).ok());
    let identity = contacts::WhatsAppIdentity {
        wa_id: contact
            .as_ref()
            .and_then(|c| c.wa_id.clone())
            .or(keys.from.clone()),
        user_id: contact
            .as_ref()
            .and_then(|c| c.user_id.clone())
            .or(keys.from_user_id.clone()),
        display_name: contact.and_then(|c| c.profile).and_then(|p| p.name),
    };
    let sent_at = message
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_timestamp);

    let (contact_id, first_contact) = contacts::upsert_whatsapp(tx, &identity).await?;
    let conversation_id = conversations::upsert(
        tx,
        contact_id,
        Channel::Whatsapp,
        Some(sent_at.unwrap_or_else(Utc::now)),
    )
    .await?;
    let content = content_of(message);
    let reply_to = message.pointer("/context/id").and_then(Value::as_str);
    let stored = messages::insert_inbound(
        tx,
        &InboundMessage {
            conversation_id,
            contact_id,
            channel: Channel::Whatsapp,
            provider_message_id: &keys.id,
            message_type: &content.message_type,
            body: content.body.as_deref(),
            media: content.media,
            reply_to_provider_id: reply_to,
            provider_timestamp: sent_at,
            raw: message,
        },
    )
    .await?;

    let mut applied = Applied::default();
    // A reaction is not a message to answer.
    if stored && content.message_type != "reaction" {
        applied.answerable.push(Answerable {
            conversation_id,
            contact_id,
            provider_message_id: keys.id.clone(),
            first_contact,
            text: content.body.unwrap_or_default(),
            button_id: content.button_id,
        });
    }
    Ok(applied)
}

async fn apply_status(tx: &mut TenantTx, value: &MessagesValue) -> Result<(), HandleError> {
    let status = value
        .statuses
        .first()
        .ok_or_else(|| permanent("payload", "no status"))?;
    let keys = StatusKeys::deserialize(status).map_err(|e| permanent("status", e))?;
    let delivery = match keys.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        // A played voice message has been read.
        "read" | "played" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        other => {
            tracing::info!(
                status = other,
                "unknown WhatsApp status kept without action"
            );
            return Ok(());
        }
    };
    let at = status
        .get("timestamp")
        .and_then(Value::as_str)
        .and_then(parse_timestamp)
        .unwrap_or_else(Utc::now);
    messages::apply_status(
        tx,
        &StatusUpdate {
            channel: Channel::Whatsapp,
            provider_message_id: &keys.id,
            status: delivery,
            at,
            error: status.get("errors").cloned(),
        },
    )
    .await?;
    Ok(())
}
