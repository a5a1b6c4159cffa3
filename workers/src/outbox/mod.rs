//! The outbox dispatcher: sends what the handlers queued, after their transaction committed.
//!
//! [`OutboxDispatcher::dispatch`] claims a row (a short transaction of its own), calls the
//! channel sender, and records the outcome with the sent message. Events dispatch their own
//! rows right after commit; the [relay](OutboxDispatcher::run_relay) picks up whatever is due
//! later — retries, and rows of a worker that stopped between commit and dispatch.
//!
//! Never twice: a row is sent only while it is `pending`; a sender error that leaves the outcome
//! unknown marks it `unknown`, and so does a claim that expired mid-call (see
//! `db::outbox`) — except for SMS: Telnyx sends carry the row id as `Idempotency-Key`, so
//! Telnyx answers a repeated request with the message it already accepted, and an
//! interrupted SMS send is simply sent again.
//!
//! Rows are dispatched by channel: `whatsapp` through the WhatsApp Cloud API with the tenant's
//! access token, `sms` through Telnyx with the credentials [`sms::credentials`] picks, `email`
//! through Gmail from the tenant's connected mailbox ([`email`]). Before a WhatsApp or SMS
//! request leaves, [`throttle`] takes a slot of its sender's throughput (deferring the row when
//! the sender is busy) and checks WhatsApp's 24-hour window. The relay takes due rows
//! round-robin across tenants, so one tenant's backlog does not hold up another's sends. A
//! provider's `Retry-After` sets the time of the next attempt; otherwise the delay doubles
//! from `OUTBOX_RETRY_BASE_MS`.

pub mod email;
pub mod render;
pub mod sms;
pub mod throttle;

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use sqlx::PgPool;
use switchyard_shared::config::WorkerConfig;
use switchyard_shared::db::messages::{self, OutboundMessage};
use switchyard_shared::db::outbox::{self, OutboxItem};
use switchyard_shared::db::{DbError, TenantTx, conversations, whatsapp_channels};
use switchyard_shared::domain::{Channel, TenantId};
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;
use switchyard_shared::tenancy::{TenancyError, open_channel_config, whatsapp_token_context};
use uuid::Uuid;

use crate::gmail::GmailApi;
use crate::senders::SendError;
use crate::senders::telnyx::{SmsSender, TelnyxSendError, TelnyxSender};
use crate::senders::whatsapp::{TextMessage, WhatsAppSender};
use sms::{SmsRequest, TelnyxCredentials};

/// How long a claim lasts; a provider call is bounded well below it by the HTTP timeout.
const CLAIM_LEASE: Duration = Duration::from_secs(120);
/// How long the outcome of a send is kept for writing while the database is unreachable:
/// well inside [`CLAIM_LEASE`], so the row is never taken for abandoned meanwhile.
const OUTCOME_RETRY_BOUND: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct OutboxDispatcher {
    pool: PgPool,
    secrets: Arc<SecretBox>,
    whatsapp: WhatsAppSender,
    telnyx: TelnyxSender,
    gmail: Option<GmailApi>,
    config: Arc<WorkerConfig>,
}

impl OutboxDispatcher {
    pub fn new(
        pool: PgPool,
        secrets: Arc<SecretBox>,
        config: Arc<WorkerConfig>,
        gmail: Option<GmailApi>,
    ) -> Result<Self, reqwest::Error> {
        let timeout = config.provider_timeout();
        let whatsapp = WhatsAppSender::new(&config.whatsapp_api_base, timeout)?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .build()?;
        let telnyx = TelnyxSender::new(http, &config.telnyx_api_base);
        Ok(Self {
            pool,
            secrets,
            whatsapp,
            telnyx,
            gmail,
            config,
        })
    }

    /// Send one row if it is still pending and due; record the outcome.
    #[tracing::instrument(name = "outbox_dispatch", skip(self), fields(tenant_id = %tenant, outbox_id = %id))]
    pub async fn dispatch(&self, tenant: TenantId, id: Uuid) -> Result<(), DbError> {
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let claimed = outbox::claim(&mut tx, id, CLAIM_LEASE).await?;
        tx.commit().await?;
        let Some(item) = claimed else {
            return Ok(());
        };

        let result = self.send(tenant, &item).await;
        // The request is settled: losing its outcome now would leave the row `sending`, later
        // `unknown`, though we know what happened. While the database is out of reach (a
        // restart, a failover) keep trying, within the claim's lease.
        let record = || self.record_outcome(tenant, &item, &result);
        record
            .retry(
                ExponentialBuilder::default()
                    .with_min_delay(Duration::from_millis(200))
                    .with_max_delay(Duration::from_secs(5))
                    .with_total_delay(Some(OUTCOME_RETRY_BOUND))
                    .without_max_times(),
            )
            .when(DbError::is_unavailable)
            .notify(|e, wait| {
                tracing::warn!(error = %e, ?wait, "database unavailable; outcome of the send kept to record again");
            })
            .await
    }

