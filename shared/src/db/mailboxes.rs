//! `gmail_mailboxes`: a tenant's connected Gmail mailbox — its history cursor, its watch, the
//! state of its OAuth connection. The address and the sealed tokens are in the `email` channel
//! config; see the migration for why the two are apart.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{DbError, TenantTx};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Mailbox {
    pub address: String,
    /// The Gmail `historyId` everything up to which has been synced.
    pub history_id: i64,
    pub watch_expires_at: Option<DateTime<Utc>>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
    /// `active`, or `needs_consent` once Google revoked the refresh token.
    pub status: String,
    pub last_error: Option<String>,
    pub connected_at: DateTime<Utc>,
}

/// What a (re)connection establishes.
#[derive(Debug, Clone)]
pub struct Connected<'a> {
    pub address: &'a str,
    pub history_id: i64,
    pub watch_expires_at: Option<DateTime<Utc>>,
    pub access_token_expires_at: Option<DateTime<Utc>>,
}

/// Record a (re)connected mailbox and clear any earlier trouble. A new mailbox's cursor starts
/// at the watch's `historyId`; reconnecting the same address keeps the older cursor, so the
/// next sync also picks up what arrived while the connection was broken (from history, or by
/// the bounded resync when that history is gone).
pub async fn connect(tx: &mut TenantTx, new: &Connected<'_>) -> Result<Mailbox, DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO gmail_mailboxes \
           (tenant_id, address, history_id, watch_expires_at, access_token_expires_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id) DO UPDATE SET address = EXCLUDED.address, \
           history_id = CASE WHEN gmail_mailboxes.address = EXCLUDED.address \
             THEN least(gmail_mailboxes.history_id, EXCLUDED.history_id) \
             ELSE EXCLUDED.history_id END, \
           watch_expires_at = EXCLUDED.watch_expires_at, \
           access_token_expires_at = EXCLUDED.access_token_expires_at, status = 'active', \
           last_error = NULL, connected_at = now(), updated_at = now() \
         RETURNING address, history_id, watch_expires_at, access_token_expires_at, status, \
           last_error, connected_at",
    )
    .bind(tx.tenant().as_uuid())
    .bind(new.address)
    .bind(new.history_id)
    .bind(new.watch_expires_at)
    .bind(new.access_token_expires_at)
    .fetch_one(tx.conn())
    .await?)
}

/// The tenant's mailbox, if it connected one.
pub async fn get(tx: &mut TenantTx) -> Result<Option<Mailbox>, DbError> {
    Ok(sqlx::query_as(
        "SELECT address, history_id, watch_expires_at, access_token_expires_at, status, \
           last_error, connected_at \
         FROM gmail_mailboxes WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// The tenant's mailbox, locked until the transaction ends: a mailbox syncs one notification
/// at a time, and the cursor it reads is the one it advances.
pub async fn lock(tx: &mut TenantTx) -> Result<Option<Mailbox>, DbError> {
    Ok(sqlx::query_as(
        "SELECT address, history_id, watch_expires_at, access_token_expires_at, status, \
           last_error, connected_at \
         FROM gmail_mailboxes WHERE tenant_id = $1 FOR UPDATE",
    )
    .bind(tx.tenant().as_uuid())
    .fetch_optional(tx.conn())
    .await?)
}

/// Move the cursor to `history_id` — forward only — after a sync stored what came before it;
/// a successful sync also clears the last error.
pub async fn advance(tx: &mut TenantTx, history_id: i64) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE gmail_mailboxes SET history_id = greatest(history_id, $2), last_error = NULL, \
           updated_at = now() WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .bind(history_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The access token was refreshed; it expires at `expires_at`.
pub async fn token_refreshed(tx: &mut TenantTx, expires_at: DateTime<Utc>) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE gmail_mailboxes SET access_token_expires_at = $2, updated_at = now() \
         WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .bind(expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Tenants whose mailbox watch lapses before `before` (across tenants; ids only).
pub async fn watches_due(
    pool: &sqlx::PgPool,
    before: DateTime<Utc>,
    limit: i32,
) -> Result<Vec<crate::domain::TenantId>, DbError> {
    let ids: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT tenant_id FROM gmail_watches_due($1, $2)")
            .bind(before)
            .bind(limit)
            .fetch_all(pool)
            .await?;
    Ok(ids
        .into_iter()
        .map(crate::domain::TenantId::from_uuid)
        .collect())
}

/// A renewed watch, lapsing at `watch_expires_at`.
pub async fn watch_renewed(
    tx: &mut TenantTx,
    watch_expires_at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE gmail_mailboxes SET watch_expires_at = $2, last_error = NULL, updated_at = now() \
         WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .bind(watch_expires_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Google revoked the mailbox's refresh token: nothing works until its owner consents again.
pub async fn needs_consent(tx: &mut TenantTx, reason: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE gmail_mailboxes SET status = 'needs_consent', last_error = $2, updated_at = now() \
         WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .bind(reason)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A failure worth showing the operator that did not stop the mailbox.
pub async fn record_error(tx: &mut TenantTx, error: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE gmail_mailboxes SET last_error = $2, updated_at = now() WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(())
}
