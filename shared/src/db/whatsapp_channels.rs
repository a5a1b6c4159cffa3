//! `whatsapp_channels`: a tenant's WhatsApp Cloud API number and its (encrypted) credentials,
//! and the routing lookup from `phone_number_id` to tenant.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::{PhoneNumberId, TenantId, TenantStatus, WabaId};

/// A stored config; the credentials are still sealed (see [`crate::secrets`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WhatsAppChannelRow {
    pub tenant_id: Uuid,
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: Option<String>,
    pub access_token_enc: String,
    pub app_secret_enc: Option<String>,
    pub is_active: bool,
    /// The number's throughput limit; `None` means the platform default.
    pub messages_per_second: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What an admin puts; the secrets arrive here already sealed.
#[derive(Debug, Clone)]
pub struct WhatsAppChannelUpsert {
    pub phone_number_id: PhoneNumberId,
    pub waba_id: WabaId,
    pub display_phone_number: Option<String>,
    pub access_token_enc: String,
    pub app_secret_enc: Option<String>,
    pub is_active: bool,
    pub messages_per_second: Option<i32>,
}

macro_rules! columns {
    () => {
        "tenant_id, phone_number_id, waba_id, display_phone_number, access_token_enc, \
         app_secret_enc, is_active, messages_per_second, created_at, updated_at"
    };
}

/// Create or replace the tenant's config. A `phone_number_id` that already belongs to another
/// tenant is a [`DbError::Conflict`].
pub async fn upsert(
    tx: &mut TenantTx,
    config: &WhatsAppChannelUpsert,
) -> Result<WhatsAppChannelRow, DbError> {
    let row = sqlx::query_as(concat!(
        "INSERT INTO whatsapp_channels (tenant_id, phone_number_id, waba_id, display_phone_number, \
           access_token_enc, app_secret_enc, is_active, messages_per_second) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (tenant_id) DO UPDATE SET \
           phone_number_id = EXCLUDED.phone_number_id, waba_id = EXCLUDED.waba_id, \
           display_phone_number = EXCLUDED.display_phone_number, \
           access_token_enc = EXCLUDED.access_token_enc, app_secret_enc = EXCLUDED.app_secret_enc, \
           is_active = EXCLUDED.is_active, \
           messages_per_second = EXCLUDED.messages_per_second, updated_at = now() \
         RETURNING ",
        columns!()
    ))
    .bind(tx.tenant().as_uuid())
    .bind(config.phone_number_id.as_str())
    .bind(config.waba_id.as_str())
    .bind(&config.display_phone_number)
    .bind(&config.access_token_enc)
    .bind(&config.app_secret_enc)
    .bind(config.is_active)
    .bind(config.messages_per_second)
    .fetch_one(tx.conn())
    .await?;
    Ok(row)
}

pub async fn get(tx: &mut TenantTx) -> Result<Option<WhatsAppChannelRow>, DbError> {
    let row = sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM whatsapp_channels WHERE tenant_id = $1"
    ))
    .bind(tx.tenant().as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    Ok(row)
}

/// Where a WhatsApp webhook for `phone_number_id` goes. No secret is part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppRoute {
    pub tenant_id: TenantId,
    pub waba_id: String,
    pub tenant_status: TenantStatus,
    pub is_active: bool,
    pub has_app_secret: bool,
}

pub async fn route(
    pool: &PgPool,
    phone_number_id: &PhoneNumberId,
) -> Result<Option<WhatsAppRoute>, DbError> {
    let row: Option<(Uuid, String, String, bool, bool)> = sqlx::query_as(
        "SELECT tenant_id, waba_id, tenant_status, is_active, has_app_secret \
         FROM whatsapp_route($1)",
    )
    .bind(phone_number_id.as_str())
    .fetch_optional(pool)
    .await?;
    row.map(|(tenant, waba_id, status, is_active, has_app_secret)| {
        Ok(WhatsAppRoute {
            tenant_id: TenantId::from_uuid(tenant),
            waba_id,
            tenant_status: TenantStatus::parse(&status)
                .map_err(|e| DbError::Corrupt(e.to_string()))?,
            is_active,
            has_app_secret,
        })
    })
    .transpose()
}

pub async fn set_active(tx: &mut TenantTx, active: bool) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE whatsapp_channels SET is_active = $2, updated_at = now() WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .bind(active)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(tx: &mut TenantTx) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM whatsapp_channels WHERE tenant_id = $1")
        .bind(tx.tenant().as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
