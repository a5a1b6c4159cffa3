//! One job's access to a mailbox: use the stored access token while it is fresh, refresh it
//! when it is missing or about to expire, and when Gmail still answers 401, refresh once and
//! repeat the call once — never more, so a mailbox whose consent is gone fails fast.
//!
//! [`MailboxToken`] holds the credentials for the job; [`authorized`] wraps any Gmail call
//! (`|token| client.history_list(token, …)`) with that policy. After the job the caller stores
//! [`MailboxToken::refreshed`] (encrypted) if it is set, so the next job starts from it. A
//! revoked refresh token surfaces as [`AuthError::OAuth`]`(`[`OAuthError::Revoked`]`)`: mark
//! the channel as needing a new consent.
//!
//! Refreshing goes through the [`Refresh`] trait, which [`OAuthClient`] implements, so the
//! policy is tested without a token endpoint.

use std::future::Future;

use chrono::{DateTime, Utc};
use switchyard_shared::secrets::SecretString;

use super::client::GmailError;
use super::oauth::{AccessToken, OAuthClient, OAuthError};
use crate::senders::SendError;

/// Something that trades a refresh token for an access token.
pub trait Refresh {
    fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> impl Future<Output = Result<AccessToken, OAuthError>> + Send;
}

impl Refresh for OAuthClient {
    fn refresh(
        &self,
        refresh_token: &SecretString,
    ) -> impl Future<Output = Result<AccessToken, OAuthError>> + Send {
        OAuthClient::refresh(self, refresh_token)
    }
}

/// A mailbox's credentials during one job.
#[derive(Debug, Clone)]
pub struct MailboxToken {
    access: Option<AccessToken>,
    refresh_token: SecretString,
    refreshed: bool,
}

/// A Gmail call that failed, or the refresh it needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("gmail: {0}")]
    Gmail(#[from] GmailError),
    #[error("oauth: {0}")]
    OAuth(#[from] OAuthError),
}

impl From<AuthError> for SendError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Gmail(e) => e.into(),
            AuthError::OAuth(OAuthError::Transient(_)) => SendError::Retryable(e.to_string()),
            AuthError::OAuth(OAuthError::Revoked(_) | OAuthError::Permanent(_)) => {
                SendError::Permanent(e.to_string())
            }
        }
    }
}

impl MailboxToken {
    /// The stored access token (if any) and refresh token.
    pub fn new(access: Option<AccessToken>, refresh_token: SecretString) -> Self {
        Self {
            access,
            refresh_token,
            refreshed: false,
        }
    }

    /// The token obtained during this job, to store for the next one.
    pub fn refreshed(&self) -> Option<&AccessToken> {
        self.access.as_ref().filter(|_| self.refreshed)
    }

    /// The current access token, refreshed first when missing or about to expire at `now`.
    async fn current(
        &mut self,
        refresher: &impl Refresh,
        now: DateTime<Utc>,
    ) -> Result<SecretString, OAuthError> {
        match &self.access {
            Some(access) if access.is_fresh(now) => Ok(access.access_token.clone()),
            _ => self.refresh(refresher).await,
        }
    }

    async fn refresh(&mut self, refresher: &impl Refresh) -> Result<SecretString, OAuthError> {
        let fresh = refresher.refresh(&self.refresh_token).await?;
        if let Some(rotated) = &fresh.refresh_token {
            self.refresh_token = rotated.clone();
        }
        let token = fresh.access_token.clone();
        self.access = Some(fresh);
        self.refreshed = true;
        Ok(token)
    }
}

