//! `flows`: a tenant's message flows, each owned by one of its modules, read and written with
//! their steps. The step list is replaced as a whole ([`replace_steps`]) because a flow is
//! only valid as a whole.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{DbError, TenantTx, flow_steps};
use crate::flows::{Flow, StepDefinition, Trigger, TriggerDefinition};

/// A flow with its steps in order, as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FlowRecord {
    pub id: Uuid,
    /// The tenant module that owns the flow.
    pub tenant_module_id: Uuid,
    pub name: String,
    pub trigger: TriggerDefinition,
    pub is_active: bool,
    /// The first step is where the flow starts.
    pub steps: Vec<StepDefinition>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A flow's settings: what it is called, when it starts, whether it runs.
#[derive(Debug, Clone)]
pub struct FlowSettings {
    pub name: String,
    pub trigger: Trigger,
    pub is_active: bool,
}

#[derive(sqlx::FromRow)]
struct FlowRow {
    id: Uuid,
    tenant_module_id: Uuid,
    name: String,
    trigger_kind: String,
    keywords: Vec<String>,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

macro_rules! flow_columns {
    () => {
        "f.id, f.tenant_module_id, f.name, f.trigger_kind, f.keywords, f.is_active, \
         f.created_at, f.updated_at"
    };
}

macro_rules! select_flows {
    ($rest:literal) => {
        concat!("SELECT ", flow_columns!(), " FROM flows f ", $rest)
    };
}

/// Attach the steps to flow rows, keeping the rows' order.
async fn with_steps(tx: &mut TenantTx, rows: Vec<FlowRow>) -> Result<Vec<FlowRecord>, DbError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut steps = flow_steps::of_flows(tx, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| FlowRecord {
            steps: steps.remove(&row.id).unwrap_or_default(),
            id: row.id,
            tenant_module_id: row.tenant_module_id,
            name: row.name,
            trigger: TriggerDefinition {
                keywords: (row.trigger_kind == "keywords").then_some(row.keywords),
                kind: row.trigger_kind,
            },
            is_active: row.is_active,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
        .collect())
}

async fn one(tx: &mut TenantTx, row: Option<FlowRow>) -> Result<Option<FlowRecord>, DbError> {
    match row {
        None => Ok(None),
        Some(row) => Ok(with_steps(tx, vec![row]).await?.pop()),
    }
}

fn keywords(trigger: &Trigger) -> Vec<String> {
    trigger
        .keywords()
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect()
}

/// Create a flow of tenant module `tenant_module_id` with its steps. A module that is not the
/// tenant's is a [`DbError::MissingReference`].
pub async fn create(
    tx: &mut TenantTx,
    tenant_module_id: Uuid,
    settings: &FlowSettings,
    flow: &Flow,
) -> Result<FlowRecord, DbError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO flows (id, tenant_id, tenant_module_id, name, trigger_kind, keywords, \
           is_active) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(tx.tenant().as_uuid())
    .bind(tenant_module_id)
    .bind(&settings.name)
    .bind(settings.trigger.kind_str())
    .bind(keywords(&settings.trigger))
    .bind(settings.is_active)
    .execute(tx.conn())
    .await?;
    flow_steps::replace(tx, id, flow).await?;
    get(tx, id)
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("flow {id} vanished after insert")))
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<FlowRecord>, DbError> {
    let row = sqlx::query_as(select_flows!("WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    one(tx, row).await
}

/// The flows of one tenant module, oldest first; only the active ones unless
/// `include_inactive`.
pub async fn of_module(
    tx: &mut TenantTx,
    tenant_module_id: Uuid,
    include_inactive: bool,
) -> Result<Vec<FlowRecord>, DbError> {
    let rows = sqlx::query_as(select_flows!(
        "WHERE f.tenant_module_id = $1 AND (f.is_active OR $2) ORDER BY f.created_at, f.id"
    ))
    .bind(tenant_module_id)
    .bind(include_inactive)
    .fetch_all(tx.conn())
    .await?;
    with_steps(tx, rows).await
}

/// The flows that may run: active flows of active modules, in the tenant's module order (then
/// oldest first). The engine tries their triggers in this order.
pub async fn runnable(tx: &mut TenantTx) -> Result<Vec<FlowRecord>, DbError> {
    let rows = sqlx::query_as(select_flows!(
        "JOIN tenant_modules t ON t.id = f.tenant_module_id \
         WHERE f.is_active AND t.is_active ORDER BY t.position, f.created_at, f.id"
    ))
    .fetch_all(tx.conn())
    .await?;
    with_steps(tx, rows).await
}

/// Change a flow's settings; `None` if the tenant has no such flow.
pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    settings: &FlowSettings,
) -> Result<Option<FlowRecord>, DbError> {
    let row = sqlx::query_as(concat!(
        "UPDATE flows f SET name = $2, trigger_kind = $3, keywords = $4, is_active = $5, \
           updated_at = now() WHERE f.id = $1 RETURNING ",
        flow_columns!()
    ))
    .bind(id)
    .bind(&settings.name)
    .bind(settings.trigger.kind_str())
    .bind(keywords(&settings.trigger))
    .bind(settings.is_active)
    .fetch_optional(tx.conn())
    .await?;
    one(tx, row).await
}

/// Replace all of a flow's steps; `None` if the tenant has no such flow. Conversations
/// waiting at a step that no longer exists start the flow over on their next message.
pub async fn replace_steps(
    tx: &mut TenantTx,
    id: Uuid,
    flow: &Flow,
) -> Result<Option<FlowRecord>, DbError> {
    let found: Option<Uuid> =
        sqlx::query_scalar("UPDATE flows SET updated_at = now() WHERE id = $1 RETURNING id")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?;
    if found.is_none() {
        return Ok(None);
    }
    flow_steps::replace(tx, id, flow).await?;
    get(tx, id).await
}

/// Delete a flow and its steps. Conversations in it become idle.
pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    sqlx::query(
        "UPDATE conversation_states SET status = 'idle', flow_id = NULL, step_key = NULL, \
           updated_at = now() \
         WHERE flow_id = $1 AND status IN ('in_flow', 'waiting_reply')",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    let done = sqlx::query("DELETE FROM flows WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}
