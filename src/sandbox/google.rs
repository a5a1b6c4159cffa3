//! A fake Google: the OIDC certs, the OAuth token endpoint and the Gmail API on one server.
//!
//! - `GET /oauth2/v3/certs`: the JWKS of the sandbox signing key ([`GoogleSigner`]), so push
//!   tokens minted by the sandbox verify against it (what `GOOGLE_CERTS_URL` is set to).
//! - `POST /token` (form-encoded, what `GOOGLE_OAUTH_TOKEN_URL` is set to): with
//!   `grant_type=authorization_code`, a code from [`FakeGoogle::authorize`] becomes an access
//!   and a refresh token (a code works once); with `grant_type=refresh_token`, a refresh token
//!   gets a new access token. Refusals use Google's shape, `{"error", "error_description"}`: a
//!   used, unknown or revoked grant is 400 `invalid_grant`, a wrong client 401
//!   `invalid_client`. The client is [`CLIENT_ID`] / [`CLIENT_SECRET`].
//! - `/gmail/v1/users/{userId}/…`: the Gmail calls Switchyard makes, in `google/gmail.rs`
//!   — they need `Authorization: Bearer <access token>` and answer 401 in Google's error shape
//!   once the token has expired ([`FakeGoogle::expire_access_tokens`]), so refresh-on-401 can
//!   be exercised.
//! - `/_sandbox/gmail/…`: control endpoints that put an inbound message in a mailbox and list
//!   what it sent, in `google/control.rs`, for a process other than the one running the fake.
//!
//! Tests seed mailboxes ([`FakeGoogle::add_message`], built from the Gmail fixture message),
//! revoke grants, make history too old to list, and inject failures
//! ([`FakeGoogle::fail_next`]) in-process; the state is all in memory.

mod control;
mod gmail;
mod mailbox;
#[cfg(test)]
mod tests;

pub use control::{AddedMail, InboundMail};
pub use mailbox::{NewMessage, SentMail};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;
use switchyard_shared::shutdown::Shutdown;

use super::google_signing::GoogleSigner;
use super::server;

/// The OAuth client the fake accepts.
pub const CLIENT_ID: &str = "sandbox-client.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
/// The scope granted with every token.
pub const SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify";
/// Seconds an access token is announced to last (`expires_in`).
pub const ACCESS_TOKEN_SECS: u64 = 3599;

/// Which endpoints an injected failure applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    Gmail,
}

/// A pair of tokens as the token endpoint hands them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub access_token: String,
    pub refresh_token: String,
}

#[derive(Default)]
struct Inner {
    /// Authorization codes not yet exchanged → mailbox.
    codes: HashMap<String, String>,
    /// Live access tokens → mailbox.
    access_tokens: HashMap<String, String>,
    /// Refresh tokens → (mailbox, revoked).
    refresh_tokens: HashMap<String, (String, bool)>,
    /// Injected HTTP statuses, one per affected request, by endpoint.
    failures: HashMap<Endpoint, VecDeque<u16>>,
    mailboxes: HashMap<String, mailbox::Mailbox>,
    /// For fresh ids; starts at the start time in microseconds, so the message ids of one
    /// run never repeat those of an earlier run that a database may still hold.
    counter: u64,
}

impl Inner {
    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{:016x}", self.counter)
    }

    fn issue_access_token(&mut self, mailbox: &str) -> String {
        let token = self.fresh("ya29.sandbox-");
        self.access_tokens.insert(token.clone(), mailbox.to_owned());
        token
    }
}

