//! Answering with the LLM: the runner of due LLM turns.
//!
//! An inbound message that no flow takes schedules an LLM turn (`db::llm_turns`) rather than
//! calling Gemini inside the event's transaction; messages that follow within the batching
//! window join it. The runner claims each due turn and:
//!
//! 1. reads what the prompt needs in one tenant transaction: the tenant's LLM settings, its
//!    effective prompt sections (global bundle merged with its own), its business profile (the
//!    tenant's metadata), the conversation's recent history, and this month's token budget;
//! 2. stays silent when the conversation was handed over to a person;
//! 3. answers with the tenant's fallback text, without calling Gemini, when LLM replies are
//!    off for the tenant, no Gemini key is configured, or the month's budget is spent;
//! 4. calls Gemini with the tenant's model (or `GEMINI_MODEL`); a blocked prompt or a withheld
//!    reply is answered with the fallback text and the conversation is handed over to a person;
//!    Gemini being unavailable (after the client's own retries) or out of daily quota runs the
//!    turn again later, [`MAX_ATTEMPTS`] times at most, then falls back;
//! 5. records the call's token usage and queues the reply in the outbox — both in the
//!    transaction that closes the turn, so a turn's reply is queued once.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use switchyard_shared::db::conversation_states::{self, NewState};
use switchyard_shared::db::llm_usage::{self, Usage, UsageOutcome};
use switchyard_shared::db::outbox::{self, NewOutbound};
use switchyard_shared::db::{
    DbError, TenantTx, llm_settings, llm_turns, messages, prompts, tenants,
};
use switchyard_shared::domain::{ModelName, TenantId};
use switchyard_shared::flows::FlowStatus;
use switchyard_shared::shutdown::Shutdown;

use crate::llm::prompt::{GenerationSettings, PromptSection, Role, Turn, build_request};
use crate::llm::{GeminiClient, LlmError, TokenUsage};
use crate::outbox::OutboxDispatcher;
use crate::outbox::render::{self, Reply};

/// How long a claimed turn is the claimer's; a stopped worker's turn runs again after it.
const LEASE: Duration = Duration::from_secs(120);
/// Messages of history sent with the prompt at most (the client trims further by size).
const HISTORY: i64 = 40;
/// Runs of one turn while Gemini is unavailable, before the fallback text answers.
pub const MAX_ATTEMPTS: i32 = 3;
/// Pause before a turn runs again after Gemini was unavailable.
const RETRY_DELAY: Duration = Duration::from_secs(30);
/// Turns claimed per round.
const BATCH: i32 = 20;

#[derive(Clone)]
pub struct LlmTurnRunner {
    pool: PgPool,
    gemini: Option<Arc<GeminiClient>>,
    default_model: String,
    outbox: OutboxDispatcher,
    every: Duration,
}

/// How a turn ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnEnd {
    /// Gemini answered.
    Answered,
    /// The fallback text answered (or nothing, when the tenant has none).
    FellBack(String),
    /// The conversation is with a person: nothing was said.
    Silent,
    /// Run again later.
    Retry(String),
    /// Not due, or another worker has it.
    NotClaimed,
}

impl LlmTurnRunner {
    pub fn new(
        pool: PgPool,
        gemini: Option<Arc<GeminiClient>>,
        default_model: String,
        outbox: OutboxDispatcher,
        every: Duration,
    ) -> Self {
        Self {
            pool,
            gemini,
            default_model,
            outbox,
            every,
        }
    }

