//! The Gmail side of one mailbox sync: from the stored cursor, list what was added (every page
//! of `history.list`), fetch each new inbound message in full, and say where the cursor goes.
//!
//! The rules are [`super::sync`]'s; this module only makes the calls, each through
//! [`authorized`] so an expired access token is refreshed once. When Gmail no longer has the
//! history from the cursor (404), the newest [`RESYNC_LIMIT`] inbox messages are fetched
//! instead — a bounded catch-up rather than a failure; the messages already stored are skipped
//! by their Gmail id when they are written.

use chrono::Utc;

use super::auth::{AuthError, MailboxToken, authorized};
use super::client::{GmailClient, GmailError};
use super::mime::GmailMessage;
use super::oauth::OAuthClient;
use super::sync::{HistoryId, SyncPlan, is_inbound};

/// Inbox messages a resync reads at most, newest first.
pub const RESYNC_LIMIT: u32 = 50;

/// What a sync fetched.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// New inbound messages, oldest first, in full.
    pub messages: Vec<GmailMessage>,
    /// Where the cursor moves once they are stored.
    pub cursor: HistoryId,
    /// Whether the history was gone and recent messages were read instead.
    pub resynced: bool,
}

/// Fetch what mailbox `user` received after `cursor`, up to at least `notified`.
pub async fn new_messages(
    gmail: &GmailClient,
    oauth: &OAuthClient,
    token: &mut MailboxToken,
    user: &str,
    cursor: HistoryId,
    notified: HistoryId,
) -> Result<Fetched, AuthError> {
    let mut plan = SyncPlan::new(cursor);
    let mut page_token: Option<String> = None;
    let mut resynced = false;
    loop {
        let page = authorized(oauth, token, Utc::now(), |access| {
            let page_token = page_token.clone();
            async move {
                gmail
                    .history_list(&access, user, cursor, page_token.as_deref())
                    .await
            }
        })
        .await;
        let page = match page {
            Ok(page) => page,
            Err(AuthError::Gmail(GmailError::HistoryTooOld)) => {
                let recent = authorized(oauth, token, Utc::now(), |access| async move {
                    gmail.list_recent(&access, user, RESYNC_LIMIT).await
                })
                .await?;
                plan.add_recent(recent, notified);
                resynced = true;
                break;
            }
            Err(e) => return Err(e),
        };
        match plan.add_page(&page) {
            // A token that repeats would list the same page forever.
            Some(next) if page_token.as_deref() != Some(next) => page_token = Some(next.to_owned()),
            _ => break,
        }
    }

    let outcome = plan.finish();
    let mut messages = Vec::with_capacity(outcome.fetch.len());
    for listed in &outcome.fetch {
        let id = listed.id.as_str();
        let fetched = authorized(oauth, token, Utc::now(), |access| async move {
            gmail.message_full(&access, user, id).await
        })
        .await;
        match fetched {
            // The resync listing carries no labels: the fetched message's decide.
            Ok(message) if is_inbound(&message.label_ids) => messages.push(message),
            Ok(_) => tracing::debug!(gmail_id = id, "not inbound mail; skipped"),
            Err(AuthError::Gmail(GmailError::MessageGone)) => {
                tracing::info!(
                    gmail_id = id,
                    "message deleted before it was fetched; skipped"
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Fetched {
        messages,
        cursor: outcome.cursor,
        resynced,
    })
}
