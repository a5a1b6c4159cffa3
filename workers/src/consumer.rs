//! The worker's [`EventHandler`]: one envelope, one tenant transaction, then the replies; and
//! the place dead events are kept ([`EventHandler::bury`]).

use async_trait::async_trait;
use sqlx::PgPool;
use switchyard_shared::db::dead_letters::{self, NewDeadLetter};
use switchyard_shared::db::{
    DbError, TenantTx, held_events, parked_events, processed_events, tenants,
};
use switchyard_shared::domain::Channel;
use switchyard_shared::domain::TenantId;
use switchyard_shared::domain::TenantStatus;
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue::{Burial, Delivery, EventHandler, Outcome};
use tracing::Instrument;
use uuid::Uuid;

use crate::engine::conversation::{self as engine, Batching};
use crate::fairness::FairShare;
use crate::gmail::GmailApi;
use crate::handlers::{self, Applied, HandleError};
use crate::outbox::OutboxDispatcher;

pub struct EventProcessor {
    pool: PgPool,
    outbox: OutboxDispatcher,
    /// For email: Gmail, when the platform's Google OAuth client is configured.
    gmail: Option<GmailApi>,
    batching: Batching,
    /// Each tenant's fair share of processing; `None` processes everything straight away.
    fair_share: Option<FairShare>,
}

/// What became of one envelope.
#[derive(Debug, PartialEq, Eq)]
pub enum Processed {
    Applied,
    /// The tenant is suspended: kept in `held_events` until it is reactivated.
    Held,
    /// Its dedup key was recorded before: nothing was done.
    Duplicate,
    /// Over its tenant's fair share (or behind a parked event of its conversation): kept in
    /// `parked_events` for the drain.
    Parked,
}

impl EventProcessor {
    pub fn new(
        pool: PgPool,
        outbox: OutboxDispatcher,
        gmail: Option<GmailApi>,
        batching: Batching,
        fair_share: Option<FairShare>,
    ) -> Self {
        Self {
            pool,
            outbox,
            gmail,
            batching,
            fair_share,
        }
    }

    /// Apply `envelope` once: claim its dedup key, apply it and let the conversation engine
    /// answer the messages it stored, in one tenant transaction; then dispatch the replies it
    /// queued. An event over its tenant's fair share, or behind a parked event of its
    /// conversation, is parked instead ([`crate::fairness`]).
    pub async fn process(&self, envelope: &Envelope) -> Result<Processed, HandleError> {
        let admitted = match &self.fair_share {
            Some(fair_share) => fair_share.admit(envelope.tenant_id).await?,
            None => true,
        };
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
        if self.fair_share.is_some()
            && (!admitted || parked_events::any_in(&mut tx, &envelope.conversation_key).await?)
        {
            parked_events::park(&mut tx, envelope).await?;
            tx.commit().await?;
            tracing::debug!(
                admitted,
                "over the tenant's fair share, or behind a parked event; parked"
            );
            return Ok(Processed::Parked);
        }
        let (processed, outbox) = self.apply(&mut tx, &tenant, envelope).await?;
        // A duplicate commits only its count (`processed_events::claim`).
        tx.commit().await?;
        self.dispatch(envelope, outbox).await;
        Ok(processed)
    }

    /// Apply the oldest ready parked event of `tenant` (the drain's step): in one transaction
    /// that also removes it from the parked events. `Ok(None)` when none is ready.
    pub async fn process_parked(&self, tenant: TenantId) -> Result<Option<Parked>, HandleError> {
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let Some((seq, envelope)) = parked_events::claim_next(&mut tx).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let Some(tenant_row) = tenants::get(&mut tx).await? else {
            return Ok(None);
        };
        if tenant_row.status == TenantStatus::Suspended {
            held_events::hold(&mut tx, &envelope).await?;
            parked_events::remove(&mut tx, seq).await?;
            tx.commit().await?;
            return Ok(Some(Parked {
                seq,
                envelope,
                result: Ok(Processed::Held),
            }));
        }
        match self.apply(&mut tx, &tenant_row, &envelope).await {
            Ok((processed, outbox)) => {
                parked_events::remove(&mut tx, seq).await?;
                tx.commit().await?;
                self.dispatch(&envelope, outbox).await;
                Ok(Some(Parked {
                    seq,
                    envelope,
                    result: Ok(processed),
                }))
            }
            Err(HandleError::Unavailable(reason)) => Err(HandleError::Unavailable(reason)),
            Err(e) => {
                tx.rollback().await?;
                Ok(Some(Parked {
                    seq,
                    envelope,
                    result: Err(e),
                }))
            }
        }
    }

    /// Remove a parked event the drain has dealt with otherwise (buried or sent back to the
    /// queue).
    pub async fn unpark(&self, tenant: TenantId, seq: i64) -> Result<(), DbError> {
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        parked_events::remove(&mut tx, seq).await?;
        tx.commit().await
    }

    /// The body of an event's transaction: claim the dedup key (`Duplicate` if taken, the
    /// duplicate counted), apply the event, let the engine answer.
    async fn apply(
        &self,
        tx: &mut TenantTx,
        tenant: &tenants::Tenant,
        envelope: &Envelope,
    ) -> Result<(Processed, Vec<Uuid>), HandleError> {
        if !processed_events::claim(tx, &envelope.dedup_key, envelope.id).await? {
            tracing::debug!(dedup_key = %envelope.dedup_key, "already applied; skipped");
            return Ok((Processed::Duplicate, Vec::new()));
        }
        let mut applied: Applied = match envelope.channel {
            Channel::Whatsapp => handlers::whatsapp::apply(tx, envelope).await?,
            Channel::Sms => handlers::sms::apply(tx, envelope).await?,
            Channel::Voice => handlers::voice::apply(tx, envelope).await?,
            Channel::Email => handlers::email::apply(tx, envelope, self.gmail.as_ref()).await?,
        };
        for message in &applied.answerable {
            let welcome = tenant.welcome_text.as_deref();
            let answered = engine::answer(tx, envelope, message, welcome, self.batching).await?;
            applied.outbox.extend(answered.outbox);
        }
        Ok((Processed::Applied, applied.outbox))
    }

    /// Send the replies an applied event queued (after its commit).
    async fn dispatch(&self, envelope: &Envelope, outbox: Vec<Uuid>) {
        for id in outbox {
            // A failure here leaves the row pending; the relay sends it later.
            if let Err(e) = self.outbox.dispatch(envelope.tenant_id, id).await {
                tracing::warn!(error = %e, outbox_id = %id, "dispatch deferred to the relay");
            }
        }
    }
}

/// What the drain made of one parked event.
#[derive(Debug)]
pub struct Parked {
    pub seq: i64,
    pub envelope: Envelope,
    /// Applied (or found applied, or held); or the failure, the transaction rolled back and
    /// the event still parked.
    pub result: Result<Processed, HandleError>,
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