    /// Run due turns every `every`, until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tick.tick() => {}
            }
            let due = match llm_turns::due(&self.pool, BATCH).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(error = %e, "LLM turns not read");
                    continue;
                }
            };
            for (tenant, id) in due {
                if let Err(e) = self.run_turn(tenant, id).await {
                    tracing::warn!(tenant_id = %tenant, turn = %id, error = %e, "LLM turn failed; it runs again after its lease");
                }
            }
        }
    }

    /// Run one turn.
    #[tracing::instrument(name = "llm_turn", skip(self), fields(tenant_id = %tenant, turn = %id))]
    pub async fn run_turn(&self, tenant: TenantId, id: uuid::Uuid) -> Result<TurnEnd, DbError> {
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let Some(turn) = llm_turns::claim(&mut tx, id, LEASE).await? else {
            return Ok(TurnEnd::NotClaimed);
        };
        tx.commit().await?;

        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        let state = conversation_states::get(&mut tx, turn.conversation_id).await?;
        let settings = llm_settings::get(&mut tx).await?;
        let sections = prompts::effective(&mut tx).await?;
        let profile = tenants::get(&mut tx)
            .await?
            .map(|t| t.metadata)
            .unwrap_or_default();
        let history = messages::recent_history(&mut tx, turn.conversation_id, HISTORY).await?;
        let budget = llm_usage::budget_check(&mut tx).await?;
        tx.commit().await?;

        if state.is_some_and(|s| s.status == FlowStatus::HandedOver) {
            let mut tx = TenantTx::begin(&self.pool, tenant).await?;
            llm_turns::finish(&mut tx, turn.id, None).await?;
            tx.commit().await?;
            return Ok(TurnEnd::Silent);
        }
        let model = ModelName::parse(settings.model_or(&self.default_model))
            .or_else(|_| ModelName::parse("gemini-2.5-flash"))
            .map_err(|e| DbError::Corrupt(format!("model name: {e}")))?;

        let outcome = match (&self.gemini, settings.llm_enabled, budget.allows_call()) {
            (None, _, _) => Outcome::fallback("no Gemini key is configured", None),
            (_, false, _) => Outcome::fallback("LLM replies are off for the tenant", None),
            (_, _, false) => Outcome::fallback(
                "the month's token budget is spent",
                Some((UsageOutcome::OverBudget, TokenUsage::default())),
            ),
            (Some(gemini), true, true) => {
                let sections: Vec<PromptSection> = sections
                    .iter()
                    .map(|s| PromptSection {
                        key: s.key.as_str().to_owned(),
                        content: s.content.clone(),
                    })
                    .collect();
                let turns: Vec<Turn> = history
                    .iter()
                    .map(|m| Turn {
                        role: if m.direction == "inbound" {
                            Role::Customer
                        } else {
                            Role::Business
                        },
                        text: m.body.clone(),
                    })
                    .collect();
                let request =
                    build_request(&sections, &profile, &turns, &GenerationSettings::default());
                match gemini.generate(model.as_str(), &request).await {
                    Ok(generated) => Outcome {
                        reply: Some(generated.text),
                        usage: Some((UsageOutcome::Ok, generated.usage)),
                        handover: false,
                        note: None,
                    },
                    Err(e @ (LlmError::Blocked { .. } | LlmError::NoReply { .. })) => Outcome {
                        handover: true,
                        ..Outcome::fallback(
                            &e.to_string(),
                            Some((
                                UsageOutcome::Blocked,
                                e.usage().cloned().unwrap_or_default(),
                            )),
                        )
                    },
                    Err(e @ (LlmError::Unavailable { .. } | LlmError::DailyQuotaExhausted(_)))
                        if turn.attempts < MAX_ATTEMPTS =>
                    {
                        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
                        record(
                            &mut tx,
                            turn.conversation_id,
                            &model,
                            UsageOutcome::Failed,
                            &TokenUsage::default(),
                        )
                        .await?;
                        llm_turns::retry(&mut tx, turn.id, &e.to_string(), RETRY_DELAY).await?;
                        tx.commit().await?;
                        return Ok(TurnEnd::Retry(e.to_string()));
                    }
                    Err(e) => Outcome::fallback(
                        &e.to_string(),
                        Some((UsageOutcome::Failed, TokenUsage::default())),
                    ),
                }
            }
        };

        let reply = outcome
            .reply
            .clone()
            .or_else(|| settings.fallback_text.clone());
        let mut tx = TenantTx::begin(&self.pool, tenant).await?;
        if let Some((kind, usage)) = &outcome.usage {
            record(&mut tx, turn.conversation_id, &model, *kind, usage).await?;
        }
        let mut queued = None;
        if let Some(text) = reply.filter(|t| !t.trim().is_empty()) {
            match render::destination(&mut tx, turn.conversation_id).await {
                Ok((destination, contact)) => {
                    queued = outbox::enqueue(
                        &mut tx,
                        &NewOutbound {
                            channel: destination.channel(),
                            conversation_id: Some(turn.conversation_id),
                            contact_id: Some(contact),
                            idempotency_key: &format!("llm:{}", turn.id),
                            request: render::request(&destination, &Reply::text(text)),
                            source_event_id: None,
                        },
                    )
                    .await?;
                }
                Err(e) => tracing::warn!(error = %e, "LLM reply has nowhere to go"),
            }
        }
        if outcome.handover {
            conversation_states::upsert(
                &mut tx,
                turn.conversation_id,
                &NewState {
                    status: FlowStatus::HandedOver,
                    ..NewState::IDLE
                },
            )
            .await?;
        }
        llm_turns::finish(&mut tx, turn.id, outcome.note.as_deref()).await?;
        tx.commit().await?;
        if let Some(id) = queued
            && let Err(e) = self.outbox.dispatch(tenant, id).await
        {
            tracing::warn!(error = %e, outbox_id = %id, "dispatch deferred to the relay");
        }
        Ok(match outcome.note {
            None => TurnEnd::Answered,
            Some(note) => TurnEnd::FellBack(note),
        })
    }
}

/// What a turn produced before it is written.
struct Outcome {
    reply: Option<String>,
    usage: Option<(UsageOutcome, TokenUsage)>,
    handover: bool,
    /// Why the fallback answered, when it did.
    note: Option<String>,
}

impl Outcome {
    fn fallback(why: &str, usage: Option<(UsageOutcome, TokenUsage)>) -> Self {
        tracing::info!(reason = why, "answering with the fallback text");
        Self {
            reply: None,
            usage,
            handover: false,
            note: Some(why.to_owned()),
        }
    }
}

async fn record(
    tx: &mut TenantTx,
    conversation: uuid::Uuid,
    model: &ModelName,
    outcome: UsageOutcome,
    usage: &TokenUsage,
) -> Result<(), DbError> {
    llm_usage::record_usage(
        tx,
        &Usage {
            conversation_id: Some(conversation),
            model: model.clone(),
            prompt_tokens: usage.prompt_tokens,
            output_tokens: usage.candidates_tokens,
            total_tokens: usage.total_tokens,
            outcome,
        },
    )
    .await?;
    Ok(())
}
