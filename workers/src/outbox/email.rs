//! Email rows of the outbox: a reply in a Gmail thread, sent from the tenant's connected
//! mailbox with `users.messages.send`.
//!
//! A handler queues [`EmailRequest`]: what the reply needs of the message it answers
//! ([`Original`]: recipient, subject, `Message-ID`, `References`, thread) and the text. The
//! RFC 2822 message is written when the row is sent ([`reply::build`]), dated then, from the
//! mailbox's address under the tenant's name, with the mailbox's current token — refreshed
//! (and stored again) when it expired or Gmail answers 401, once.
//!
//! Gmail has no idempotency key, so a send whose answer was lost is `unknown`, never repeated
//! (see [`crate::gmail::client::GmailError::Ambiguous`]); a revoked consent fails the row and
//! marks the mailbox `needs_consent`.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use switchyard_shared::db::{TenantTx, mailboxes, tenants};
use switchyard_shared::domain::{Channel, TenantId};

use super::{Sent, request_of};
use crate::gmail::GmailApi;
use crate::gmail::auth::{AuthError, authorized};
use crate::gmail::credentials::{CredentialsError, StoredCredentials};
use crate::gmail::mime::Mailbox;
use crate::gmail::oauth::OAuthError;
use crate::gmail::reply::{self, Original};
use crate::senders::SendError;
use switchyard_shared::db::outbox::OutboxItem;

/// A reply to one email, as the outbox stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRequest {
    #[serde(flatten)]
    pub original: Original,
    pub text: String,
}

impl EmailRequest {
    /// The JSON the outbox row stores.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }
}

/// Send `item` from the tenant's mailbox.
pub(super) async fn send(
    pool: &PgPool,
    gmail: Option<&GmailApi>,
    tenant: TenantId,
    item: &OutboxItem,
) -> Result<Sent, SendError> {
    let request: EmailRequest = request_of(item)?;
    let gmail = gmail.ok_or_else(|| {
        SendError::Permanent(
            "Gmail is not configured (GOOGLE_OAUTH_CLIENT_ID, GOOGLE_OAUTH_CLIENT_SECRET)".into(),
        )
    })?;
    // Nothing has left yet: a database hiccup while loading is safe to retry.
    let db = |e: switchyard_shared::db::DbError| SendError::Retryable(format!("loading: {e}"));
    let mut tx = TenantTx::begin(pool, tenant).await.map_err(db)?;
    let mailbox = mailboxes::get(&mut tx)
        .await
        .map_err(db)?
        .ok_or_else(|| SendError::Permanent("no Gmail mailbox is connected".into()))?;
    if mailbox.status == "needs_consent" {
        return Err(SendError::Permanent(
            "the Gmail mailbox needs a new consent".into(),
        ));
    }
    let tenant_name = tenants::get(&mut tx).await.map_err(db)?.map(|t| t.name);
    let mut credentials = StoredCredentials::load(&mut tx, &gmail.sealer)
        .await
        .map_err(|e| match e {
            CredentialsError::Db(e) => db(e),
            other => SendError::Permanent(format!("Gmail credentials: {other}")),
        })?;
    tx.commit().await.map_err(db)?;

    let from = Mailbox {
        address: mailbox.address.clone(),
        name: tenant_name,
    };
    let message = reply::build(&from, &request.original, &request.text, Utc::now())
        .map_err(|e| SendError::Permanent(format!("writing the reply: {e}")))?;
    let mut token = credentials.token(mailbox.access_token_expires_at);
    let client = &gmail.client;
    let message = &message;
    let sent = authorized(&gmail.oauth, &mut token, Utc::now(), |access| async move {
        client
            .send_raw(&access, "me", &message.raw, message.thread_id.as_deref())
            .await
    })
    .await;

    let revoked = matches!(&sent, Err(AuthError::OAuth(OAuthError::Revoked(_))));
    if token.refreshed().is_some() || revoked {
        // Best effort: the send's outcome is what the row records.
        let stored = async {
            let mut tx = TenantTx::begin(pool, tenant).await?;
            if let Some(fresh) = token.refreshed() {
                credentials
                    .store_refreshed(&mut tx, &gmail.sealer, fresh)
                    .await?;
            }
            if let Err(AuthError::OAuth(OAuthError::Revoked(reason))) = &sent {
                mailboxes::needs_consent(&mut tx, &format!("Google revoked access: {reason}"))
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, CredentialsError>(())
        };
        if let Err(e) = stored.await {
            tracing::warn!(error = %e, "refreshed Gmail token or consent state not stored");
        }
    }
    let sent = sent?;
    Ok(Sent {
        channel: Channel::Email,
        message_type: "email",
        provider_message_id: sent.id,
        text: Some(request.text),
        reply_to: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_round_trip_as_flat_json() {
        let request = EmailRequest {
            original: Original {
                recipient: Mailbox {
                    address: "alex.customer@example.org".into(),
                    name: Some("Alex Customer".into()),
                },
                subject: "Invoice for order #1234".into(),
                message_id: Some("a@x".into()),
                references: vec!["a@x".into()],
                thread_id: "19b7f0a1c2d3e4f5".into(),
            },
            text: "Welcome!".into(),
        };
        let stored = request.to_json();
        assert_eq!(
            stored,
            json!({
                "recipient": {"address": "alex.customer@example.org", "name": "Alex Customer"},
                "subject": "Invoice for order #1234",
                "message_id": "a@x",
                "references": ["a@x"],
                "thread_id": "19b7f0a1c2d3e4f5",
                "text": "Welcome!",
            })
        );
        assert_eq!(
            serde_json::from_value::<EmailRequest>(stored).unwrap(),
            request
        );
        // Only the recipient, subject and text are required.
        let minimal: EmailRequest = serde_json::from_value(json!({
            "recipient": {"address": "a@example.org"}, "subject": "Hi", "text": "ok"
        }))
        .unwrap();
        assert!(minimal.original.message_id.is_none() && minimal.original.thread_id.is_empty());
    }
}
