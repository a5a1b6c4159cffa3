//! Gmail: the parts of the email channel that talk to Google or read what it sends.
//!
//! A connected mailbox is synced like this: a push notification (decoded by the ingress) says
//! the mailbox reached some `historyId`; [`sync`] decides whether and from where to read
//! `history.list`; [`client`] makes the calls, wrapped by [`auth`], which refreshes the access
//! token through [`oauth`] when it expires or Gmail answers 401; [`mime`] turns each fetched
//! message into the email that is stored; and a reply leaves as an RFC 2822 message built by
//! [`reply`] and sent with `messages.send`.
//!
//! Everything here is either a thin HTTP call or a pure function tested on Google's documented
//! shapes (`tests/fixtures/gmail/`); the database and queue side lives in the handler and the
//! outbox.

pub mod auth;
pub mod client;
#[cfg(test)]
mod fake_server;
pub mod mime;
pub mod oauth;
pub mod renewal;
pub mod reply;
pub mod sync;
