//! A mailbox's OAuth tokens as they are stored, for the jobs that call Gmail on its behalf
//! (the sync, the sender, the watch renewal).
//!
//! The tokens are sealed in the tenant's `email` channel config (`access_token`,
//! `refresh_token`, beside the `address` setting), and the access token's expiry is in
//! `gmail_mailboxes`. [`StoredCredentials::load`] opens them inside the job's tenant
//! transaction and hands out a [`MailboxToken`]; when the job had to refresh,
//! [`StoredCredentials::store_refreshed`] seals the new access token (and a rotated refresh
//! token) back, so the next job starts from it instead of refreshing again.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchyard_shared::db::channel_configs::{self, ChannelConfigRow};
use switchyard_shared::db::{DbError, TenantTx, mailboxes};
use switchyard_shared::domain::Channel;
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::channel_secrets_context;

use super::auth::MailboxToken;
use super::oauth::AccessToken;

/// Why a mailbox's credentials cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the tenant has no email channel")]
    NoChannel,
    #[error("the email channel is inactive")]
    Inactive,
    #[error("no refresh token stored: connect the mailbox through the Google consent")]
    NoRefreshToken,
    #[error("stored secrets: {0}")]
    Secrets(String),
}

/// The email channel config of one tenant, its secrets opened.
pub struct StoredCredentials {
    row: ChannelConfigRow,
    secrets: BTreeMap<String, SecretString>,
    context: String,
}

impl StoredCredentials {
    /// Open the tenant's email credentials inside `tx`.
    pub async fn load(tx: &mut TenantTx, sealer: &SecretBox) -> Result<Self, CredentialsError> {
        let row = channel_configs::get(tx, Channel::Email)
            .await?
            .ok_or(CredentialsError::NoChannel)?;
        if !row.is_active {
            return Err(CredentialsError::Inactive);
        }
        let context = channel_secrets_context(Channel::Email, tx.tenant());
        let secrets = sealer
            .open_map(&row.secrets, &context)
            .map_err(|e| CredentialsError::Secrets(e.to_string()))?;
        if !secrets.contains_key("refresh_token") {
            return Err(CredentialsError::NoRefreshToken);
        }
        Ok(Self {
            row,
            secrets,
            context,
        })
    }

    /// The connected address (the `address` setting), lowercased.
    pub fn address(&self) -> Option<String> {
        self.row
            .settings
            .get("address")
            .and_then(|a| a.as_str())
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
    }

    /// The job's token: the stored access token, when its expiry is known, and the refresh
    /// token.
    pub fn token(&self, access_expires_at: Option<DateTime<Utc>>) -> MailboxToken {
        let access =
            self.secrets
                .get("access_token")
                .zip(access_expires_at)
                .map(|(token, expires_at)| AccessToken {
                    access_token: token.clone(),
                    expires_at,
                    refresh_token: None,
                });
        let refresh = self
            .secrets
            .get("refresh_token")
            .cloned()
            .unwrap_or_else(|| SecretString::new(""));
        MailboxToken::new(access, refresh)
    }

    /// Seal `fresh` (and the refresh token Google rotated, if it did) into the config, and
    /// record its expiry.
    pub async fn store_refreshed(
        &mut self,
        tx: &mut TenantTx,
        sealer: &SecretBox,
        fresh: &AccessToken,
    ) -> Result<(), CredentialsError> {
        self.secrets
            .insert("access_token".into(), fresh.access_token.clone());
        if let Some(rotated) = &fresh.refresh_token {
            self.secrets.insert("refresh_token".into(), rotated.clone());
        }
        let sealed = sealer
            .seal_map(&self.secrets, &self.context)
            .map_err(|e| CredentialsError::Secrets(e.to_string()))?;
        channel_configs::upsert(
            tx,
            Channel::Email,
            &self.row.settings,
            &sealed,
            &self.row.routing_keys,
            self.row.is_active,
        )
        .await?;
        mailboxes::token_refreshed(tx, fresh.expires_at).await?;
        Ok(())
    }
}
