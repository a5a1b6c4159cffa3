//! `channel_configs`: a tenant's SMS, voice and email configuration, one row per channel.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::Channel;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChannelConfigRow {
    pub tenant_id: Uuid,
    pub channel: String,
    pub settings: serde_json::Value,
    /// name → sealed secret.
    pub secrets: serde_json::Value,
    pub routing_keys: Vec<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "tenant_id, channel, settings, secrets, routing_keys, is_active, created_at, updated_at"
    };
}

/// Which tenant claims `key`, if any (serialize claims with [`lock_key`] first).
pub async fn key_owner(tx: &mut TenantTx, key: &str) -> Result<Option<Uuid>, DbError> {
    Ok(sqlx::query_scalar("SELECT routing_key_owner($1)")
        .bind(key)
        .fetch_one(tx.conn())
        .await?)
}

/// Hold a transaction-scoped lock on `key`, so two tenants cannot claim it at once.
pub async fn lock_key(tx: &mut TenantTx, key: &str) -> Result<(), DbError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn upsert(
    tx: &mut TenantTx,
    channel: Channel,
    settings: &serde_json::Value,
    secrets: &serde_json::Value,
    routing_keys: &[String],
    is_active: bool,
) -> Result<ChannelConfigRow, DbError> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO channel_configs (tenant_id, channel, settings, secrets, routing_keys, is_active) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (tenant_id, channel) DO UPDATE SET settings = EXCLUDED.settings, \
           secrets = EXCLUDED.secrets, routing_keys = EXCLUDED.routing_keys, \
           is_active = EXCLUDED.is_active, updated_at = now() \
         RETURNING ",
        columns!()
    ))
    .bind(tx.tenant().as_uuid())
    .bind(channel.as_str())
    .bind(settings)
    .bind(secrets)
    .bind(routing_keys)
    .bind(is_active)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, channel: Channel) -> Result<Option<ChannelConfigRow>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM channel_configs WHERE tenant_id = $1 AND channel = $2"
    ))
    .bind(tx.tenant().as_uuid())
    .bind(channel.as_str())
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn set_active(
    tx: &mut TenantTx,
    channel: Channel,
    active: bool,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE channel_configs SET is_active = $3, updated_at = now() \
         WHERE tenant_id = $1 AND channel = $2",
    )
    .bind(tx.tenant().as_uuid())
    .bind(channel.as_str())
    .bind(active)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(tx: &mut TenantTx, channel: Channel) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM channel_configs WHERE tenant_id = $1 AND channel = $2")
        .bind(tx.tenant().as_uuid())
        .bind(channel.as_str())
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Tenants per channel, active and inactive (platform statistics).
pub async fn stats(pool: &sqlx::PgPool) -> Result<Vec<(String, i64, i64)>, DbError> {
    Ok(
        sqlx::query_as("SELECT channel, active, inactive FROM platform_channel_stats()")
            .fetch_all(pool)
            .await?,
    )
}

/// One channel of a tenant that claims a routing key.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelRoute {
    pub tenant_id: Uuid,
    pub channel: String,
    pub is_active: bool,
}

/// Every channel config that claims `key` (all of one tenant: a key belongs to one tenant).
pub async fn route(pool: &PgPool, key: &str) -> Result<Vec<ChannelRoute>, DbError> {
    Ok(
        sqlx::query_as("SELECT tenant_id, channel, is_active FROM channel_route($1)")
            .bind(key)
            .fetch_all(pool)
            .await?,
    )
}
