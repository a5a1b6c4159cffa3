//! The worker's [`EventHandler`]: one envelope, one tenant transaction, then the replies; and
//! the place dead events are kept ([`EventHandler::bury`]).

use async_trait::async_trait;
use sqlx::PgPool;
use switchyard_shared::db::dead_letters::{self, NewDeadLetter};
use switchyard_shared::db::{DbError, TenantTx, held_events, processed_events, tenants};
use switchyard_shared::domain::Channel;
use switchyard_shared::domain::TenantStatus;
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue::{Burial, Delivery, EventHandler, Outcome};
use tracing::Instrument;

use crate::engine::conversation::{self as engine, Batching};
use crate::gmail::GmailApi;
use crate::handlers::{self, Applied, HandleError};
use crate::outbox::OutboxDispatcher;

pub struct EventProcessor {
    pool: PgPool,
    outbox: OutboxDispatcher,
    /// For email: Gmail, when the platform's Google OAuth client is configured.
    gmail: Option<GmailApi>,
    batching: Batching,
}

/// What became of one envelope.
#[derive(Debug, PartialEq, Eq)]
pub enum Processed {
    Applied,
    /// The tenant is suspended: kept in `held_events` until it is reactivated.
    Held,
    /// Its dedup key was recorded before: nothing was done.
    Duplicate,
}

impl EventProcessor {
    pub fn new(
        pool: PgPool,
        outbox: OutboxDispatcher,
        gmail: Option<GmailApi>,
        batching: Batching,
    ) -> Self {
        Self {
            pool,
            outbox,
            gmail,
            batching,
        }
    }

    /// Apply `envelope` once: claim its dedup key, apply it and let the conversation engine
    /// answer the messages it stored, in one tenant transaction; then dispatch the replies it
    /// queued.
    pub async fn process(&self, envelope: &Envelope) -> Result<Processed, HandleError> {
        let mut tx = TenantTx::begin(&self.pool, envelope.tenant_id).await?;
        let Some(tenant) = tenants::get(&mut tx).await? else {
            return Err(HandleError::Permanent("the tenant no longer exists".into()));
        };
        if tenant.status == TenantStatus::Suspended {
            held_events::hold(&mut tx, envelope).await?;
            tx.commit().await?;
            tracing::info!("tenant suspended; event held");
            return Ok(Processed::Held);
        }
        if !processed_events::claim(&mut tx, &envelope.dedup_key, envelope.id).await? {
            tx.rollback().await?;
            tracing::debug!(dedup_key = %envelope.dedup_key, "already applied; skipped");
            return Ok(Processed::Duplicate);
        }
        let mut applied: Applied = match envelope.channel {
            Channel::Whatsapp => handlers::whatsapp::apply(&mut tx, envelope).await?,
            Channel::Sms => handlers::sms::apply(&mut tx, envelope).await?,
            Channel::Voice => handlers::voice::apply(&mut tx, envelope).await?,
            Channel::Email => {
                handlers::email::apply(&mut tx, envelope, self.gmail.as_ref()).await?
            }
        };
        for message in &applied.answerable {
            let welcome = tenant.welcome_text.as_deref();
            let answered =
                engine::answer(&mut tx, envelope, message, welcome, self.batching).await?;
            applied.outbox.extend(answered.outbox);
        }
        tx.commit().await?;
        for id in applied.outbox {
            // A failure here leaves the row pending; the relay sends it later.
            if let Err(e) = self.outbox.dispatch(envelope.tenant_id, id).await {
                tracing::warn!(error = %e, outbox_id = %id, "dispatch deferred to the relay");
            }
        }
        Ok(Processed::Applied)
    }
}

#[async_trait]
impl EventHandler for EventProcessor {
    async fn handle(&self, delivery: Delivery) -> Outcome {
        let envelope = &delivery.envelope;
        let span = tracing::info_span!("event",
            tenant_id = %envelope.tenant_id,
            event_id = %envelope.id,
            channel = %envelope.channel,
            kind = envelope.kind.as_str(),
            redelivered = delivery.redelivered,
            traceparent = %envelope.traceparent,
        );
        async {
            match self.process(envelope).await {
                Ok(_) => Outcome::Ack,
                Err(HandleError::Unavailable(reason)) => Outcome::Hold(reason),
                Err(HandleError::Transient(reason)) => Outcome::Retry(reason),
                Err(HandleError::Permanent(reason)) => Outcome::Dead(reason),
            }
        }
        .instrument(span)
        .await
    }

    async fn bury(&self, burial: Burial) -> Outcome {
        let envelope = &burial.envelope;
        let span = tracing::info_span!("dead_letter",
            tenant_id = %envelope.tenant_id,
            event_id = %envelope.id,
            channel = %envelope.channel,
            kind = envelope.kind.as_str(),
        );
        let stored = async {
            let mut tx = TenantTx::begin(&self.pool, envelope.tenant_id).await?;
            dead_letters::record(
                &mut tx,
                &NewDeadLetter {
                    envelope,
                    class: burial.class,
                    error: &burial.error,
                    attempts: burial.attempts,
                },
            )
            .await?;
            tx.commit().await
        }
        .instrument(span)
        .await;
        match stored {
            Ok(()) => Outcome::Ack,
            // The tenant was deleted with everything it owned: nothing is left to keep.
            Err(DbError::MissingReference { .. }) => {
                tracing::warn!(tenant_id = %envelope.tenant_id, event_id = %envelope.id,
                    "dead event of a deleted tenant dropped");
                Outcome::Ack
            }
            Err(e) => Outcome::Hold(e.to_string()),
        }
    }
}
