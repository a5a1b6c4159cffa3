//! `/api/v1/llm/…`: a tenant's LLM settings (model, monthly token budget, fallback text, on
//! or off) and its token use.
//!
//! The settings are read by the conversation engine before every LLM call; a tenant that never
//! saved any has the defaults. Usage is recorded by the engine, one row per call; this API only
//! reads it.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::llm_settings::{self, LlmSettings, SettingsChange};
use switchyard_shared::db::llm_usage::{self, BudgetState, MonthUsage};
use switchyard_shared::domain::Month;
use utoipa::{IntoParams, ToSchema};

use super::validate::Fields;
use super::{JsonBody, QueryParams, audit};
use crate::auth::{Principal, Role, TenantAdmin};
use crate::error::ApiError;
use crate::startup::IngressState;

/// The tenant's LLM settings, replaced as a whole: an absent field takes its default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutSettings {
    /// The model to call; absent or `null` for the platform's default.
    #[schema(pattern = r"^[a-z0-9][a-z0-9.-]{0,63}$", example = "gemini-2.5-flash")]
    pub model: Option<String>,
    /// Tokens per calendar month (UTC); absent or `null` for no limit, `0` for no calls.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub monthly_token_budget: Option<i64>,
    /// Sent when the LLM is off, blocked, failing or over budget; absent or `null` for no
    /// answer. At most 4 KiB (UTF-8).
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub fallback_text: Option<String>,
    /// Default `true`.
    pub llm_enabled: Option<bool>,
}

impl PutSettings {
    fn parse(self) -> Result<SettingsChange, ApiError> {
        SettingsChange::parse(
            self.model.as_deref(),
            self.monthly_token_budget,
            self.fallback_text,
            self.llm_enabled.unwrap_or(true),
        )
        .map_err(|errors| {
            let mut fields = Fields::default();
            for (field, reason) in errors {
                fields.check::<(), _>(field, Err(reason));
            }
            fields
                .finish()
                .err()
                .unwrap_or_else(|| ApiError::Internal("refused settings had no reason".into()))
        })
    }
}

/// The tenant's LLM settings (the defaults if it never saved any).
#[utoipa::path(
    get, path = "/llm/settings", tag = "llm",
    responses((status = 200, description = "The settings", body = LlmSettings)),
)]
pub async fn read_settings(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<LlmSettings>, ApiError> {
    who.require(Role::Agent)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let settings = llm_settings::get(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(settings))
}

/// Replace the tenant's LLM settings. Tenant admins.
#[utoipa::path(
    put, path = "/llm/settings", tag = "llm", request_body = PutSettings,
    responses((status = 200, description = "The settings as stored", body = LlmSettings)),
)]
pub async fn put_settings(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<PutSettings>,
) -> Result<Json<LlmSettings>, ApiError> {
    let change = body.parse()?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let settings = llm_settings::put(&mut tx, &change).await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "llm.settings.replace",
        Some("llm:settings".into()),
        serde_json::json!({
            "model": settings.model,
            "monthly_token_budget": settings.monthly_token_budget,
            "has_fallback_text": settings.fallback_text.is_some(),
            "llm_enabled": settings.llm_enabled,
        }),
    )
    .await;
    Ok(Json(settings))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// The month, `YYYY-MM` in UTC (default: the current month).
    #[param(pattern = r"^[2-9][0-9]{3}-(0[1-9]|1[0-2])$", example = "2026-11")]
    pub month: Option<String>,
}

/// A month of LLM use, and the monthly budget against it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageReport {
    #[serde(flatten)]
    pub usage: MonthUsage,
    /// The current monthly budget against this month's use.
    pub budget: BudgetState,
}

/// The tenant's LLM calls and tokens in a month, in total and by outcome, with its budget.
#[utoipa::path(
    get, path = "/llm/usage", tag = "llm", params(UsageQuery),
    responses((status = 200, description = "The month's use", body = UsageReport)),
)]
pub async fn usage(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(query): QueryParams<UsageQuery>,
) -> Result<Json<UsageReport>, ApiError> {
    who.require(Role::Agent)?;
    let month = match query.month.as_deref() {
        Some(raw) => Month::parse(raw).map_err(|e| ApiError::field("month", e.reason))?,
        None => Month::current(),
    };
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let usage = llm_usage::month_usage(&mut tx, month).await?;
    let budget = llm_usage::budget_state(&mut tx, month).await?;
    tx.commit().await?;
    Ok(Json(UsageReport { usage, budget }))
}
