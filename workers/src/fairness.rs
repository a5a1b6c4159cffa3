//! Tenant fairness: one tenant's flood must not queue up in front of everyone else's events.
//!
//! The partition queues are first in, first out: without help, a tenant that sends thousands of
//! events in a minute puts every other tenant's next event behind all of them. So each tenant
//! gets a fair share of straight-through processing ([`FairShare`]: `TENANT_EVENTS_PER_SECOND`
//! with bursts of `TENANT_EVENTS_BURST`, a GCRA bucket per tenant in PostgreSQL shared by every
//! worker). An event beyond its tenant's share is **parked** — one insert, then acknowledged —
//! instead of processed, so the queues drain at parking speed and the other tenants' events
//! behind a flood wait only for those inserts.
//!
//! Parked events are applied by the [`ParkedDrain`] of every worker, round-robin across the
//! tenants that have any, as fast as the workers can: the share limits who goes first, not how
//! much work a tenant gets done when nobody else is waiting. Order within a conversation holds:
//! once one of its events is parked, the later ones are parked behind it, and the drain applies
//! only the oldest parked event of each conversation, removing it in the same transaction.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use switchyard_shared::db::dead_letters::ErrorClass;
use switchyard_shared::db::{DbError, parked_events, send_rate};
use switchyard_shared::domain::TenantId;
use switchyard_shared::queue::{Burial, EventHandler, EventQueue, Outcome};
use switchyard_shared::shutdown::Shutdown;
use tokio::task::JoinSet;

use crate::consumer::{EventProcessor, Parked};
use crate::handlers::HandleError;

/// Each tenant's rate of straight-through processing.
#[derive(Debug, Clone)]
pub struct FairShare {
    pool: PgPool,
    per_second: f64,
    burst: u32,
}

impl FairShare {
    pub fn new(pool: PgPool, per_second: f64, burst: u32) -> Self {
        Self {
            pool,
            per_second: per_second.max(0.001),
            burst: burst.max(1),
        }
    }

    /// Whether an event of `tenant` is within its share now (and takes a slot if so).
    pub async fn admit(&self, tenant: TenantId) -> Result<bool, DbError> {
        let bucket = format!("tenant-events:{tenant}");
        let wait = send_rate::take_slot(&self.pool, &bucket, self.per_second, self.burst).await?;
        Ok(wait.is_zero())
    }
}

/// How often an idle drain looks for parked events.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Applies parked events, round-robin across tenants.
pub struct ParkedDrain {
    pool: PgPool,
    processor: Arc<EventProcessor>,
    /// Where an event that failed transiently goes back to, for its retry tiers.
    queue: Arc<dyn EventQueue>,
    /// Parked events applied at once (shared out over the waiting tenants).
    slots: usize,
}

impl ParkedDrain {
    pub fn new(
        pool: PgPool,
        processor: Arc<EventProcessor>,
        queue: Arc<dyn EventQueue>,
        slots: usize,
    ) -> Self {
        Self {
            pool,
            processor,
            queue,
            slots: slots.max(1),
        }
    }

    pub async fn run(self, shutdown: Shutdown) {
        let this = Arc::new(self);
        loop {
            let busy = match this.pass().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "parked-event drain paused");
                    false
                }
            };
            if shutdown.is_triggered() {
                return;
            }
            if !busy {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
    }

    /// One round: the drain's slots shared out evenly over the waiting tenants (a tenant's
    /// slots claim different conversations). Whether anything was applied.
    async fn pass(self: &Arc<Self>) -> Result<bool, DbError> {
        let tenants = parked_events::tenants_waiting(&self.pool, 256).await?;
        let mut busy = false;
        for chunk in tenants.chunks(self.slots) {
            let per_tenant = (self.slots / chunk.len()).max(1);
            let mut round = JoinSet::new();
            for &tenant in chunk {
                for _ in 0..per_tenant {
                    let this = self.clone();
                    round.spawn(async move { this.step(tenant).await });
                }
            }
            while let Some(done) = round.join_next().await {
                busy |= done.unwrap_or(false);
            }
        }
        Ok(busy)
    }

    /// Apply the next ready parked event of `tenant`; whether there was one.
    async fn step(&self, tenant: TenantId) -> bool {
        let parked = match self.processor.process_parked(tenant).await {
            Ok(Some(parked)) => parked,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "parked event left for later");
                return false;
            }
        };
        let Parked {
            seq,
            mut envelope,
            result,
        } = parked;
        let dealt_with = match result {
            Ok(_) => return true,
            Err(HandleError::Unavailable(_)) => return false,
            Err(HandleError::Transient(reason)) => {
                // Back to the queue, one attempt further, where the retry tiers take over.
                envelope.attempt = envelope.attempt.saturating_add(1);
                envelope.last_error = Some(reason);
                self.queue
                    .publish(std::slice::from_ref(&envelope))
                    .await
                    .is_ok()
            }
            Err(HandleError::Permanent(reason)) => {
                let burial = Burial {
                    attempts: envelope.attempt.saturating_add(1),
                    envelope,
                    class: ErrorClass::Permanent,
                    error: reason,
                };
                self.processor.bury(burial).await == Outcome::Ack
            }
        };
        if dealt_with && let Err(e) = self.processor.unpark(tenant, seq).await {
            // It stays parked and is tried again; dedup keeps a second run harmless.
            tracing::warn!(%tenant, error = %e, "could not unpark a failed event");
        }
        dealt_with
    }
}
