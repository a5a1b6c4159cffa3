//! The replayer: runs the bulk dead-letter replays admins start (`replay_jobs`), in the
//! background of every ingress replica.
//!
//! Every [`POLL`] it claims a running job whose lease is free or has run out
//! ([`replay_jobs::claim`], `FOR UPDATE SKIP LOCKED`, so replicas claiming at once each take a
//! different job), and runs it in a task of its own (at most [`MAX_JOBS`] at once). A job
//! goes in batches, each one transaction:
//!
//! 1. lock the job row — it must still be `running` under this replica's lease, else the job
//!    was cancelled or taken over and the task stops (this is how a cancel takes effect,
//!    before the next batch);
//! 2. lock the next matching `dead` rows after the job's `cursor`, in id order, among those
//!    that first failed before the job started;
//! 3. publish them (one pipelined publish, every confirm awaited), mark them `replayed`, move
//!    the cursor, count them, renew the lease; commit.
//!
//! A batch that finds no rows completes the job. A replica that stops (shutdown) gives its
//! leases up; one that crashes leaves them to run out ([`LEASE`]), and another replica goes on
//! from the cursor. A crash between publish and commit republishes that batch on resume —
//! harmless, since a replay keeps the envelope id and dedup key.
//!
//! **Pace.** A GCRA limiter from `governor` (already the login limiter's) admits one batch of
//! `n` rows when `n` cells are free, at `rate_per_second` cells a second; batches are a tenth
//! of a second's worth (at least one row). A plain sleep between batches would drift by each
//! batch's own duration; the limiter counts from when cells were spent, so the long-run rate
//! is the job's, whatever the batches cost, and a slow batch is not followed by a burst beyond
//! one batch. It is per job and per replica: one job runs on one replica at a time.
//!
//! **Failures.** A batch that fails (database or broker unavailable) is retried after a pause;
//! after [`MAX_FAILURES`] in a row the job is marked `failed` with the error. A stored envelope
//! that cannot be read is skipped (logged) and the job goes on.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{Quota, RateLimiter};
use sqlx::PgPool;
use switchyard_shared::db::dead_letters::{self, Filter, Status};
use switchyard_shared::db::replay_jobs::{self, JobStatus, ReplayJob};
use switchyard_shared::db::{DbError, PlatformTx};
use switchyard_shared::domain::TenantId;
use switchyard_shared::queue::{EventQueue, QueueError};
use switchyard_shared::shutdown::Shutdown;
use tokio::task::JoinSet;
use uuid::Uuid;

/// How often an idle replica looks for a job.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a claimed job stays this replica's without progress.
pub const LEASE: Duration = Duration::from_secs(30);
/// Jobs one replica runs at once.
pub const MAX_JOBS: usize = 4;
/// Failed batches in a row before the job is marked failed.
pub const MAX_FAILURES: u32 = 5;
/// The most rows one batch takes.
const MAX_BATCH: u32 = 500;

#[derive(Debug, thiserror::Error)]
enum BatchError {
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
}

