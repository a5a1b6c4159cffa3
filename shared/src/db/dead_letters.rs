//! `dead_letters`: events the workers gave up on, with the error, until an admin replays or
//! discards them.
//!
//! A worker records one here when an event fails permanently or outlasts every retry tier; the
//! broker's own dead-letter queue (events a worker kept dying on) is drained into it too. The
//! row is keyed by the envelope id, so an event that fails again after a replay updates its
//! row rather than appearing twice.
//!
//! Admins list them with a [`Filter`], in id order (the envelope ids are UUIDv7, so the order
//! the events arrived in), and replay them one at a time ([`lock`], [`mark_replayed`]) or in
//! bulk (a `replay_jobs` row that the ingress's replayer works through with [`lock_batch`]). A
//! replay publishes the stored envelope again ([`DeadLetter::replay_envelope`]): the same id
//! and dedup key, so the worker's dedup skips whatever the event already did, and a second
//! death lands on the same row.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Postgres;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use uuid::Uuid;

use super::{DbError, ScopedTx};
use crate::domain::{Channel, TenantId};
use crate::envelope::{Envelope, EventKind};

/// Why the event is dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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

/// Where a dead letter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DeadLetterStatus)]
pub enum Status {
    /// Waiting for an admin.
    Dead,
    /// Published again; it comes back as `dead` if it fails again.
    Replayed,
    /// An admin decided it needs nothing more.
    Discarded,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Dead => "dead",
            Self::Replayed => "replayed",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dead" => Some(Self::Dead),
            "replayed" => Some(Self::Replayed),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }
}

/// The columns of a [`DeadLetterSummary`].
macro_rules! summary_columns {
    () => {
        "id, tenant_id, channel, kind, dedup_key, error_class, error, attempts, \
         first_failed_at, last_failed_at, status, replays, replayed_at, discarded_at"
    };
}

/// The columns of a [`DeadLetter`].
macro_rules! columns {
    () => {
        concat!(summary_columns!(), ", envelope")
    };
}

/// A dead letter as stored.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeadLetter {
    /// The envelope id.
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[schema(value_type = Channel)]
    pub channel: String,
    #[schema(value_type = EventKind)]
    pub kind: String,
    pub dedup_key: String,
    /// The envelope as it last failed (with its `attempt` and `last_error`).
    pub envelope: serde_json::Value,
    #[schema(value_type = ErrorClass)]
    pub error_class: String,
    pub error: String,
    /// Deliveries that failed, over every run.
    pub attempts: i32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    #[schema(value_type = Status)]
    pub status: String,
    /// How often it was replayed.
    pub replays: i32,
    pub replayed_at: Option<DateTime<Utc>>,
    pub discarded_at: Option<DateTime<Utc>>,
}

impl DeadLetter {
    /// The envelope to publish for a replay: the stored one, with the same id and dedup key,
    /// starting again at attempt 0 without the last error.
    pub fn replay_envelope(&self) -> Result<Envelope, DbError> {
        let mut envelope: Envelope = serde_json::from_value(self.envelope.clone())
            .map_err(|e| DbError::Corrupt(format!("dead letter {}: envelope: {e}", self.id)))?;
        envelope.attempt = 0;
        envelope.last_error = None;
        Ok(envelope)
    }
}

/// A dead letter without its envelope, as lists show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DeadLetterSummary {
    /// The envelope id.
    pub id: Uuid,
    pub tenant_id: Uuid,
    #[schema(value_type = Channel)]
    pub channel: String,
    #[schema(value_type = EventKind)]
    pub kind: String,
    pub dedup_key: String,
    #[schema(value_type = ErrorClass)]
    pub error_class: String,
    pub error: String,
    pub attempts: i32,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
    #[schema(value_type = Status)]
    pub status: String,
    pub replays: i32,
    pub replayed_at: Option<DateTime<Utc>>,
    pub discarded_at: Option<DateTime<Utc>>,
}

/// Which dead letters a list, a count or a bulk replay takes. Every field set narrows; none
/// set means every dead letter the transaction sees. A bulk replay stores its filter as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EventKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_class: Option<ErrorClass>,
    /// `None`: any status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The error contains this text, case-insensitively, taken literally (`%` and `_` are not
    /// wildcards).
    #[serde(default, rename = "q", skip_serializing_if = "Option::is_none")]
    pub error_contains: Option<String>,
    /// Failed last at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_after: Option<DateTime<Utc>>,
    /// Failed last before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_before: Option<DateTime<Utc>>,
}

