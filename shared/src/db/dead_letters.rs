//! `dead_letters`: events the workers gave up on, with the error, until an admin replays or
//! discards them.
//!
//! A worker records one here when an event fails permanently or outlasts every retry tier; the
//! broker's own dead-letter queue (events a worker kept dying on) is drained into it too. The
//! row is keyed by the envelope id, so an event that fails again after a replay updates its
//! row rather than appearing twice.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{DbError, ScopedTx};
use crate::envelope::Envelope;

/// Why the event is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// It can never succeed: malformed, references nothing, credentials revoked.
    Permanent,
    /// Transient failures outlasted every retry tier.
    Exhausted,
    /// The broker stopped redelivering it: a worker kept stopping while processing it.
    DeliveryLimit,
}

impl ErrorClass {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Exhausted => "exhausted",
            Self::DeliveryLimit => "delivery_limit",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "permanent" => Some(Self::Permanent),
            "exhausted" => Some(Self::Exhausted),
            "delivery_limit" => Some(Self::DeliveryLimit),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One failure to record.
#[derive(Debug, Clone)]
pub struct NewDeadLetter<'a> {
    pub envelope: &'a Envelope,
    pub class: ErrorClass,
    pub error: &'a str,
    /// Deliveries that failed in this run (the envelope's attempt + 1 for the last one).
    pub attempts: u32,
}

/// Record a dead event, or — when it died before and was replayed — count the new failures on
/// its row and make it dead again. Runs under the event's tenant or the platform scope.
pub async fn record(tx: &mut impl ScopedTx, dead: &NewDeadLetter<'_>) -> Result<(), DbError> {
    let envelope = dead.envelope;
    let json = serde_json::to_value(envelope).map_err(|e| DbError::Corrupt(e.to_string()))?;
    let attempts = i32::try_from(dead.attempts).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO dead_letters \
           (id, tenant_id, channel, kind, dedup_key, envelope, error_class, error, attempts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET \
           envelope = EXCLUDED.envelope, error_class = EXCLUDED.error_class, \
           error = EXCLUDED.error, attempts = dead_letters.attempts + EXCLUDED.attempts, \
           last_failed_at = now(), status = 'dead', discarded_at = NULL",
    )
    .bind(envelope.id)
    .bind(envelope.tenant_id.as_uuid())
    .bind(envelope.channel.as_str())
    .bind(envelope.kind.as_str())
    .bind(envelope.dedup_key.as_str())
    .bind(json)
    .bind(dead.class.as_str())
    .bind(dead.error)
    .bind(attempts)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A dead letter as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub dedup_key: String,
    pub envelope: serde_json::Value,
    pub error_class: String,
    pub error: String,
    pub attempts: i32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    pub status: String,
    pub replays: i32,
    pub replayed_at: Option<DateTime<Utc>>,
    pub discarded_at: Option<DateTime<Utc>>,
}

/// One dead letter by id, if the scope sees it.
pub async fn get(tx: &mut impl ScopedTx, id: Uuid) -> Result<Option<DeadLetter>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, channel, kind, dedup_key, envelope, error_class, error, attempts, \
                first_failed_at, last_failed_at, status, replays, replayed_at, discarded_at \
         FROM dead_letters WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}