/// Run jobs until `shutdown`; then stop every job after its batch and give up its lease.
pub async fn run(pool: PgPool, queue: Arc<dyn EventQueue>, shutdown: Shutdown) {
    // This replica's identity as a lease holder.
    let owner = Uuid::now_v7();
    let mut jobs = JoinSet::new();
    while !shutdown.is_triggered() {
        while jobs.try_join_next().is_some() {}
        if jobs.len() < MAX_JOBS {
            match claim(&pool, owner).await {
                Ok(Some(job)) => {
                    tracing::info!(job_id = %job.id, total = job.total, replayed = job.replayed,
                        rate = job.rate_per_second, "replay job claimed");
                    let runner = JobRunner {
                        pool: pool.clone(),
                        queue: queue.clone(),
                        owner,
                        shutdown: shutdown.clone(),
                    };
                    jobs.spawn(async move { runner.run(job).await });
                    // There may be more waiting.
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim replay jobs"),
            }
        }
        tokio::select! {
            biased;
            _ = shutdown.wait() => break,
            _ = tokio::time::sleep(POLL) => {}
        }
    }
    while jobs.join_next().await.is_some() {}
}

async fn claim(pool: &PgPool, owner: Uuid) -> Result<Option<ReplayJob>, DbError> {
    let mut tx = PlatformTx::begin(pool).await?;
    let job = replay_jobs::claim(&mut tx, owner, LEASE.as_secs_f64()).await?;
    tx.commit().await?;
    Ok(job)
}

/// Rows per batch at `rate` a second: a tenth of a second's worth, at least one.
fn batch_size(rate: u32) -> NonZeroU32 {
    NonZeroU32::new(rate.div_ceil(10).clamp(1, MAX_BATCH)).unwrap_or(NonZeroU32::MIN)
}

/// What one batch did.
enum Step {
    /// Replayed up to (and including) this dead letter.
    Advanced(Uuid),
    /// Nothing left: the job is completed.
    Completed,
    /// The job was cancelled, or is not this replica's any more.
    Stopped,
}

struct JobRunner {
    pool: PgPool,
    queue: Arc<dyn EventQueue>,
    owner: Uuid,
    shutdown: Shutdown,
}

impl JobRunner {
    #[tracing::instrument(name = "replay_job", skip_all, fields(job_id = %job.id))]
    async fn run(self, job: ReplayJob) {
        let mut filter: Filter = match serde_json::from_value(job.filter.clone()) {
            Ok(filter) => filter,
            Err(e) => {
                self.fail(&job, &format!("the job's filter cannot be read: {e}"))
                    .await;
                return;
            }
        };
        // A job replays dead rows only, and a tenant's job only its tenant's.
        filter.status = Some(Status::Dead);
        if let Some(tenant) = job.tenant_id {
            filter.tenant_id = Some(TenantId::from_uuid(tenant));
        }
        let rate = u32::try_from(job.rate_per_second)
            .ok()
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::MIN);
        let batch = batch_size(rate.get());
        let limiter = RateLimiter::direct(Quota::per_second(rate).allow_burst(batch));
        let mut cursor = job.cursor;
        let mut failures = 0;
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.wait() => {
                    self.release(&job).await;
                    return;
                }
                // `batch` is the limiter's burst, so it always fits.
                _ = limiter.until_n_ready(batch) => {}
            }
            match self.batch(&job, &filter, cursor, batch).await {
                Ok(Step::Advanced(last)) => {
                    cursor = Some(last);
                    failures = 0;
                }
                Ok(Step::Completed) => {
                    tracing::info!("replay job completed");
                    return;
                }
                Ok(Step::Stopped) => {
                    tracing::info!("replay job stopped (cancelled or taken over)");
                    return;
                }
                Err(e) => {
                    failures += 1;
                    if failures >= MAX_FAILURES {
                        self.fail(&job, &e.to_string()).await;
                        return;
                    }
                    tracing::warn!(error = %e, failures, "replay batch failed; retrying");
                    let pause = Duration::from_millis(250 << failures.min(5));
                    tokio::select! {
                        biased;
                        _ = self.shutdown.wait() => {
                            self.release(&job).await;
                            return;
                        }
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            }
        }
    }

    /// One batch, in one transaction (see the module documentation).
    async fn batch(
        &self,
        job: &ReplayJob,
        filter: &Filter,
        cursor: Option<Uuid>,
        size: NonZeroU32,
    ) -> Result<Step, BatchError> {
        let mut tx = PlatformTx::begin(&self.pool).await?;
        if replay_jobs::hold(&mut tx, job.id, self.owner)
            .await?
            .is_none()
        {
            tx.rollback().await?;
            return Ok(Step::Stopped);
        }
        let rows =
            dead_letters::lock_batch(&mut tx, filter, job.created_at, cursor, size.get().into())
                .await?;
        let Some(last) = rows.last().map(|row| row.id) else {
            replay_jobs::finish(&mut tx, job.id, self.owner, JobStatus::Completed, None).await?;
            tx.commit().await?;
            return Ok(Step::Completed);
        };
        let mut envelopes = Vec::with_capacity(rows.len());
        for row in &rows {
            match row.replay_envelope() {
                Ok(envelope) => envelopes.push(envelope),
                Err(e) => tracing::error!(error = %e, tenant_id = %row.tenant_id,
                    event_id = %row.id, channel = %row.channel, "dead letter skipped"),
            }
        }
        self.queue.publish(&envelopes).await?;
        let ids: Vec<Uuid> = envelopes.iter().map(|e| e.id).collect();
        dead_letters::mark_replayed(&mut tx, &ids).await?;
        let count = i32::try_from(ids.len()).unwrap_or(i32::MAX);
        replay_jobs::advance(&mut tx, job.id, last, count, LEASE.as_secs_f64()).await?;
        tx.commit().await?;
        for envelope in &envelopes {
            tracing::debug!(tenant_id = %envelope.tenant_id, event_id = %envelope.id,
                channel = %envelope.channel, "dead letter replayed");
        }
        Ok(Step::Advanced(last))
    }

    async fn fail(&self, job: &ReplayJob, error: &str) {
        tracing::error!(%error, "replay job failed");
        let result = async {
            let mut tx = PlatformTx::begin(&self.pool).await?;
            replay_jobs::finish(&mut tx, job.id, self.owner, JobStatus::Failed, Some(error))
                .await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            // The lease runs out and another replica (or this one) tries again.
            tracing::error!(error = %e, "cannot mark the replay job failed");
        }
    }

    async fn release(&self, job: &ReplayJob) {
        let result = async {
            let mut tx = PlatformTx::begin(&self.pool).await?;
            replay_jobs::release(&mut tx, job.id, self.owner).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot release the replay job's lease; it runs out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::batch_size;

    #[test]
    fn batches_are_a_tenth_of_a_second_of_the_rate() {
        assert_eq!(batch_size(1).get(), 1);
        assert_eq!(batch_size(10).get(), 1);
        assert_eq!(batch_size(11).get(), 2);
        assert_eq!(batch_size(100).get(), 10);
        assert_eq!(batch_size(10_000).get(), 500);
    }
}