/// `$head FROM dead_letters WHERE <the filter, $1-$8> $tail`; bind with [`bind_filter`].
macro_rules! filtered {
    ($head:expr, $tail:literal) => {
        concat!(
            $head,
            " FROM dead_letters \
             WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR channel = $2) \
               AND ($3::text IS NULL OR kind = $3) AND ($4::text IS NULL OR error_class = $4) \
               AND ($5::text IS NULL OR status = $5) AND ($6::text IS NULL OR error ILIKE $6) \
               AND ($7::timestamptz IS NULL OR last_failed_at >= $7) \
               AND ($8::timestamptz IS NULL OR last_failed_at < $8) ",
            $tail
        )
    };
}

fn bind_filter<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    filter: &Filter,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    query
        .bind(filter.tenant_id.map(|t| t.as_uuid()))
        .bind(filter.channel.map(|c| c.as_str()))
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.error_class.map(|c| c.as_str()))
        .bind(filter.status.map(|s| s.as_str()))
        .bind(
            filter
                .error_contains
                .as_deref()
                .map(super::contains_pattern),
        )
        .bind(filter.failed_after)
        .bind(filter.failed_before)
}

/// One dead letter by id, if the scope sees it.
pub async fn get(tx: &mut impl ScopedTx, id: Uuid) -> Result<Option<DeadLetter>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM dead_letters WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// One dead letter by id, locked until the transaction ends (to replay or discard it).
pub async fn lock(tx: &mut impl ScopedTx, id: Uuid) -> Result<Option<DeadLetter>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM dead_letters WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// A page of the dead letters `filter` matches, in id order after `after`.
pub async fn list(
    tx: &mut impl ScopedTx,
    filter: &Filter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeadLetterSummary>, DbError> {
    let query = sqlx::query_as(filtered!(
        concat!("SELECT ", summary_columns!()),
        "AND ($9::uuid IS NULL OR id > $9) ORDER BY id LIMIT $10"
    ));
    Ok(bind_filter(query, filter)
        .bind(after)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?)
}

/// How many dead letters `filter` matches.
pub async fn count(tx: &mut impl ScopedTx, filter: &Filter) -> Result<i64, DbError> {
    let query = sqlx::query_as(filtered!("SELECT count(*)", ""));
    let (n,): (i64,) = bind_filter(query, filter).fetch_one(tx.conn()).await?;
    Ok(n)
}

/// The next `limit` dead letters of a bulk replay, locked: those `filter` matches, in id order
/// after `after`, that first failed no later than `until` (when the job started, so the job
/// replays what it counted and not what dies while it runs).
pub async fn lock_batch(
    tx: &mut impl ScopedTx,
    filter: &Filter,
    until: DateTime<Utc>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeadLetter>, DbError> {
    let query = sqlx::query_as(filtered!(
        concat!("SELECT ", columns!()),
        "AND first_failed_at <= $9 AND ($10::uuid IS NULL OR id > $10) \
         ORDER BY id LIMIT $11 FOR UPDATE"
    ));
    Ok(bind_filter(query, filter)
        .bind(until)
        .bind(after)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?)
}

/// Mark dead letters replayed (once more) now.
pub async fn mark_replayed(tx: &mut impl ScopedTx, ids: &[Uuid]) -> Result<u64, DbError> {
    let done = sqlx::query(
        "UPDATE dead_letters SET status = 'replayed', replays = replays + 1, replayed_at = now() \
         WHERE id = ANY($1)",
    )
    .bind(ids)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected())
}

/// Mark a dead letter discarded now; `None` if the scope does not see it.
pub async fn mark_discarded(
    tx: &mut impl ScopedTx,
    id: Uuid,
) -> Result<Option<DeadLetter>, DbError> {
    Ok(sqlx::query_as(concat!(
        "UPDATE dead_letters SET status = 'discarded', discarded_at = now() WHERE id = $1 \
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_stored_with_the_names_the_api_takes() {
        let filter = Filter {
            channel: Some(Channel::Sms),
            kind: Some(EventKind::MessageReceived),
            error_class: Some(ErrorClass::DeliveryLimit),
            error_contains: Some("timeout".into()),
            ..Filter::default()
        };
        let json = serde_json::to_value(&filter).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "channel": "sms", "kind": "message_received",
                "error_class": "delivery_limit", "q": "timeout"
            })
        );
        assert_eq!(serde_json::from_value::<Filter>(json).unwrap(), filter);
        assert_eq!(
            serde_json::from_value::<Filter>(serde_json::json!({})).unwrap(),
            Filter::default()
        );
    }

    #[test]
    fn statuses_and_classes_parse_back() {
        for status in [Status::Dead, Status::Replayed, Status::Discarded] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        for class in [
            ErrorClass::Permanent,
            ErrorClass::Exhausted,
            ErrorClass::DeliveryLimit,
        ] {
            assert_eq!(ErrorClass::parse(class.as_str()), Some(class));
        }
    }
}
