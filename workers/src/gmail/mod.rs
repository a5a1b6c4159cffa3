//! Gmail: the parts of the email channel that talk to Google or read what it sends.
//!
//! A connected mailbox is synced like this: a push notification (decoded by the ingress) says
//! the mailbox reached some `historyId`; [`sync`] decides whether and from where to read
//! `history.list`; [`fetch`] lists and fetches the new messages through [`client`], each call
//! wrapped by [`auth`], which refreshes the access token through [`oauth`] when it expires or
//! Gmail answers 401, with the tokens [`credentials`] opened; [`mime`] turns each fetched
//! message into the email that is stored; and a reply leaves as an RFC 2822 message built by
//! [`reply`] and sent with `messages.send`. [`renewal`] keeps every mailbox's watch alive.
//!
//! Everything here is either a thin HTTP call or a pure function tested on Google's documented
//! shapes (`tests/fixtures/gmail/`); the database and queue side lives in the handler and the
//! outbox.

pub mod auth;
pub mod client;
pub mod credentials;
#[cfg(test)]
mod fake_server;
pub mod fetch;
pub mod mime;
pub mod oauth;
pub mod renewal;
pub mod reply;
pub mod sync;

use std::sync::Arc;

use switchyard_shared::secrets::SecretBox;

/// What the worker calls Gmail with: the API, the OAuth client that refreshes access tokens,
/// and the box the stored tokens are sealed with. There is one when the platform's Google
/// OAuth client is configured (`GOOGLE_OAUTH_CLIENT_ID`, `GOOGLE_OAUTH_CLIENT_SECRET`).
#[derive(Clone)]
pub struct GmailApi {
    pub client: client::GmailClient,
    pub oauth: oauth::OAuthClient,
    pub sealer: Arc<SecretBox>,
}
