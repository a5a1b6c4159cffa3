//! `publish_spool`: where the ingress keeps accepted envelopes while the broker is unreachable,
//! until its relay has published them.
//!
//! Everything runs in a [`PlatformTx`]: the table's row-level security admits rows only in the
//! platform scope (it holds several tenants' events in one order). [`insert`], [`count`] and
//! [`is_empty`] open their own; the relay's batch ([`try_lock_relay`], [`oldest`], [`delete`])
//! is one transaction of the caller's, serialised across ingress replicas by a
//! transaction-scoped advisory lock, so the spool is drained in one order however many
//! replicas run a relay.

use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, PlatformTx, ScopedTx};
use crate::envelope::Envelope;

/// The advisory lock the relay holds while it publishes a batch ("SYSPOOL1" in ASCII). Advisory
/// locks are per database, so deployments in other databases do not contend for it.
const RELAY_LOCK: i64 = 0x5359_5350_4f4f_4c31;

/// One spooled envelope with its place in the spool.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub seq: i64,
    pub envelope: Envelope,
}

/// Spool one request's envelopes, keeping their order: one statement, one commit.
pub async fn insert(pool: &PgPool, envelopes: &[Envelope]) -> Result<(), DbError> {
    let mut ids = Vec::with_capacity(envelopes.len());
    let mut tenants = Vec::with_capacity(envelopes.len());
    let mut channels = Vec::with_capacity(envelopes.len());
    let mut documents = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        ids.push(envelope.id);
        tenants.push(envelope.tenant_id.as_uuid());
        channels.push(envelope.channel.as_str());
        documents
            .push(serde_json::to_value(envelope).map_err(|e| DbError::Corrupt(e.to_string()))?);
    }
    // ORDER BY the position: the identity is drawn row by row in that order.
    let insert = sqlx::query(
        "INSERT INTO publish_spool (id, tenant_id, channel, envelope) \
         SELECT e.id, e.tenant_id, e.channel, e.envelope \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[]) \
              WITH ORDINALITY AS e (id, tenant_id, channel, envelope, position) \
         ORDER BY e.position",
    )
    .bind(&ids)
    .bind(&tenants)
    .bind(&channels)
    .bind(&documents);
    let mut tx = PlatformTx::begin(pool).await?;
    insert.execute(tx.conn()).await?;
    tx.commit().await
}

/// Take the relay's lock for the rest of the transaction; `false` when another relay holds it.
pub async fn try_lock_relay(tx: &mut PlatformTx) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(RELAY_LOCK)
        .fetch_one(tx.conn())
        .await?)
}

/// The oldest spooled envelopes, in the order they were accepted, at most `limit`.
pub async fn oldest(tx: &mut PlatformTx, limit: i64) -> Result<Vec<Spooled>, DbError> {
    let rows: Vec<(i64, Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT seq, id, envelope FROM publish_spool ORDER BY seq LIMIT $1")
            .bind(limit)
            .fetch_all(tx.conn())
            .await?;
    rows.into_iter()
        .map(|(seq, id, json)| {
            serde_json::from_value(json)
                .map(|envelope| Spooled { seq, envelope })
                .map_err(|e| DbError::Corrupt(format!("spooled event {id} (seq {seq}): {e}")))
        })
        .collect()
}

/// Forget envelopes the broker confirmed, by exact `seq` (never a range: see the migration).
pub async fn delete(tx: &mut PlatformTx, seqs: &[i64]) -> Result<u64, DbError> {
    let done = sqlx::query("DELETE FROM publish_spool WHERE seq = ANY($1)")
        .bind(seqs)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected())
}

/// How many envelopes wait in the spool.
pub async fn count(pool: &PgPool) -> Result<i64, DbError> {
    let mut tx = PlatformTx::begin(pool).await?;
    let n = sqlx::query_scalar("SELECT count(*) FROM publish_spool")
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Whether the spool holds nothing (cheaper than [`count`] on a long spool).
pub async fn is_empty(pool: &PgPool) -> Result<bool, DbError> {
    let mut tx = PlatformTx::begin(pool).await?;
    let empty = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM publish_spool)")
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(empty)
}