/// Run `call` with a valid access token; on a 401, refresh and run it once more.
pub async fn authorized<T, F, Fut>(
    refresher: &impl Refresh,
    token: &mut MailboxToken,
    now: DateTime<Utc>,
    mut call: F,
) -> Result<T, AuthError>
where
    F: FnMut(SecretString) -> Fut,
    Fut: Future<Output = Result<T, GmailError>>,
{
    let was_refreshed = token.refreshed;
    let access = token.current(refresher, now).await?;
    let just_refreshed = token.refreshed && !was_refreshed;
    match call(access).await {
        // A token refreshed a moment ago that Gmail refuses will not do better a second time.
        Err(GmailError::Unauthorized(_)) if !just_refreshed => {
            let access = token.refresh(refresher).await?;
            Ok(call(access).await?)
        }
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::TimeDelta;

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap()
    }

    fn access(token: &str, expires_in: i64) -> AccessToken {
        AccessToken {
            access_token: SecretString::new(token),
            expires_at: now() + TimeDelta::seconds(expires_in),
            refresh_token: None,
        }
    }

    /// Hands out `fresh-1`, `fresh-2`, … and records the refresh tokens it was given.
    #[derive(Default)]
    struct FakeRefresh {
        calls: Mutex<Vec<String>>,
        revoked: bool,
    }

    impl Refresh for FakeRefresh {
        async fn refresh(&self, refresh_token: &SecretString) -> Result<AccessToken, OAuthError> {
            let mut calls = self.calls.lock().unwrap();
            calls.push(refresh_token.expose().to_owned());
            if self.revoked {
                return Err(OAuthError::Revoked("invalid_grant".into()));
            }
            Ok(AccessToken {
                refresh_token: Some(SecretString::new(format!("rt-{}", calls.len()))),
                ..access(&format!("fresh-{}", calls.len()), 3600)
            })
        }
    }

    /// A Gmail call that refuses every token but `accepted`, recording what it was given.
    async fn gmail(
        used: &Mutex<Vec<String>>,
        token: SecretString,
        accepted: &str,
    ) -> Result<u32, GmailError> {
        used.lock().unwrap().push(token.expose().to_owned());
        if token.expose() == accepted {
            Ok(42)
        } else {
            Err(GmailError::Unauthorized("HTTP 401".into()))
        }
    }

    #[tokio::test]
    async fn a_fresh_token_is_used_as_is() {
        let refresher = FakeRefresh::default();
        let mut token = MailboxToken::new(Some(access("stored", 3600)), SecretString::new("rt"));
        let used = Mutex::new(Vec::new());
        let answer = authorized(&refresher, &mut token, now(), |t| gmail(&used, t, "stored")).await;
        assert_eq!(answer, Ok(42));
        assert!(refresher.calls.lock().unwrap().is_empty());
        assert!(token.refreshed().is_none());
    }

    #[tokio::test]
    async fn an_expiring_or_missing_token_is_refreshed_first() {
        for stored in [Some(access("stored", 30)), None] {
            let refresher = FakeRefresh::default();
            let mut token = MailboxToken::new(stored, SecretString::new("rt"));
            let used = Mutex::new(Vec::new());
            let answer = authorized(&refresher, &mut token, now(), |t| {
                gmail(&used, t, "fresh-1")
            })
            .await;
            assert_eq!(answer, Ok(42));
            assert_eq!(*used.lock().unwrap(), ["fresh-1"]);
            let refreshed = token.refreshed().unwrap();
            assert_eq!(refreshed.access_token.expose(), "fresh-1");
            // A rotated refresh token is kept for the next refresh and handed back.
            assert_eq!(
                refreshed.refresh_token.as_ref().map(SecretString::expose),
                Some("rt-1")
            );
        }
    }

    #[tokio::test]
    async fn a_401_refreshes_and_retries_once() {
        let refresher = FakeRefresh::default();
        let mut token = MailboxToken::new(Some(access("stored", 3600)), SecretString::new("rt"));
        let used = Mutex::new(Vec::new());
        let answer = authorized(&refresher, &mut token, now(), |t| {
            gmail(&used, t, "fresh-1")
        })
        .await;
        assert_eq!(answer, Ok(42));
        assert_eq!(*used.lock().unwrap(), ["stored", "fresh-1"]);
        assert_eq!(*refresher.calls.lock().unwrap(), ["rt"]);

        // Gmail refusing the new token too: no third call, no second refresh.
        let refresher = FakeRefresh::default();
        let mut token = MailboxToken::new(Some(access("stored", 3600)), SecretString::new("rt"));
        let used = Mutex::new(Vec::new());
        let answer = authorized(&refresher, &mut token, now(), |t| gmail(&used, t, "never")).await;
        assert!(matches!(
            answer,
            Err(AuthError::Gmail(GmailError::Unauthorized(_)))
        ));
        assert_eq!(used.lock().unwrap().len(), 2);
        assert_eq!(refresher.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_token_refreshed_just_now_is_not_refreshed_again_on_401() {
        let refresher = FakeRefresh::default();
        let mut token = MailboxToken::new(None, SecretString::new("rt"));
        let used = Mutex::new(Vec::new());
        let answer = authorized(&refresher, &mut token, now(), |t| gmail(&used, t, "never")).await;
        assert!(matches!(
            answer,
            Err(AuthError::Gmail(GmailError::Unauthorized(_)))
        ));
        assert_eq!(refresher.calls.lock().unwrap().len(), 1);
        assert_eq!(
            SendError::from(answer.unwrap_err()),
            SendError::Permanent("unauthorized: HTTP 401".into())
        );
    }

    #[tokio::test]
    async fn a_revoked_consent_stops_the_call() {
        let refresher = FakeRefresh {
            revoked: true,
            ..FakeRefresh::default()
        };
        let mut token = MailboxToken::new(Some(access("stored", 3600)), SecretString::new("rt"));
        let used = Mutex::new(Vec::new());
        let answer = authorized(&refresher, &mut token, now(), |t| {
            gmail(&used, t, "fresh-1")
        })
        .await;
        assert_eq!(
            answer,
            Err(AuthError::OAuth(OAuthError::Revoked(
                "invalid_grant".into()
            )))
        );
        assert_eq!(*used.lock().unwrap(), ["stored"]);
        assert!(matches!(
            SendError::from(answer.unwrap_err()),
            SendError::Permanent(_)
        ));
        assert!(token.refreshed().is_none());
    }
}
