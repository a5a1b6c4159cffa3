//! Applying email events: a Gmail push notification (`mailbox_changed`) syncs the tenant's
//! mailbox.
//!
//! The notification only says "the mailbox is at `historyId` N". The handler locks the
//! mailbox's row for the rest of the transaction — so one mailbox syncs one notification at a
//! time, whatever order Pub/Sub delivers them in — and, when N is past the stored cursor,
//! fetches everything new from the cursor ([`crate::gmail::fetch`]). Each inbound message
//! becomes a contact (found by the sender's address, created if new), the conversation of its
//! Gmail thread, and the stored message: the decoded text as its body, and its headers
//! (subject, addresses, `Message-ID`, `References`, labels) as `raw` — the MIME source itself
//! stays in Gmail. The cursor moves forward in the same transaction, so a sync that fails
//! stores nothing and the redelivered notification starts again from the same cursor.
//!
//! Each stored email is handed to the conversation engine, which answers it in its thread.
//! Mail the tenant sent itself (label `SENT`) is never stored nor
//! answered, so a reply cannot start a loop; nor is mail from the mailbox's own address.
//!
//! Failures: Gmail or the token endpoint failing for now is transient (the event is
//! redelivered); a revoked refresh token marks the mailbox `needs_consent` and the notification
//! is acknowledged — reconnecting keeps the cursor, so the mail is picked up then. No mailbox,
//! no Google client configured, or Gmail refusing for good dead-letters the event with the
//! reason, to replay once fixed.

use serde::Deserialize;
use serde_json::json;
use switchyard_shared::db::messages::{self, InboundMessage};
use switchyard_shared::db::{TenantTx, contacts, conversations, mailboxes};
use switchyard_shared::domain::Channel;
use switchyard_shared::envelope::{Envelope, EventKind};

use super::{Answerable, Applied, HandleError, permanent};
use crate::gmail::GmailApi;
use crate::gmail::auth::AuthError;
use crate::gmail::client::GmailError;
use crate::gmail::credentials::{CredentialsError, StoredCredentials};
use crate::gmail::fetch;
use crate::gmail::mime::{self, InboundEmail};
use crate::gmail::oauth::OAuthError;
use crate::gmail::sync::{self, Decision, HistoryId};

/// What the ingress publishes for a Gmail push (see `webhooks/gmail.rs`).
#[derive(Debug, Deserialize)]
struct Notification {
    email_address: String,
    history_id: HistoryId,
}

/// Apply one email envelope inside `tx` (whose dedup key the caller has claimed).
pub async fn apply(
    tx: &mut TenantTx,
    envelope: &Envelope,
    gmail: Option<&GmailApi>,
) -> Result<Applied, HandleError> {
    if envelope.kind != EventKind::MailboxChanged {
        tracing::info!(
            kind = envelope.kind.as_str(),
            "email event kept without action"
        );
        return Ok(Applied::default());
    }
    let notification: Notification = serde_json::from_value(envelope.payload.clone())
        .map_err(|e| permanent("Gmail notification", e))?;
    let gmail = gmail.ok_or_else(|| {
        HandleError::Permanent(
            "Gmail is not configured: set GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET, \
             then replay"
                .into(),
        )
    })?;
    let mailbox = mailboxes::lock(tx).await?.ok_or_else(|| {
        HandleError::Permanent(
            "no Gmail mailbox is connected: connect it through POST /api/v1/channels/email/connect, \
             then replay"
                .into(),
        )
    })?;
    if !mailbox
        .address
        .eq_ignore_ascii_case(notification.email_address.trim())
    {
        tracing::info!("notification for a mailbox the tenant no longer has; nothing to do");
        return Ok(Applied::default());
    }
    if mailbox.status == "needs_consent" {
        tracing::warn!("the mailbox needs a new consent; synced once it is reconnected");
        return Ok(Applied::default());
    }
    let cursor = HistoryId::new(u64::try_from(mailbox.history_id).unwrap_or_default());
    let Decision::Fetch { from } = sync::on_notification(cursor, notification.history_id) else {
        tracing::debug!(%cursor, notified = %notification.history_id, "already synced");
        return Ok(Applied::default());
    };

    let mut credentials = StoredCredentials::load(tx, &gmail.sealer)
        .await
        .map_err(credentials_error)?;
    let mut token = credentials.token(mailbox.access_token_expires_at);
    let fetched = fetch::new_messages(
        &gmail.client,
        &gmail.oauth,
        &mut token,
        "me",
        from,
        notification.history_id,
    )
    .await;
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(AuthError::OAuth(OAuthError::Revoked(reason))) => {
            mailboxes::needs_consent(tx, &format!("Google revoked access: {reason}")).await?;
            tracing::warn!(%reason, "Gmail refresh token revoked; the mailbox needs a new consent");
            return Ok(Applied::default());
        }
        Err(e) => return Err(sync_error(e)),
    };
    if let Some(fresh) = token.refreshed() {
        credentials
            .store_refreshed(tx, &gmail.sealer, fresh)
            .await
            .map_err(credentials_error)?;
    }
    if fetched.resynced {
        tracing::warn!(%cursor, fetched = fetched.messages.len(),
            "Gmail history before the cursor is gone; recent inbox messages resynced");
    }

    let mut applied = Applied::default();
    for message in &fetched.messages {
        match mime::decode(message) {
            Ok(email) => store(tx, &mailbox.address, &email, &mut applied).await?,
            Err(e) => tracing::warn!(gmail_id = %message.id, error = %e, "message skipped"),
        }
    }
    let new_cursor = i64::try_from(fetched.cursor.get()).unwrap_or(i64::MAX);
    mailboxes::advance(tx, new_cursor).await?;
    tracing::info!(from = %cursor, to = %fetched.cursor, stored = fetched.messages.len(), "mailbox synced");
    Ok(applied)
}

