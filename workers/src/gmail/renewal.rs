//! Keeping every connected mailbox's Gmail watch alive.
//!
//! Gmail stops publishing a mailbox's changes when its `users.watch` lapses (after at most
//! 7 days), so a periodic job renews every watch that lapses within [`RENEW_LEAD`]: it
//! refreshes the mailbox's access token with the stored refresh token, calls `users.watch`
//! again, and stores the new expiry and the fresh (sealed) access token. The history cursor is
//! left alone: renewing a watch loses no mail, and the sync reads from the cursor.
//!
//! A refresh token Google revoked (`invalid_grant`) is not retried: the mailbox is marked
//! `needs_consent` with the reason, which the admin API shows, until its owner connects it
//! again. Other failures are recorded as the mailbox's `last_error` and tried on the next round.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use switchyard_shared::db::{DbError, TenantTx, mailboxes};
use switchyard_shared::domain::TenantId;
use switchyard_shared::shutdown::Shutdown;

use super::GmailApi;
use super::auth::{AuthError, authorized};
use super::credentials::{CredentialsError, StoredCredentials};
use super::oauth::OAuthError;

/// Renew a watch that lapses within this long (a day of margin on Gmail's seven).
pub const RENEW_LEAD: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// Mailboxes renewed per round at most.
const BATCH: i32 = 100;

/// What became of one mailbox's watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    Renewed,
    /// Google revoked the refresh token; the mailbox needs a new consent.
    NeedsConsent,
    /// The tenant has no usable email config (deleted or deactivated meanwhile, or not
    /// connected by OAuth).
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored secrets: {0}")]
    Secrets(String),
    #[error("{0}")]
    Google(String),
}

#[derive(Clone)]
pub struct WatchRenewal {
    pool: PgPool,
    gmail: GmailApi,
    topic: String,
    every: Duration,
}

impl WatchRenewal {
    pub fn new(pool: PgPool, gmail: GmailApi, topic: String, every: Duration) -> Self {
        Self {
            pool,
            gmail,
            topic,
            every,
        }
    }

    /// Renew what is due every `every`, until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            match self.renew_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(mailboxes = n, "Gmail watches renewed"),
                Err(e) => tracing::warn!(error = %e, "Gmail watch renewal round failed"),
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(self.every) => {}
            }
        }
    }

    /// One round: every mailbox whose watch lapses within [`RENEW_LEAD`]. Returns how many
    /// were renewed.
    pub async fn renew_due(&self) -> Result<usize, DbError> {
        let due = mailboxes::watches_due(&self.pool, Utc::now() + RENEW_LEAD, BATCH).await?;
        let mut renewed = 0;
        for tenant in due {
            match self.renew(tenant).await {
                Ok(Renewal::Renewed) => renewed += 1,
                Ok(Renewal::NeedsConsent) => {
                    tracing::warn!(tenant_id = %tenant, "Gmail refresh token revoked; the mailbox needs a new consent");
                }
                Ok(Renewal::Skipped) => {}
                Err(e) => {
                    tracing::warn!(tenant_id = %tenant, error = %e, "Gmail watch not renewed");
                    let mut tx = TenantTx::begin(&self.pool, tenant).await?;
                    mailboxes::record_error(&mut tx, &format!("watch renewal: {e}")).await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(renewed)
    }

    /// Renew one tenant's watch, always with a freshly refreshed access token (which also
    /// proves the consent still stands).
    pub async fn renew(&self, tenant: TenantId) -> Result<Renewal, RenewalError> {
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let loaded = StoredCredentials::load(&mut tx, &self.gmail.sealer).await;
        tx.commit().await?;
        let mut credentials = match loaded {
            Ok(credentials) => credentials,
            Err(CredentialsError::Db(e)) => return Err(e.into()),
            Err(CredentialsError::Secrets(e)) => return Err(RenewalError::Secrets(e)),
            Err(
                CredentialsError::NoChannel
                | CredentialsError::Inactive
                | CredentialsError::NoRefreshToken,
            ) => return Ok(Renewal::Skipped),
        };
        let mut token = credentials.token(None);
        let (client, topic) = (&self.gmail.client, self.topic.as_str());
        let watched = authorized(
            &self.gmail.oauth,
            &mut token,
            Utc::now(),
            |access| async move { client.watch(&access, "me", topic).await },
        )
        .await;
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let watch = match watched {
            Ok(watch) => watch,
            Err(AuthError::OAuth(OAuthError::Revoked(reason))) => {
                mailboxes::needs_consent(&mut tx, &format!("Google revoked access: {reason}"))
                    .await?;
                tx.commit().await?;
                return Ok(Renewal::NeedsConsent);
            }
            Err(AuthError::OAuth(e)) => {
                return Err(RenewalError::Google(format!("token refresh: {e}")));
            }
            Err(AuthError::Gmail(e)) => return Err(RenewalError::Google(format!("watch: {e}"))),
        };
        if let Some(fresh) = token.refreshed() {
            credentials
                .store_refreshed(&mut tx, &self.gmail.sealer, fresh)
                .await
                .map_err(|e| match e {
                    CredentialsError::Db(e) => RenewalError::Db(e),
                    other => RenewalError::Secrets(other.to_string()),
                })?;
        }
        mailboxes::watch_renewed(&mut tx, watch.expires_at()).await?;
        tx.commit().await?;
        Ok(Renewal::Renewed)
    }
}
