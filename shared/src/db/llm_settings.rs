//! `tenant_llm_settings`: how a tenant's conversations use the LLM — which model, how many
//! tokens a month, what to answer when the LLM cannot, and whether to use it at all.
//!
//! A tenant without a row has every default ([`LlmSettings::default`]); the engine reads the
//! settings with [`get`] and never needs to know whether they were ever saved.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{DbError, TenantTx};
use crate::domain::ModelName;

/// The largest monthly token budget (a trillion tokens): far above any real plan, low enough
/// that sums and differences never come near the range of `i64`.
pub const MAX_MONTHLY_TOKEN_BUDGET: i64 = 1_000_000_000_000;
/// The largest fallback text, in bytes (UTF-8).
pub const MAX_FALLBACK_BYTES: usize = 4096;

/// A tenant's LLM settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LlmSettings {
    /// The model to call; `null` means the platform's default (`GEMINI_MODEL`).
    pub model: Option<ModelName>,
    /// Tokens (the provider's totals) the tenant may use per calendar month in UTC; `null`
    /// means unlimited, `0` means no LLM calls.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub monthly_token_budget: Option<i64>,
    /// Sent instead of an LLM answer when the LLM is disabled, blocked the prompt, failed or
    /// the budget is spent; `null` means no answer is sent.
    pub fallback_text: Option<String>,
    /// `false` turns LLM replies off for the tenant (the fallback text is sent instead).
    pub llm_enabled: bool,
    /// When the settings were last saved; `null` while they are the defaults.
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            model: None,
            monthly_token_budget: None,
            fallback_text: None,
            llm_enabled: true,
            updated_at: None,
        }
    }
}

impl LlmSettings {
    /// The model to call, given the platform's default.
    pub fn model_or<'a>(&'a self, platform_default: &'a str) -> &'a str {
        self.model
            .as_ref()
            .map_or(platform_default, ModelName::as_str)
    }
}

/// New settings, every field checked. Built only by [`SettingsChange::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsChange {
    model: Option<ModelName>,
    monthly_token_budget: Option<i64>,
    fallback_text: Option<String>,
    llm_enabled: bool,
}

impl SettingsChange {
    /// Check every field; each refused one is named with its reason.
    pub fn parse(
        model: Option<&str>,
        monthly_token_budget: Option<i64>,
        fallback_text: Option<String>,
        llm_enabled: bool,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut errors = Vec::new();
        let model = match model.map(ModelName::parse).transpose() {
            Ok(model) => model,
            Err(e) => {
                errors.push(("model", e.reason));
                None
            }
        };
        if monthly_token_budget.is_some_and(|b| !(0..=MAX_MONTHLY_TOKEN_BUDGET).contains(&b)) {
            errors.push((
                "monthly_token_budget",
                format!("must be 0-{MAX_MONTHLY_TOKEN_BUDGET}, or null for no limit"),
            ));
        }
        if let Some(text) = &fallback_text
            && (text.trim().is_empty() || text.len() > MAX_FALLBACK_BYTES)
        {
            errors.push((
                "fallback_text",
                format!(
                    "must be 1-{MAX_FALLBACK_BYTES} bytes (UTF-8) and not only whitespace, \
                     or null"
                ),
            ));
        }
        if errors.is_empty() {
            Ok(Self {
                model,
                monthly_token_budget,
                fallback_text,
                llm_enabled,
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    model: Option<String>,
    monthly_token_budget: Option<i64>,
    fallback_text: Option<String>,
    llm_enabled: bool,
    updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for LlmSettings {
    type Error = DbError;

    fn try_from(r: Row) -> Result<Self, DbError> {
        Ok(Self {
            model: r
                .model
                .as_deref()
                .map(ModelName::parse)
                .transpose()
                .map_err(|e| DbError::Corrupt(e.to_string()))?,
            monthly_token_budget: r.monthly_token_budget,
            fallback_text: r.fallback_text,
            llm_enabled: r.llm_enabled,
            updated_at: Some(r.updated_at),
        })
    }
}

/// The tenant's settings, or the defaults if it never saved any.
pub async fn get(tx: &mut TenantTx) -> Result<LlmSettings, DbError> {
    let row: Option<Row> = sqlx::query_as(
        "SELECT model, monthly_token_budget, fallback_text, llm_enabled, updated_at \
         FROM tenant_llm_settings WHERE tenant_id = $1",
    )
    .bind(tx.tenant().as_uuid())
    .fetch_optional(tx.conn())
    .await?;
    row.map_or_else(|| Ok(LlmSettings::default()), LlmSettings::try_from)
}

/// Replace the tenant's settings. A tenant that does not exist is a
/// [`DbError::MissingReference`].
pub async fn put(tx: &mut TenantTx, change: &SettingsChange) -> Result<LlmSettings, DbError> {
    let row: Row = sqlx::query_as(
        "INSERT INTO tenant_llm_settings \
           (tenant_id, model, monthly_token_budget, fallback_text, llm_enabled) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (tenant_id) DO UPDATE SET \
           model = EXCLUDED.model, monthly_token_budget = EXCLUDED.monthly_token_budget, \
           fallback_text = EXCLUDED.fallback_text, llm_enabled = EXCLUDED.llm_enabled, \
           updated_at = now() \
         RETURNING model, monthly_token_budget, fallback_text, llm_enabled, updated_at",
    )
    .bind(tx.tenant().as_uuid())
    .bind(change.model.as_ref().map(ModelName::as_str))
    .bind(change.monthly_token_budget)
    .bind(&change.fallback_text)
    .bind(change.llm_enabled)
    .fetch_one(tx.conn())
    .await?;
    row.try_into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_checked_field_by_field() {
        let ok = SettingsChange::parse(
            Some("gemini-2.5-flash"),
            Some(0),
            Some("We'll get back to you.".into()),
            true,
        );
        assert!(ok.is_ok());
        assert!(SettingsChange::parse(None, None, None, false).is_ok());
        assert!(SettingsChange::parse(None, Some(MAX_MONTHLY_TOKEN_BUDGET), None, true).is_ok());

        let errors = SettingsChange::parse(
            Some("Gemini Pro"),
            Some(-1),
            Some("x".repeat(MAX_FALLBACK_BYTES + 1)),
            true,
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(fields, ["model", "monthly_token_budget", "fallback_text"]);
        for (budget, text) in [(MAX_MONTHLY_TOKEN_BUDGET + 1, "ok"), (1, " \n ")] {
            assert!(SettingsChange::parse(None, Some(budget), Some(text.into()), true).is_err());
        }
    }

    #[test]
    fn the_default_model_fills_in() {
        let defaults = LlmSettings::default();
        assert!(defaults.llm_enabled);
        assert_eq!(defaults.model_or("gemini-2.5-flash"), "gemini-2.5-flash");
        let chosen = LlmSettings {
            model: ModelName::parse("gemini-2.5-pro").ok(),
            ..defaults
        };
        assert_eq!(chosen.model_or("gemini-2.5-flash"), "gemini-2.5-pro");
    }
}