/// Store one inbound email; a contact's first email queues the welcome reply.
async fn store(
    tx: &mut TenantTx,
    own_address: &str,
    email: &InboundEmail,
    applied: &mut Applied,
) -> Result<(), HandleError> {
    let sender = email.from.address.trim().to_lowercase();
    if sender.is_empty() || sender.eq_ignore_ascii_case(own_address) {
        tracing::debug!(gmail_id = %email.gmail_id, "mail from the mailbox itself; skipped");
        return Ok(());
    }
    let (contact_id, first_contact) =
        contacts::upsert_email(tx, &sender, email.from.name.as_deref()).await?;
    let thread = if email.thread_id.is_empty() {
        &email.gmail_id
    } else {
        &email.thread_id
    };
    let conversation_id =
        conversations::upsert_thread(tx, contact_id, Channel::Email, thread, email.date).await?;
    let stored = messages::insert_inbound(
        tx,
        &InboundMessage {
            conversation_id,
            contact_id,
            channel: Channel::Email,
            provider_message_id: &email.gmail_id,
            message_type: "email",
            body: Some(email.body.as_str()).filter(|b| !b.is_empty()),
            media: None,
            reply_to_provider_id: None,
            provider_timestamp: email.date,
            raw: &headers(email),
        },
    )
    .await?;
    if stored {
        applied.answerable.push(Answerable {
            conversation_id,
            contact_id,
            provider_message_id: email.gmail_id.clone(),
            first_contact,
            text: email.body.clone(),
            button_id: None,
        });
    }
    Ok(())
}

/// What is kept of an email besides its text.
fn headers(email: &InboundEmail) -> serde_json::Value {
    json!({
        "gmail_id": email.gmail_id,
        "thread_id": email.thread_id,
        "label_ids": email.label_ids,
        "subject": email.subject,
        "from": email.from,
        "to": email.to,
        "reply_to": email.reply_to,
        "message_id": email.message_id,
        "in_reply_to": email.in_reply_to,
        "references": email.references,
        "date": email.date,
    })
}

fn credentials_error(e: CredentialsError) -> HandleError {
    match e {
        CredentialsError::Db(e) => e.into(),
        other => HandleError::Permanent(format!("Gmail credentials: {other}")),
    }
}

/// A sync that failed: worth another delivery, or not.
fn sync_error(e: AuthError) -> HandleError {
    match &e {
        AuthError::Gmail(
            GmailError::Transient(_) | GmailError::RateLimited { .. } | GmailError::Ambiguous(_),
        )
        | AuthError::OAuth(OAuthError::Transient(_)) => {
            HandleError::Transient(format!("Gmail sync: {e}"))
        }
        _ => HandleError::Permanent(format!("Gmail sync: {e}")),
    }
}
