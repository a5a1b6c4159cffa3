//! `replay_jobs`: bulk replays of dead letters, and the lease that lets any ingress replica
//! run one.
//!
//! An admin creates a job with a dead-letter [`Filter`](super::dead_letters::Filter) and a
//! rate; it is `running` until the replayer has gone through every matching dead letter
//! (`completed`), an admin cancels it (`cancelled`), or it gives up on an error (`failed`).
//!
//! The replayer ([`claim`]) takes a running job whose lease is free or expired, under its own
//! `lease_owner` id, and renews the lease with every batch ([`advance`]). Every write of a
//! replayer is conditional on holding the lease ([`hold`] locks the job row for the batch), so
//! a replica that stalled past its lease cannot move a job another has taken over; and a
//! crashed replica's job is taken over once its lease runs out, from its `cursor`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{DbError, ScopedTx};
use crate::domain::TenantId;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ReplayJobStatus)]
pub enum JobStatus {
    Running,
    Completed,
    Cancelled,
    Failed,
}

impl JobStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(Self::Running),
            "completed" => Some(Self::Completed),
            "cancelled" => Some(Self::Cancelled),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! columns {
    () => {
        "id, tenant_id, filter, rate_per_second, status, total, replayed, cursor, error, \
         created_by, created_at, updated_at, finished_at"
    };
}

/// A bulk replay.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReplayJob {
    pub id: Uuid,
    /// The tenant whose dead letters it replays; absent: every tenant's.
    pub tenant_id: Option<Uuid>,
    /// The dead-letter filter it was started with (the fields of the request that created it).
    pub filter: serde_json::Value,
    pub rate_per_second: i32,
    #[schema(value_type = JobStatus)]
    pub status: String,
    /// Dead letters that matched when it started.
    pub total: i32,
    /// Dead letters published again so far (it may end below `total` when some were replayed
    /// or discarded one by one meanwhile).
    pub replayed: i32,
    /// The last dead letter it went past; a resumed job goes on after it.
    pub cursor: Option<Uuid>,
    /// Why it failed.
    pub error: Option<String>,
    /// Who started it (the audit log's actor).
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job to start.
#[derive(Debug, Clone)]
pub struct NewReplayJob<'a> {
    pub tenant: Option<TenantId>,
    pub filter: serde_json::Value,
    pub rate_per_second: i32,
    /// Matching dead letters now; a job with none is created `completed`.
    pub total: i32,
    pub created_by: &'a str,
}

pub async fn create(tx: &mut impl ScopedTx, job: &NewReplayJob<'_>) -> Result<ReplayJob, DbError> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO replay_jobs \
           (id, tenant_id, filter, rate_per_second, total, created_by, status, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, \
           CASE WHEN $5 = 0 THEN 'completed' ELSE 'running' END, \
           CASE WHEN $5 = 0 THEN now() END) \
         RETURNING ",
        columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(job.tenant.map(|t| t.as_uuid()))
    .bind(&job.filter)
    .bind(job.rate_per_second)
    .bind(job.total)
    .bind(job.created_by)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get(tx: &mut impl ScopedTx, id: Uuid) -> Result<Option<ReplayJob>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM replay_jobs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// A page of the jobs the scope sees, in the order they were created, optionally only those
/// of `tenant` (jobs over every tenant are not a tenant's) or with `status`.
pub async fn list(
    tx: &mut impl ScopedTx,
    tenant: Option<TenantId>,
    status: Option<JobStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReplayJob>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM replay_jobs WHERE ($1::uuid IS NULL OR tenant_id = $1) \
           AND ($2::text IS NULL OR status = $2) AND ($3::uuid IS NULL OR id > $3) \
         ORDER BY id LIMIT $4"
    ))
    .bind(tenant.map(|t| t.as_uuid()))
    .bind(status.map(|s| s.as_str()))
    .bind(after)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Cancel a running job; `None` when the scope sees no running job `id` (see [`get`] for
/// why). A replayer working on it stops before its next batch.
pub async fn cancel(tx: &mut impl ScopedTx, id: Uuid) -> Result<Option<ReplayJob>, DbError> {
    Ok(sqlx::query_as(concat!(
        "UPDATE replay_jobs SET status = 'cancelled', finished_at = now(), updated_at = now(), \
           lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND status = 'running' RETURNING ",
        columns!()
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Take the oldest running job whose lease is free or has run out, for `lease_secs`, as
/// `owner`. Replicas claiming at once each get a different job (or none).
pub async fn claim(
    tx: &mut impl ScopedTx,
    owner: Uuid,
    lease_secs: f64,
) -> Result<Option<ReplayJob>, DbError> {
    Ok(sqlx::query_as(concat!(
        "UPDATE replay_jobs SET lease_owner = $1, lease_until = now() + make_interval(secs => $2), \
           updated_at = now() \
         WHERE id = (SELECT id FROM replay_jobs \
                     WHERE status = 'running' AND (lease_until IS NULL OR lease_until < now()) \
                     ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING ",
        columns!()
    ))
    .bind(owner)
    .bind(lease_secs)
    .fetch_optional(tx.conn())
    .await?)
}

/// Lock job `id` for one batch, if it is still running and `owner` still holds its lease;
/// `None` means stop (cancelled, or taken over).
pub async fn hold(
    tx: &mut impl ScopedTx,
    id: Uuid,
    owner: Uuid,
) -> Result<Option<ReplayJob>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM replay_jobs WHERE id = $1 AND status = 'running' AND lease_owner = $2 FOR UPDATE"
    ))
    .bind(id)
    .bind(owner)
    .fetch_optional(tx.conn())
    .await?)
}

/// Record a batch of a job held with [`hold`]: `replayed` more, the cursor moved to `cursor`,
/// and the lease renewed for `lease_secs`.
pub async fn advance(
    tx: &mut impl ScopedTx,
    id: Uuid,
    cursor: Uuid,
    replayed: i32,
    lease_secs: f64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE replay_jobs SET cursor = $2, replayed = replayed + $3, updated_at = now(), \
           lease_until = now() + make_interval(secs => $4) \
         WHERE id = $1",
    )
    .bind(id)
    .bind(cursor)
    .bind(replayed)
    .bind(lease_secs)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// End a running job `owner` holds: `completed`, or `failed` with `error`. `false` when it was
/// not running under `owner` any more.
pub async fn finish(
    tx: &mut impl ScopedTx,
    id: Uuid,
    owner: Uuid,
    status: JobStatus,
    error: Option<&str>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE replay_jobs SET status = $3, error = $4, finished_at = now(), updated_at = now(), \
           lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2 AND status = 'running'",
    )
    .bind(id)
    .bind(owner)
    .bind(status.as_str())
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Give up the lease of a job `owner` holds (at shutdown), so another replica resumes it at
/// once.
pub async fn release(tx: &mut impl ScopedTx, id: Uuid, owner: Uuid) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE replay_jobs SET lease_owner = NULL, lease_until = NULL, updated_at = now() \
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::JobStatus;

    #[test]
    fn statuses_parse_back() {
        for status in [
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Cancelled,
            JobStatus::Failed,
        ] {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }
}