    /// Write what became of `item`'s send.
    async fn record_outcome(
        &self,
        tenant: TenantId,
        item: &OutboxItem,
        result: &Result<Sent, TelnyxSendError>,
    ) -> Result<(), DbError> {
        let id = item.id;
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        match result {
            Ok(sent) => {
                outbox::mark_sent(&mut tx, id, &sent.provider_message_id).await?;
                messages::record_outbound(
                    &mut tx,
                    &OutboundMessage {
                        conversation_id: item.conversation_id,
                        contact_id: item.contact_id,
                        channel: sent.channel,
                        provider_message_id: &sent.provider_message_id,
                        message_type: sent.message_type,
                        body: sent.text.as_deref(),
                        reply_to_provider_id: sent.reply_to.as_deref(),
                        sent_at: Utc::now(),
                    },
                )
                .await?;
                tracing::info!(provider_message_id = %sent.provider_message_id, "sent");
            }
            Err(TelnyxSendError {
                error: SendError::Retryable(reason),
                retry_after,
            }) if item.attempts < self.config.outbox_max_attempts => {
                let delay = retry_after.unwrap_or_else(|| self.retry_delay(item.attempts));
                tracing::warn!(%reason, attempt = item.attempts, ?delay, "send refused for now; will retry");
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                outbox::mark_retry(&mut tx, id, reason, next).await?;
            }
            Err(TelnyxSendError {
                error: SendError::Deferred { reason, wait },
                ..
            }) => {
                tracing::debug!(%reason, ?wait, "send held back by its sender's rate");
                let until = Utc::now() + chrono::Duration::from_std(*wait).unwrap_or_default();
                outbox::defer(&mut tx, id, reason, until).await?;
            }
            Err(TelnyxSendError {
                error: SendError::Ambiguous(reason),
                ..
            }) => {
                tracing::error!(%reason, "send outcome unknown; not retried to never send twice");
                outbox::mark_unknown(&mut tx, id, reason).await?;
            }
            Err(TelnyxSendError { error, .. }) => {
                tracing::error!(%error, attempt = item.attempts, "send failed");
                outbox::mark_failed(&mut tx, id, &error.to_string()).await?;
            }
        }
        tx.commit().await
    }

    fn retry_delay(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        Duration::from_millis(
            self.config
                .outbox_retry_base_ms
                .saturating_mul(1 << exponent),
        )
    }

    /// Send with the channel's sender. The error carries the provider's `Retry-After` when it
    /// gave one (only Telnyx does, hence the type).
    async fn send(&self, tenant: TenantId, item: &OutboxItem) -> Result<Sent, TelnyxSendError> {
        match Channel::parse(&item.channel) {
            Ok(Channel::Whatsapp) => self.send_whatsapp(tenant, item).await,
            Ok(Channel::Sms) => self.send_sms(tenant, item).await,
            Ok(Channel::Email) => {
                Ok(email::send(&self.pool, self.gmail.as_ref(), tenant, item).await?)
            }
            _ => {
                Err(SendError::Permanent(format!("no sender for channel {}", item.channel)).into())
            }
        }
    }

