//! The decisions of a mailbox sync, without any I/O.
//!
//! Gmail does not tell us what changed: a push notification only says "the mailbox is now at
//! `historyId` N". The worker keeps one cursor per mailbox — the last `historyId` it has fully
//! processed — and asks `users.history.list` for everything added since that cursor, page by
//! page. This module holds the rules of that loop so they can be tested without Gmail:
//!
//! 1. [`on_notification`]: a notification at or below the stored cursor is a no-op (Pub/Sub
//!    delivers out of order and more than once; the cursor never moves backwards). Otherwise the
//!    sync starts **from the stored cursor**, not from the notification's id, so nothing between
//!    the two is missed.
//! 2. [`SyncPlan`]: fed every page in order, it collects the messages to fetch, oldest first,
//!    each once, keeping only inbound mail (see [`is_inbound`]): labelled `INBOX`, and not
//!    `SENT` — our own replies, so a reply never triggers another reply — `DRAFT`, `SPAM` or
//!    `TRASH`.
//! 3. [`SyncPlan::finish`]: the new cursor is the larger of the stored cursor and the last page's
//!    `historyId`; the caller stores it in the same transaction as the fetched messages.
//!
//! When the stored cursor is too old for Gmail (404 on `history.list`), the worker lists recent
//! inbox messages instead and hands them to [`SyncPlan::add_recent`]. That listing carries no
//! labels, so the handler checks [`is_inbound`] again on each fetched message — it is cheap,
//! and it is the last guard against answering our own mail.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::client::{HistoryPage, MessageRef};

/// A position in a mailbox's history. Gmail sends it as a JSON string in API responses and as a
/// string or a number in push notifications; both read into this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct HistoryId(u64);

impl HistoryId {
    pub const fn new(id: u64) -> Self {
        Self(id)
    }

    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for HistoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<HistoryId> for String {
    fn from(id: HistoryId) -> Self {
        id.to_string()
    }
}

/// The text is not a decimal unsigned 64-bit number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a Gmail historyId: {0:?}")]
pub struct InvalidHistoryId(String);

impl FromStr for HistoryId {
    type Err = InvalidHistoryId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse()
            .map(Self)
            .map_err(|_| InvalidHistoryId(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for HistoryId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire<'a> {
            Number(u64),
            Text(std::borrow::Cow<'a, str>),
        }
        match Wire::deserialize(deserializer)? {
            Wire::Number(n) => Ok(Self(n)),
            Wire::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// What to do with a push notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Call `history.list` with `startHistoryId = from` (the stored cursor).
    Fetch { from: HistoryId },
    /// Everything up to the notified id is already processed: acknowledge and do nothing.
    UpToDate,
}

/// Decide on a notification saying the mailbox is at `notified`, given the stored `cursor`.
pub fn on_notification(cursor: HistoryId, notified: HistoryId) -> Decision {
    if notified <= cursor {
        Decision::UpToDate
    } else {
        Decision::Fetch { from: cursor }
    }
}

/// Labels of messages that are not mail to answer: our own sent mail (so replies never loop),
/// drafts, and what Gmail filed as spam or trash.
const NOT_INBOUND: [&str; 4] = ["SENT", "DRAFT", "SPAM", "TRASH"];

/// Whether a message with these labels is inbound mail to store and answer: it reached the
/// inbox and is not `SENT`, `DRAFT`, `SPAM` or `TRASH`. A message to oneself is `SENT` and `INBOX`, and is
/// not answered.
pub fn is_inbound<S: AsRef<str>>(label_ids: &[S]) -> bool {
    let has = |wanted: &str| label_ids.iter().any(|label| label.as_ref() == wanted);
    has("INBOX") && !NOT_INBOUND.into_iter().any(has)
}

/// The messages one sync run will fetch, built page by page.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    cursor: HistoryId,
    newest: HistoryId,
    seen: HashSet<String>,
    fetch: Vec<MessageRef>,
}

/// The result of a sync run: fetch these messages in order, then store `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncOutcome {
    pub fetch: Vec<MessageRef>,
    pub cursor: HistoryId,
}

impl SyncPlan {
    /// A plan starting at the stored `cursor`.
    pub fn new(cursor: HistoryId) -> Self {
        Self {
            cursor,
            newest: cursor,
            seen: HashSet::new(),
            fetch: Vec::new(),
        }
    }

    /// Take in one page of `history.list`; returns the token of the next page to request, or
    /// `None` when this was the last one.
    pub fn add_page<'p>(&mut self, page: &'p HistoryPage) -> Option<&'p str> {
        self.newest = self.newest.max(page.history_id);
        let inbound = page.added.iter().filter(|m| is_inbound(&m.label_ids));
        self.push(inbound.cloned());
        page.next_page_token.as_deref().filter(|t| !t.is_empty())
    }

    /// Take in the resync listing (`messages.list` on the inbox, newest first, without labels)
    /// made after a notification at `notified`: the messages are fetched oldest first, and the
    /// cursor moves to at least `notified`.
    pub fn add_recent(&mut self, listed: Vec<MessageRef>, notified: HistoryId) {
        self.newest = self.newest.max(notified);
        self.push(listed.into_iter().rev());
    }

    fn push(&mut self, messages: impl Iterator<Item = MessageRef>) {
        for message in messages {
            if self.seen.insert(message.id.clone()) {
                self.fetch.push(message);
            }
        }
    }

