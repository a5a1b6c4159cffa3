//! Creating tenants and putting their channel credentials: the few steps the admin API and the
//! `switchyard tenant` command share, so both seal secrets the same way — and reading them
//! back ([`open_channel_config`]) where the workers need a tenant's provider credentials.

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::db::whatsapp_channels::{self, WhatsAppChannelRow, WhatsAppChannelUpsert};
use crate::db::{DbError, TenantTx, channel_configs, tenants};
use crate::domain::{Channel, PhoneNumberId, TenantId, WabaId};
use crate::secrets::{SecretBox, SecretString, SecretsError};

/// Associated data that binds a sealed WhatsApp access token to its tenant.
pub fn whatsapp_token_context(tenant: TenantId) -> String {
    format!("whatsapp.access_token:{tenant}")
}

/// Associated data that binds a sealed Meta app secret to its tenant.
pub fn whatsapp_app_secret_context(tenant: TenantId) -> String {
    format!("whatsapp.app_secret:{tenant}")
}

/// Associated data that binds the sealed secrets of a tenant's SMS, voice or email config
/// (each secret's name is appended by [`SecretBox::seal_map`]).
pub fn channel_secrets_context(channel: Channel, tenant: TenantId) -> String {
    format!("channel.{channel}:{tenant}")
}

/// A tenant's SMS, voice or email config with its secrets opened.
#[derive(Debug, Clone)]
pub struct OpenChannelConfig {
    /// The fields that are not secret, by name.
    pub settings: serde_json::Value,
    /// The secret fields, by name.
    pub secrets: BTreeMap<String, SecretString>,
    pub is_active: bool,
}

impl OpenChannelConfig {
    /// A non-secret field, when it is set to non-empty text.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings
            .get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A secret field, when it is set.
    pub fn secret(&self, name: &str) -> Option<&SecretString> {
        self.secrets.get(name).filter(|v| !v.expose().is_empty())
    }
}

/// The tenant's config of `channel` (`sms`, `voice` or `email`) with its secrets opened;
/// `None` when it has none.
pub async fn open_channel_config(
    tx: &mut TenantTx,
    secrets: &SecretBox,
    channel: Channel,
) -> Result<Option<OpenChannelConfig>, TenancyError> {
    let Some(row) = channel_configs::get(tx, channel).await? else {
        return Ok(None);
    };
    let opened = secrets.open_map(&row.secrets, &channel_secrets_context(channel, tx.tenant()))?;
    Ok(Some(OpenChannelConfig {
        settings: row.settings,
        secrets: opened,
        is_active: row.is_active,
    }))
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("no such tenant")]
    NoSuchTenant,
}

/// Create a tenant with a fresh id.
pub async fn create_tenant(
    pool: &PgPool,
    new: &tenants::NewTenant,
) -> Result<tenants::Tenant, TenancyError> {
    let mut tx = TenantTx::begin(pool, TenantId::new()).await?;
    let tenant = tenants::create(&mut tx, new).await?;
    tx.commit().await?;
    Ok(tenant)
}

/// A WhatsApp config as an admin types it, secrets in plain text.
#[derive(Debug, Clone)]
pub struct WhatsAppChannelInput {
    pub phone_number_id: PhoneNumberId,
    pub waba_id: WabaId,
    pub display_phone_number: Option<String>,
    pub access_token: SecretString,
    pub app_secret: Option<SecretString>,
    pub is_active: bool,
    /// The number's throughput limit (1-1000); `None` means the platform default.
    pub messages_per_second: Option<u16>,
}

/// Seal the secrets and create or replace the tenant's WhatsApp config. Returns the stored row
/// and the `phone_number_id` it replaced, if that differed (its routing must be forgotten).
pub async fn put_whatsapp_channel(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
    input: &WhatsAppChannelInput,
) -> Result<(WhatsAppChannelRow, Option<String>), TenancyError> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let stored = put_whatsapp_in(&mut tx, secrets, input).await?;
    tx.commit().await?;
    Ok(stored)
}

/// The same, and mark the tenant's onboarding complete, in one transaction (embedded signup).
pub async fn onboard_whatsapp_channel(
    pool: &PgPool,
    secrets: &SecretBox,
    tenant: TenantId,
    input: &WhatsAppChannelInput,
) -> Result<(WhatsAppChannelRow, Option<String>), TenancyError> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let stored = put_whatsapp_in(&mut tx, secrets, input).await?;
    tenants::mark_onboarded(&mut tx).await?;
    tx.commit().await?;
    Ok(stored)
}

async fn put_whatsapp_in(
    tx: &mut TenantTx,
    secrets: &SecretBox,
    input: &WhatsAppChannelInput,
) -> Result<(WhatsAppChannelRow, Option<String>), TenancyError> {
    let tenant = tx.tenant();
    let access_token_enc =
        secrets.seal(input.access_token.expose(), &whatsapp_token_context(tenant))?;
    let app_secret_enc = input
        .app_secret
        .as_ref()
        .map(|s| secrets.seal(s.expose(), &whatsapp_app_secret_context(tenant)))
        .transpose()?;
    if tenants::get(tx).await?.is_none() {
        return Err(TenancyError::NoSuchTenant);
    }
    let previous = whatsapp_channels::get(tx)
        .await?
        .map(|row| row.phone_number_id)
        .filter(|old| old != input.phone_number_id.as_str());
    let row = whatsapp_channels::upsert(
        tx,
        &WhatsAppChannelUpsert {
            phone_number_id: input.phone_number_id.clone(),
            waba_id: input.waba_id.clone(),
            display_phone_number: input.display_phone_number.clone(),
            access_token_enc,
            app_secret_enc,
            is_active: input.is_active,
            messages_per_second: input.messages_per_second.map(i32::from),
        },
    )
    .await?;
    Ok((row, previous))
}