    async fn send_whatsapp(
        &self,
        tenant: TenantId,
        item: &OutboxItem,
    ) -> Result<Sent, TelnyxSendError> {
        let message: TextMessage = request_of(item)?;
        let number = self.whatsapp_number(tenant, item.conversation_id).await?;
        throttle::check_whatsapp_window(number.last_received_at, Utc::now())?;
        let rate = number
            .messages_per_second
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(self.config.whatsapp_messages_per_second);
        throttle::take_slot(
            &self.pool,
            &format!("whatsapp:{}", number.phone_number_id),
            rate,
        )
        .await?;
        let provider_message_id = match self.whatsapp.send_text(&number.token, &message).await {
            Ok(id) => id,
            // Too many messages to this customer: give it a pause that grows.
            Err(SendError::Retryable(reason)) if reason.contains("131056") => {
                return Err(TelnyxSendError {
                    error: SendError::Retryable(reason),
                    retry_after: Some(throttle::pair_rate_pause(item.attempts)),
                });
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Sent {
            channel: Channel::Whatsapp,
            message_type: message.message_type(),
            provider_message_id,
            text: Some(message.text),
            reply_to: message.reply_to,
        })
    }

    /// Send through Telnyx with the row id as `Idempotency-Key`.
    async fn send_sms(&self, tenant: TenantId, item: &OutboxItem) -> Result<Sent, TelnyxSendError> {
        let request: SmsRequest = request_of(item)?;
        let TelnyxCredentials { api_key, sender } = self.telnyx_credentials(tenant).await?;
        let bucket = match &sender {
            SmsSender::Number { from } => format!("sms:{from}"),
            SmsSender::Profile {
                messaging_profile_id,
            } => format!("sms:{messaging_profile_id}"),
        };
        throttle::take_slot(&self.pool, &bucket, self.config.sms_messages_per_second).await?;
        let provider_message_id = self
            .telnyx
            .send(&api_key, item.id, &request.outbound(sender))
            .await?;
        Ok(Sent {
            channel: Channel::Sms,
            message_type: request.message_type(),
            provider_message_id,
            text: request.text,
            reply_to: None,
        })
    }

    async fn telnyx_credentials(&self, tenant: TenantId) -> Result<TelnyxCredentials, SendError> {
        let load = async {
            let mut tx = TenantTx::begin(&self.pool, tenant).await?;
            let config = open_channel_config(&mut tx, &self.secrets, Channel::Sms).await?;
            tx.commit().await?;
            Ok::<_, TenancyError>(config)
        };
        let config = load.await.map_err(|e| match e {
            // The request has not left yet, so a database hiccup here is safe to retry.
            TenancyError::Db(e) => SendError::Retryable(format!("loading credentials: {e}")),
            other => SendError::Permanent(format!("SMS channel secrets: {other}")),
        })?;
        sms::credentials(config.as_ref(), &self.config)
    }

    /// The tenant's WhatsApp number, opened, with the time the last message of the customer of
    /// `conversation` arrived.
    async fn whatsapp_number(
        &self,
        tenant: TenantId,
        conversation: Option<Uuid>,
    ) -> Result<WhatsAppNumber, SendError> {
        let load = async {
            let mut tx = TenantTx::begin(&self.pool, tenant).await?;
            let row = whatsapp_channels::get(&mut tx).await?;
            let last_received_at = match conversation {
                Some(id) => conversations::last_received_at(&mut tx, id).await?,
                None => None,
            };
            tx.commit().await?;
            Ok::<_, DbError>((row, last_received_at))
        };
        // The request has not left yet, so a database hiccup here is safe to retry.
        let (row, last_received_at) = load
            .await
            .map_err(|e| SendError::Retryable(format!("loading credentials: {e}")))?;
        let row =
            row.ok_or_else(|| SendError::Permanent("no WhatsApp channel configured".into()))?;
        if !row.is_active {
            return Err(SendError::Permanent("WhatsApp channel is inactive".into()));
        }
        let token = self
            .secrets
            .open(&row.access_token_enc, &whatsapp_token_context(tenant))
            .map_err(|e| SendError::Permanent(format!("access token: {e}")))?;
        Ok(WhatsAppNumber {
            token,
            phone_number_id: row.phone_number_id,
            messages_per_second: row.messages_per_second,
            last_received_at,
        })
    }

    /// Every `OUTBOX_POLL_MS`: mark abandoned claims, then dispatch what is due.
    pub async fn run_relay(&self, shutdown: Shutdown) {
        let mut tick = tokio::time::interval(Duration::from_millis(self.config.outbox_poll_ms));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.relay_once().await {
                tracing::warn!(error = %e, "outbox relay pass failed");
            }
        }
    }

    async fn relay_once(&self) -> Result<(), DbError> {
        let abandoned = outbox::mark_abandoned(&self.pool).await?;
        if abandoned > 0 {
            tracing::error!(abandoned, "sends interrupted mid-call marked unknown");
        }
        for (tenant, id) in outbox::due(&self.pool, 100).await? {
            self.dispatch(tenant, id).await?;
        }
        Ok(())
    }
}

/// The outbox request of `item`, as the type its channel stores.
fn request_of<T: serde::de::DeserializeOwned>(item: &OutboxItem) -> Result<T, SendError> {
    serde_json::from_value(item.request.clone())
        .map_err(|e| SendError::Permanent(format!("outbox request: {e}")))
}

/// A tenant's WhatsApp number as a send needs it.
struct WhatsAppNumber {
    token: switchyard_shared::secrets::SecretString,
    phone_number_id: String,
    messages_per_second: Option<i32>,
    /// When the customer's last message arrived.
    last_received_at: Option<chrono::DateTime<Utc>>,
}

struct Sent {
    channel: Channel,
    message_type: &'static str,
    provider_message_id: String,
    text: Option<String>,
    reply_to: Option<String>,
}
