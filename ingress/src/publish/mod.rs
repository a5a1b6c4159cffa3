//! Accepting events so that none is lost: every webhook hands its envelopes to
//! [`Publisher::publish`], which returns `Ok` only once they are safe — confirmed by the broker
//! or, when the broker is unreachable or does not confirm in time, committed to the publish
//! spool in PostgreSQL (`switchyard_shared::db::publish_spool`). The [`relay`] publishes the
//! spool once the broker is back. This is the design's first guarantee ("nothing accepted is
//! lost"), kept in this one place.
//!
//! Before touching it, know:
//!
//! - **Order.** While the spool holds events, this process spools every new publish too, even
//!   when the broker answers again: a later event of a conversation must not overtake an earlier
//!   one still waiting in the spool. Only the relay switches back to publishing directly, after
//!   it found the spool empty. Spool writers (from raising the mode to their commit) and that
//!   switch exclude each other, so nothing lands in the spool after the relay's last look. The
//!   mode starts as "spooling", so rows a previous process left behind are relayed before
//!   anything new overtakes them.
//! - **Several replicas.** The mode is per process. A replica learns that another one spooled
//!   only when its relay next looks at the table (within [`relay::IDLE_POLL`]); until then it
//!   may publish a conversation's newer event directly while an older one waits in the spool.
//!   That takes a replica that reaches the broker while another does not (a partial partition);
//!   when the broker is down for all, all spool. The relays drain the one shared spool in
//!   order, one at a time (an advisory lock).
//! - **Duplicates, never losses.** A publish whose confirm timed out may still reach the queue
//!   and is spooled as well; a relay that stops between publishing a batch and deleting it
//!   publishes the batch again. Workers claim each event's dedup key in the transaction that
//!   applies it, so a second copy changes nothing.
//! - **Both down.** If the spool cannot be written either, [`Publisher::publish`] fails and the
//!   provider gets a 503 and retries: nothing is acknowledged that is not stored somewhere
//!   durable.

pub mod relay;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::PgPool;
use switchyard_shared::db::{DbError, publish_spool};
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue::{EventQueue, QueueError};
use tokio::sync::{Notify, RwLock};

/// Where a request's envelopes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The broker confirmed every one.
    Published,
    /// They are in the publish spool; the relay publishes them later.
    Spooled,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The broker answered and refused (a nack, an unroutable message), or the envelope could
    /// not be serialised: spooling would only postpone the failure.
    #[error("the broker did not take the events: {0}")]
    Refused(QueueError),
    /// The events had to go to the spool and the spool could not store them.
    #[error("the spool cannot store the events ({spool}); they went there because {why}")]
    NotStored { why: String, spool: DbError },
}

/// Publishes or spools; cheap to clone (one per process, shared by every request and the
/// relay).
#[derive(Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
}

/// What the request path and the relay share.
struct Shared {
    queue: Arc<dyn EventQueue>,
    pool: PgPool,
    /// New publishes go to the spool.
    spooling: AtomicBool,
    /// Held shared by a spool writer from raising `spooling` until its commit, exclusively by
    /// the relay while it confirms the spool is empty and lowers `spooling`.
    gate: RwLock<()>,
    /// Wakes the relay when this process spooled.
    spooled: Notify,
}

impl Publisher {
    pub fn new(queue: Arc<dyn EventQueue>, pool: PgPool) -> Self {
        Self {
            shared: Arc::new(Shared {
                queue,
                pool,
                spooling: AtomicBool::new(true),
                gate: RwLock::new(()),
                spooled: Notify::new(),
            }),
        }
    }

    /// Publish a request's envelopes and wait for the broker's confirms or, when the broker is
    /// unavailable or the spool is not empty, store them in the spool. `Ok` means the events
    /// are durable and the provider may be told so.
    pub async fn publish(&self, envelopes: &[Envelope]) -> Result<Accepted, PublishError> {
        if envelopes.is_empty() {
            return Ok(Accepted::Published);
        }
        if self.spooling() {
            return self
                .spool(envelopes, "earlier events wait in the spool")
                .await;
        }
        match self.shared.queue.publish(envelopes).await {
            Ok(()) => Ok(Accepted::Published),
            Err(e @ (QueueError::Unavailable(_) | QueueError::ConfirmTimeout)) => {
                self.spool(envelopes, &e.to_string()).await
            }
            Err(e) => Err(PublishError::Refused(e)),
        }
    }

    /// Whether new publishes go to the spool now.
    pub fn spooling(&self) -> bool {
        self.shared.spooling.load(Ordering::Acquire)
    }

    /// How many events wait in the spool (across every replica).
    pub async fn spooled(&self) -> Result<i64, DbError> {
        publish_spool::count(&self.shared.pool).await
    }

    async fn spool(&self, envelopes: &[Envelope], why: &str) -> Result<Accepted, PublishError> {
        let writing = self.shared.gate.read().await;
        if !self.shared.spooling.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                reason = why,
                "accepting events into the publish spool until the relay has published them"
            );
        }
        publish_spool::insert(&self.shared.pool, envelopes)
            .await
            .map_err(|spool| PublishError::NotStored {
                why: why.to_owned(),
                spool,
            })?;
        drop(writing);
        self.shared.spooled.notify_one();
        Ok(Accepted::Spooled)
    }
}