/// A running fake; clones share state.
#[derive(Clone)]
pub struct FakeGoogle {
    /// `http://addr`.
    origin: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeGoogle {
    /// Serve on `addr` (port 0 for any free port) until `shutdown`.
    pub async fn start(addr: SocketAddr, shutdown: Shutdown) -> std::io::Result<Self> {
        let (listener, origin) = server::bind(addr).await?;
        let fake = Self {
            origin,
            inner: Arc::new(Mutex::new(Inner {
                counter: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2)),
                ..Inner::default()
            })),
        };
        server::spawn(listener, fake.router(), shutdown, "google");
        Ok(fake)
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/oauth2/v3/certs", get(certs))
            .route("/token", post(token))
            .nest("/gmail/v1/users/{user_id}", gmail::router())
            .nest("/_sandbox/gmail", control::router())
            .with_state(self.clone())
    }

    /// `GOOGLE_CERTS_URL`.
    pub fn certs_url(&self) -> String {
        format!("{}/oauth2/v3/certs", self.origin)
    }

    /// `GOOGLE_OAUTH_TOKEN_URL`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.origin)
    }

    /// The Gmail API base (`https://gmail.googleapis.com` in production); calls go to
    /// `<base>/gmail/v1/users/…`.
    pub fn gmail_base(&self) -> String {
        self.origin.clone()
    }

    /// `http://addr/_sandbox/gmail`: the control endpoints.
    pub fn sandbox_base(&self) -> String {
        format!("{}/_sandbox/gmail", self.origin)
    }

    /// Run `f` on the shared state.
    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A poisoned lock only means another request panicked mid-update of test data.
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Create `mailbox` (empty, history id 1000) unless it exists.
    pub fn add_mailbox(&self, mailbox: &str) {
        self.with(|inner| {
            inner
                .mailboxes
                .entry(mailbox.to_owned())
                .or_insert_with(mailbox::Mailbox::new);
        });
    }

    /// An authorization code for `mailbox`, as the consent screen would hand the callback.
    pub fn authorize(&self, mailbox: &str) -> String {
        self.add_mailbox(mailbox);
        self.with(|inner| {
            let code = inner.fresh("4/sandbox-code-");
            inner.codes.insert(code.clone(), mailbox.to_owned());
            code
        })
    }

    /// Tokens for `mailbox` without going through the consent flow.
    pub fn grant(&self, mailbox: &str) -> Grant {
        self.add_mailbox(mailbox);
        self.with(|inner| {
            let refresh_token = inner.fresh("1//sandbox-refresh-");
            inner
                .refresh_tokens
                .insert(refresh_token.clone(), (mailbox.to_owned(), false));
            Grant {
                access_token: inner.issue_access_token(mailbox),
                refresh_token,
            }
        })
    }

    /// Every access token handed out so far stops working (Gmail answers 401).
    pub fn expire_access_tokens(&self) {
        self.with(|inner| inner.access_tokens.clear());
    }

    /// The user withdrew consent: `refresh_token` now gets `invalid_grant`, and the access
    /// tokens of its mailbox stop working.
    pub fn revoke(&self, refresh_token: &str) {
        self.with(|inner| {
            if let Some((mailbox, revoked)) = inner.refresh_tokens.get_mut(refresh_token) {
                *revoked = true;
                let mailbox = mailbox.clone();
                inner.access_tokens.retain(|_, owner| *owner != mailbox);
            }
        });
    }

    /// Answer the next `count` requests to `endpoint` with `status` (and Google's error body).
    pub fn fail_next(&self, endpoint: Endpoint, count: usize, status: u16) {
        self.with(|inner| {
            inner
                .failures
                .entry(endpoint)
                .or_default()
                .extend(std::iter::repeat_n(status, count));
        });
    }

    /// Injected failures of `endpoint` not yet answered (so a test can tell how many requests
    /// reached it).
    pub fn pending_failures(&self, endpoint: Endpoint) -> usize {
        self.with(|inner| inner.failures.get(&endpoint).map_or(0, |f| f.len()))
    }

    fn injected_failure(&self, endpoint: Endpoint) -> Option<StatusCode> {
        let status = self.with(|inner| inner.failures.get_mut(&endpoint)?.pop_front())?;
        Some(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
    }
}

async fn certs() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json; charset=UTF-8"),
            (
                header::CACHE_CONTROL,
                "public, max-age=21600, must-revalidate, no-transform",
            ),
        ],
        GoogleSigner::jwks_json(),
    )
        .into_response()
}

/// The form of a token request (both grants).
#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    code: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An OAuth error answer: `{"error", "error_description"}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({ "error": error, "error_description": description });
    (status, Json(body)).into_response()
}

async fn token(State(fake): State<FakeGoogle>, Form(request): Form<TokenRequest>) -> Response {
    if let Some(status) = fake.injected_failure(Endpoint::Token) {
        return oauth_error(status, "internal_failure", "Sandbox failure injection.");
    }
    if request.client_id.as_deref() != Some(CLIENT_ID)
        || request.client_secret.as_deref() != Some(CLIENT_SECRET)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    let answer = fake.with(|inner| match request.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = request.code.as_deref().unwrap_or_default();
            let mailbox = inner
                .codes
                .remove(code)
                .ok_or(Some("Malformed auth code."))?;
            let refresh_token = inner.fresh("1//sandbox-refresh-");
            inner
                .refresh_tokens
                .insert(refresh_token.clone(), (mailbox.clone(), false));
            Ok(json!({
                "access_token": inner.issue_access_token(&mailbox),
                "expires_in": ACCESS_TOKEN_SECS,
                "refresh_token": refresh_token,
                "scope": SCOPE,
                "token_type": "Bearer",
            }))
        }
        Some("refresh_token") => {
            let refresh_token = request.refresh_token.as_deref().unwrap_or_default();
            let mailbox = match inner.refresh_tokens.get(refresh_token) {
                Some((mailbox, false)) => mailbox.clone(),
                _ => return Err(Some("Token has been expired or revoked.")),
            };
            Ok(json!({
                "access_token": inner.issue_access_token(&mailbox),
                "expires_in": ACCESS_TOKEN_SECS,
                "scope": SCOPE,
                "token_type": "Bearer",
            }))
        }
        _ => Err(None),
    });
    match answer {
        Ok(tokens) => Json(tokens).into_response(),
        Err(None) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type.",
        ),
        Err(Some(description)) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
        }
    }
}
