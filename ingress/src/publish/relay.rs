//! The spool relay: a background task of every ingress process that publishes what the
//! [`Publisher`] spooled, oldest first, once the broker answers again, and then switches the
//! process back to publishing directly.
//!
//! One batch is one transaction: take the relay lock (`pg_try_advisory_xact_lock`, so with
//! several replicas one relay drains at a time and the spool's order is kept), read the oldest
//! [`BATCH`] rows, publish them and wait for every confirm, delete exactly those rows, commit.
//! A failure anywhere rolls the transaction back and the rows stay; a crash after the broker
//! confirmed but before the commit publishes the batch again, which the workers' dedup makes
//! harmless. Broker or database failures are retried with exponential backoff; the relay
//! connects to the broker before it opens a transaction, so no lock is held while it waits for
//! a connection.
//!
//! When idle it looks at the spool every [`IDLE_POLL`] (and at once when this process spooled):
//! that is how rows another replica spooled, or a stopped process left, are found. It stops on
//! shutdown, after the batch in flight.

use std::sync::atomic::Ordering;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use switchyard_shared::db::{DbError, PlatformTx, publish_spool};
use switchyard_shared::queue::QueueError;
use switchyard_shared::shutdown::Shutdown;

use super::Publisher;

/// Envelopes published per batch (one broker round of pipelined confirms, one commit).
pub const BATCH: i64 = 500;
/// How often an idle relay looks for rows other processes spooled.
pub const IDLE_POLL: Duration = Duration::from_secs(1);
/// How soon a relay that found another one draining looks again.
const BUSY_RETRY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("broker: {0}")]
    Queue(#[from] QueueError),
}

/// How a pass over the spool ended.
enum Pass {
    /// The spool is empty (or shutdown began): wait for new rows.
    Idle,
    /// Another relay holds the lock and is draining.
    Busy,
}

/// Between attempts while the broker or the database is away. The ceiling is low on purpose:
/// the wait after the last failed attempt is how long spooled events sit after the outage
/// ended, and a refused connection attempt a second costs nothing.
fn backoff() -> ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1))
        .with_jitter()
        .without_max_times()
        .build()
}

/// Relay the spool until `shutdown`.
pub async fn run(publisher: Publisher, shutdown: Shutdown) {
    let mut retry = backoff();
    loop {
        let delay = match drain(&publisher, &shutdown).await {
            Ok(Pass::Idle) => {
                retry = backoff();
                None
            }
            Ok(Pass::Busy) => {
                retry = backoff();
                Some(BUSY_RETRY)
            }
            Err(e) => {
                let delay = retry.next().unwrap_or(Duration::from_secs(5));
                if publisher.spooling() {
                    tracing::warn!(error = %e, ?delay, "cannot relay the publish spool yet; retrying");
                } else {
                    tracing::debug!(error = %e, ?delay, "cannot look at the publish spool; retrying");
                }
                Some(delay)
            }
        };
        match delay {
            // Not woken by new rows while backing off: each would be another connection attempt.
            Some(delay) => tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(delay) => {}
            },
            None => tokio::select! {
                _ = shutdown.wait() => return,
                _ = publisher.shared.spooled.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            },
        }
    }
}

/// Publish batches until the spool is empty, then switch the process back to publishing
/// directly.
async fn drain(publisher: &Publisher, shutdown: &Shutdown) -> Result<Pass, RelayError> {
    let shared = &publisher.shared;
    let mut relayed = 0;
    loop {
        if shutdown.is_triggered() {
            return Ok(Pass::Idle);
        }
        if publish_spool::is_empty(&shared.pool).await? {
            if !publisher.spooling() || leave_spool_mode(publisher).await? {
                if relayed > 0 {
                    tracing::info!(relayed, "publish spool drained; publishing directly again");
                }
                return Ok(Pass::Idle);
            }
            continue;
        }
        // Rows exist (perhaps another replica's): publish nothing directly until they are out.
        shared.spooling.store(true, Ordering::Release);
        shared.queue.ready().await?;
        match relay_batch(publisher).await? {
            Some(n) => relayed += n,
            None => return Ok(Pass::Busy),
        }
    }
}

/// Publish the oldest batch and delete it; `None` when another relay holds the lock.
async fn relay_batch(publisher: &Publisher) -> Result<Option<usize>, RelayError> {
    let shared = &publisher.shared;
    let mut tx = PlatformTx::begin(&shared.pool).await?;
    if !publish_spool::try_lock_relay(&mut tx).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let batch = publish_spool::oldest(&mut tx, BATCH).await?;
    let (seqs, envelopes): (Vec<i64>, Vec<_>) =
        batch.into_iter().map(|s| (s.seq, s.envelope)).unzip();
    if !envelopes.is_empty() {
        // On failure the transaction is dropped, i.e. rolled back: the rows stay.
        shared.queue.publish(&envelopes).await?;
        publish_spool::delete(&mut tx, &seqs).await?;
    }
    tx.commit().await?;
    for envelope in &envelopes {
        tracing::debug!(tenant_id = %envelope.tenant_id, event_id = %envelope.id,
            channel = %envelope.channel, kind = envelope.kind.as_str(), "relayed from the spool");
    }
    Ok(Some(envelopes.len()))
}

/// Lower the spooling mode if the spool is still empty once no request is writing to it.
async fn leave_spool_mode(publisher: &Publisher) -> Result<bool, DbError> {
    let shared = &publisher.shared;
    let _no_writers = shared.gate.write().await;
    if publish_spool::is_empty(&shared.pool).await? {
        shared.spooling.store(false, Ordering::Release);
        return Ok(true);
    }
    Ok(false)
}
