//! `flow_steps`: the steps of flows, replaced as a whole and read back in order. Only
//! [`super::flows`] calls these; a step list is written only after
//! [`FlowDefinition::parse`](crate::flows::FlowDefinition::parse) accepted it.

use std::collections::HashMap;

use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::flows::{Flow, StepDefinition};

/// Replace every step of flow `flow_id` with `flow`'s, in one go.
pub(super) async fn replace(tx: &mut TenantTx, flow_id: Uuid, flow: &Flow) -> Result<(), DbError> {
    sqlx::query("DELETE FROM flow_steps WHERE flow_id = $1")
        .bind(flow_id)
        .execute(tx.conn())
        .await?;
    let steps = flow.definition().steps;
    let mut keys = Vec::with_capacity(steps.len());
    let mut positions = Vec::with_capacity(steps.len());
    let mut kinds = Vec::with_capacity(steps.len());
    let mut configs = Vec::with_capacity(steps.len());
    let mut nexts = Vec::with_capacity(steps.len());
    for (position, step) in steps.iter().enumerate() {
        keys.push(step.id.clone());
        positions.push(i32::try_from(position).map_err(|e| DbError::Corrupt(e.to_string()))?);
        kinds.push(step.kind.clone());
        configs.push(step.config().to_string());
        nexts.push(step.next.clone());
    }
    sqlx::query(
        "INSERT INTO flow_steps (flow_id, tenant_id, step_key, position, kind, config, next_step) \
         SELECT $1, $2, s.key, s.position, s.kind, s.config::jsonb, s.next \
         FROM unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::text[]) \
           AS s (key, position, kind, config, next)",
    )
    .bind(flow_id)
    .bind(tx.tenant().as_uuid())
    .bind(&keys)
    .bind(&positions)
    .bind(&kinds)
    .bind(&configs)
    .bind(&nexts)
    .execute(tx.conn())
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct StepRow {
    flow_id: Uuid,
    step_key: String,
    kind: String,
    config: serde_json::Value,
    next_step: Option<String>,
}

/// The steps of each of `flow_ids`, in order.
pub(super) async fn of_flows(
    tx: &mut TenantTx,
    flow_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<StepDefinition>>, DbError> {
    let rows: Vec<StepRow> = sqlx::query_as(
        "SELECT flow_id, step_key, kind, config, next_step FROM flow_steps \
         WHERE flow_id = ANY($1) ORDER BY flow_id, position",
    )
    .bind(flow_ids)
    .fetch_all(tx.conn())
    .await?;
    let mut steps: HashMap<Uuid, Vec<StepDefinition>> = HashMap::new();
    for row in rows {
        let step = StepDefinition::from_stored(row.step_key, row.kind, row.config, row.next_step)
            .map_err(|e| DbError::Corrupt(format!("a step of flow {}: {e}", row.flow_id)))?;
        steps.entry(row.flow_id).or_default().push(step);
    }
    Ok(steps)
}