    /// The messages to fetch and the new cursor, never below the stored one.
    pub fn finish(self) -> SyncOutcome {
        SyncOutcome {
            fetch: self.fetch,
            cursor: self.newest.max(self.cursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u64) -> HistoryId {
        HistoryId::new(n)
    }

    fn added(id: &str, labels: &[&str]) -> MessageRef {
        MessageRef {
            id: id.into(),
            thread_id: format!("t-{id}"),
            label_ids: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    fn page(added: Vec<MessageRef>, history_id: u64, next: Option<&str>) -> HistoryPage {
        HistoryPage {
            added,
            history_id: id(history_id),
            next_page_token: next.map(str::to_owned),
        }
    }

    fn ids(outcome: &SyncOutcome) -> Vec<&str> {
        outcome.fetch.iter().map(|m| m.id.as_str()).collect()
    }

    #[test]
    fn history_ids_read_from_strings_and_numbers() {
        assert_eq!(
            serde_json::from_str::<HistoryId>("\"4251009\"").unwrap(),
            id(4_251_009)
        );
        assert_eq!(serde_json::from_str::<HistoryId>("1710").unwrap(), id(1710));
        for bad in ["\"\"", "\"-1\"", "\"12a\"", "-3", "1.5", "null"] {
            assert!(serde_json::from_str::<HistoryId>(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&id(7)).unwrap(), "\"7\"");
    }

    #[test]
    fn a_newer_notification_fetches_from_the_stored_cursor() {
        assert_eq!(
            on_notification(id(100), id(250)),
            Decision::Fetch { from: id(100) }
        );
    }

    #[test]
    fn old_and_duplicate_notifications_are_no_ops() {
        assert_eq!(on_notification(id(250), id(250)), Decision::UpToDate);
        assert_eq!(on_notification(id(250), id(120)), Decision::UpToDate);
    }

    #[test]
    fn out_of_order_notifications_never_move_the_cursor_back() {
        // Notification 300 is processed first and the cursor lands on 300; the late 200 is a
        // no-op.
        let mut plan = SyncPlan::new(id(100));
        assert_eq!(
            plan.add_page(&page(vec![added("a", &["INBOX"])], 300, None)),
            None
        );
        let cursor = plan.finish().cursor;
        assert_eq!(cursor, id(300));
        assert_eq!(on_notification(cursor, id(200)), Decision::UpToDate);
        // A response older than the stored cursor (a lagging replica) keeps the cursor.
        let mut plan = SyncPlan::new(id(300));
        plan.add_page(&page(Vec::new(), 280, None));
        assert_eq!(plan.finish().cursor, id(300));
    }

    #[test]
    fn the_fixture_page_fetches_the_inbox_message_and_skips_our_reply() {
        let fixture: HistoryPage = super::super::client::interpret_history_list(
            reqwest::StatusCode::OK,
            include_bytes!("../../../tests/fixtures/gmail/history_list.json"),
        )
        .unwrap();
        let mut plan = SyncPlan::new(id(4_251_000));
        assert_eq!(plan.add_page(&fixture), None);
        let outcome = plan.finish();
        assert_eq!(ids(&outcome), ["19b7f0a1c2d3e4f5"]);
        assert_eq!(outcome.cursor, id(4_251_009));
    }

    #[test]
    fn sent_drafts_and_spam_are_skipped() {
        let mut plan = SyncPlan::new(id(1));
        plan.add_page(&page(
            vec![
                added("in", &["INBOX", "UNREAD"]),
                added("reply", &["SENT"]),
                added("to-self", &["SENT", "INBOX"]),
                added("draft", &["DRAFT"]),
                added("spam", &["SPAM", "INBOX"]),
                added("archived", &["CATEGORY_UPDATES"]),
            ],
            9,
            None,
        ));
        assert_eq!(ids(&plan.finish()), ["in"]);
        assert!(is_inbound(&["INBOX"]));
        assert!(!is_inbound(&["INBOX", "SENT"]));
        assert!(!is_inbound::<&str>(&[]));
    }

    #[test]
    fn pages_are_followed_in_order_and_duplicates_fetched_once() {
        let first = page(
            vec![added("a", &["INBOX"]), added("b", &["INBOX"])],
            50,
            Some("page-2"),
        );
        let second = page(
            vec![added("b", &["INBOX"]), added("c", &["INBOX"])],
            60,
            Some(""),
        );
        let mut plan = SyncPlan::new(id(10));
        assert_eq!(plan.add_page(&first), Some("page-2"));
        // An empty token ends the listing like a missing one.
        assert_eq!(plan.add_page(&second), None);
        let outcome = plan.finish();
        assert_eq!(ids(&outcome), ["a", "b", "c"]);
        assert_eq!(outcome.cursor, id(60));
    }

    #[test]
    fn a_resync_fetches_oldest_first_and_reaches_the_notified_id() {
        let listed = vec![added("new", &[]), added("old", &[]), added("old", &[])];
        let mut plan = SyncPlan::new(id(10));
        plan.add_recent(listed, id(900));
        let outcome = plan.finish();
        assert_eq!(ids(&outcome), ["old", "new"]);
        assert_eq!(outcome.cursor, id(900));
    }
}
