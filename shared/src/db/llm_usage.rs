//! `llm_usage`: one row per LLM call (or refused call), for monthly budgets and usage
//! reports.
//!
//! The engine checks the budget before a call ([`budget_check`]) and records what the call
//! cost after it ([`record_usage`]), including calls that were blocked, failed or refused for
//! the budget. Months are calendar months in UTC ([`Month`]); what counts against a budget is
//! the provider's total token count of every recorded call, whatever its outcome.
//!
//! Concurrency: the check and the record are not one atomic step — holding a lock across an
//! LLM call would serialize a tenant's conversations. Two workers that check at the same time
//! may both see room and both call, so a budget can be overshot by the tokens of the calls
//! that were in flight when it ran out (at most one call per concurrent worker). Budgets are
//! a cost guard, not an exact quota; this is the accepted trade.

use serde::Serialize;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::{ModelName, Month};

/// How an LLM call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageOutcome {
    /// An answer came back.
    Ok,
    /// The provider refused the prompt or the answer (safety, …).
    Blocked,
    /// The call failed (error answer, timeout, unusable answer).
    Failed,
    /// The call was not made: the monthly budget was spent.
    OverBudget,
}

impl UsageOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Blocked => "blocked",
            Self::Failed => "failed",
            Self::OverBudget => "over_budget",
        }
    }
}

/// What one call cost. Token counts are the provider's (`usageMetadata` for Gemini); a call
/// that was never made or that failed before an answer records zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The conversation the call answered, if any; the record outlives the conversation.
    pub conversation_id: Option<Uuid>,
    pub model: ModelName,
    pub prompt_tokens: u32,
    pub output_tokens: u32,
    /// The provider's total, which may exceed prompt + output (thinking, tool-use prompts).
    pub total_tokens: u32,
    pub outcome: UsageOutcome,
}

/// Record one call for the transaction's tenant; returns the record's id.
pub async fn record_usage(tx: &mut TenantTx, usage: &Usage) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO llm_usage (id, tenant_id, conversation_id, model, prompt_tokens, \
           output_tokens, total_tokens, outcome) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(tx.tenant().as_uuid())
    .bind(usage.conversation_id)
    .bind(usage.model.as_str())
    .bind(i64::from(usage.prompt_tokens))
    .bind(i64::from(usage.output_tokens))
    .bind(i64::from(usage.total_tokens))
    .bind(usage.outcome.as_str())
    .execute(tx.conn())
    .await?;
    Ok(id)
}

/// The tenant's total tokens in `month`.
pub async fn month_total(tx: &mut TenantTx, month: Month) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(total_tokens), 0)::bigint FROM llm_usage \
         WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3",
    )
    .bind(tx.tenant().as_uuid())
    .bind(month.start())
    .bind(month.end())
    .fetch_one(tx.conn())
    .await?)
}

/// The total tokens of every call made for one conversation of the tenant.
pub async fn conversation_total(tx: &mut TenantTx, conversation: Uuid) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce(sum(total_tokens), 0)::bigint FROM llm_usage \
         WHERE tenant_id = $1 AND conversation_id = $2",
    )
    .bind(tx.tenant().as_uuid())
    .bind(conversation)
    .fetch_one(tx.conn())
    .await?)
}

/// A monthly budget against a month's use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BudgetState {
    /// Tokens allowed per month; `null` means unlimited.
    pub budget: Option<i64>,
    /// Tokens used in the month.
    pub used: i64,
    /// Tokens left (never below 0); `null` when unlimited.
    pub remaining: Option<i64>,
}

impl BudgetState {
    pub fn new(budget: Option<i64>, used: i64) -> Self {
        Self {
            budget,
            used,
            remaining: budget.map(|b| b.saturating_sub(used).max(0)),
        }
    }

    /// Whether another call may be made: no budget, or some of it left.
    pub fn allows_call(&self) -> bool {
        self.remaining.is_none_or(|left| left > 0)
    }
}

/// The tenant's budget against its use in `month` (the budget is the current setting).
pub async fn budget_state(tx: &mut TenantTx, month: Month) -> Result<BudgetState, DbError> {
    let (budget, used): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT monthly_token_budget FROM tenant_llm_settings WHERE tenant_id = $1), \
           (SELECT coalesce(sum(total_tokens), 0)::bigint FROM llm_usage \
            WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3)",
    )
    .bind(tx.tenant().as_uuid())
    .bind(month.start())
    .bind(month.end())
    .fetch_one(tx.conn())
    .await?;
    Ok(BudgetState::new(budget, used))
}

/// The tenant's budget against its use this month (UTC): what the engine asks before a call.
/// See the module documentation on concurrent checks.
pub async fn budget_check(tx: &mut TenantTx) -> Result<BudgetState, DbError> {
    budget_state(tx, Month::current()).await
}

/// Calls and tokens of one outcome (or of all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UsageTotals {
    pub calls: i64,
    pub prompt_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
}

impl UsageTotals {
    fn add(&mut self, other: &UsageTotals) {
        self.calls = self.calls.saturating_add(other.calls);
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.total_tokens = self.total_tokens.saturating_add(other.total_tokens);
    }
}

/// Calls and tokens by outcome; every outcome is present, with zeros when it did not occur.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ByOutcome {
    pub ok: UsageTotals,
    pub blocked: UsageTotals,
    pub failed: UsageTotals,
    pub over_budget: UsageTotals,
}

/// A month of the tenant's use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MonthUsage {
    /// `YYYY-MM`, UTC.
    #[schema(example = "2026-11")]
    pub month: String,
    /// Every outcome together.
    pub totals: UsageTotals,
    pub by_outcome: ByOutcome,
}

/// The tenant's calls and tokens in `month`, in total and by outcome.
pub async fn month_usage(tx: &mut TenantTx, month: Month) -> Result<MonthUsage, DbError> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT outcome, count(*), coalesce(sum(prompt_tokens), 0)::bigint, \
           coalesce(sum(output_tokens), 0)::bigint, coalesce(sum(total_tokens), 0)::bigint \
         FROM llm_usage WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3 \
         GROUP BY outcome",
    )
    .bind(tx.tenant().as_uuid())
    .bind(month.start())
    .bind(month.end())
    .fetch_all(tx.conn())
    .await?;
    let mut by_outcome = ByOutcome::default();
    let mut totals = UsageTotals::default();
    for (outcome, calls, prompt_tokens, output_tokens, total_tokens) in rows {
        let slot = match outcome.as_str() {
            "ok" => &mut by_outcome.ok,
            "blocked" => &mut by_outcome.blocked,
            "failed" => &mut by_outcome.failed,
            "over_budget" => &mut by_outcome.over_budget,
            other => return Err(DbError::Corrupt(format!("llm_usage outcome '{other}'"))),
        };
        *slot = UsageTotals {
            calls,
            prompt_tokens,
            output_tokens,
            total_tokens,
        };
        totals.add(slot);
    }
    Ok(MonthUsage {
        month: month.to_string(),
        totals,
        by_outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_states() {
        let unlimited = BudgetState::new(None, 5_000);
        assert_eq!(unlimited.remaining, None);
        assert!(unlimited.allows_call());

        let some_left = BudgetState::new(Some(1_000), 400);
        assert_eq!(some_left.remaining, Some(600));
        assert!(some_left.allows_call());

        // Overshoot by concurrent calls shows as nothing left, never as a negative.
        let overshot = BudgetState::new(Some(1_000), 1_250);
        assert_eq!(overshot.remaining, Some(0));
        assert!(!overshot.allows_call());

        assert!(!BudgetState::new(Some(0), 0).allows_call());
    }
}
