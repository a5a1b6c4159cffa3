//! `/api/v1/vault`: credentials a tenant keeps for other systems it connects.
//!
//! Entries are typed by `kind`: `genesys_cloud` needs `fields.region` (a Genesys Cloud region
//! domain) and `fields.client_id`, and `secrets.client_secret`; `custom` takes any string
//! fields and secrets (at most 20 each). Secrets are sealed one by one and read back masked;
//! `POST /vault/{id}/reveal` shows them, for tenant admins, and is audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_shared::db::vault::{self, VaultRow};
use switchyard_shared::db::{DbError, TenantTx};
use switchyard_shared::domain::TenantId;
use switchyard_shared::secrets::SecretString;
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::parse_id;
use super::schema::VaultKind;
use super::validate::Fields;
use super::{JsonBody, audit};
use crate::auth::{Principal, Role, TenantAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

/// Genesys Cloud region domains (login and API hosts are `login.{region}`, `api.{region}`).
const GENESYS_REGIONS: [&str; 14] = [
    "mypurecloud.com",
    "use2.us-gov-pure.cloud",
    "usw2.pure.cloud",
    "cac1.pure.cloud",
    "sae1.pure.cloud",
    "mypurecloud.ie",
    "euw2.pure.cloud",
    "mypurecloud.de",
    "euc2.pure.cloud",
    "mec1.pure.cloud",
    "aps1.pure.cloud",
    "apne2.pure.cloud",
    "mypurecloud.jp",
    "mypurecloud.com.au",
];

/// A vault entry. `genesys_cloud` takes `fields.region`, `fields.client_id` and
/// `secrets.client_secret`; `custom` takes up to 20 fields and 20 secrets, named with 1-64 of
/// `[A-Za-z0-9_]`, values 1-4096 characters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VaultBody {
    #[schema(value_type = VaultKind)]
    pub kind: String,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

struct ValidEntry {
    kind: String,
    name: String,
    fields: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

impl VaultBody {
    fn parse(self) -> Result<ValidEntry, ApiError> {
        let mut errors = Fields::default();
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            errors.check::<(), _>("name", Err("must be 1-100 characters"));
        }
        let short = |v: &String| !v.trim().is_empty() && v.chars().count() <= 4096;
        match self.kind.as_str() {
            "genesys_cloud" => {
                let region_ok = self
                    .fields
                    .get("region")
                    .is_some_and(|r| GENESYS_REGIONS.contains(&r.as_str()));
                if !region_ok {
                    errors.check::<(), _>(
                        "fields.region",
                        Err(format!("must be one of {}", GENESYS_REGIONS.join(", "))),
                    );
                }
                if !self.fields.get("client_id").is_some_and(short) {
                    errors.check::<(), _>("fields.client_id", Err("required"));
                }
                if !self.secrets.get("client_secret").is_some_and(short) {
                    errors.check::<(), _>("secrets.client_secret", Err("required"));
                }
                let extra_field = self
                    .fields
                    .keys()
                    .find(|k| !["region", "client_id"].contains(&k.as_str()));
                let extra_secret = self.secrets.keys().find(|k| k.as_str() != "client_secret");
                if let Some(k) = extra_field {
                    errors.check::<(), _>(&format!("fields.{k}"), Err("not a genesys_cloud field"));
                }
                if let Some(k) = extra_secret {
                    errors
                        .check::<(), _>(&format!("secrets.{k}"), Err("not a genesys_cloud secret"));
                }
            }
            "custom" => {
                for (map, what) in [(&self.fields, "fields"), (&self.secrets, "secrets")] {
                    if map.len() > 20 {
                        errors.check::<(), _>(what, Err("at most 20 entries"));
                    }
                    for (k, v) in map {
                        let key_ok = (1..=64).contains(&k.len())
                            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                        if !key_ok || !short(v) {
                            errors.check::<(), _>(
                                &format!("{what}.{k}"),
                                Err("names are 1-64 of [A-Za-z0-9_]; values 1-4096 characters"),
                            );
                        }
                    }
                }
            }
            _ => {
                errors.check::<(), _>("kind", Err("must be genesys_cloud or custom"));
            }
        }
        errors.finish()?;
        Ok(ValidEntry {
            kind: self.kind,
            name,
            fields: self.fields,
            secrets: self
                .secrets
                .into_iter()
                .map(|(k, v)| (k, SecretString::new(v)))
                .collect(),
        })
    }
}

fn context(tenant: TenantId, id: Uuid) -> String {
    format!("vault:{tenant}:{id}")
}

/// An entry as the API shows it: secrets masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultView {
    pub id: Uuid,
    #[schema(value_type = VaultKind)]
    pub kind: String,
    pub name: String,
    #[schema(value_type = BTreeMap<String, String>)]
    pub fields: serde_json::Value,
    /// Masked (`***1234`).
    pub secrets: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(state: &IngressState, tenant: TenantId, row: VaultRow) -> Result<VaultView, ApiError> {
    let opened = state
        .secrets
        .open_map(&row.secrets, &context(tenant, row.id))
        .map_err(|e| ApiError::Internal(format!("vault entry {}: {e}", row.id)))?;
    Ok(VaultView {
        id: row.id,
        kind: row.kind,
        name: row.name,
        fields: row.fields,
        secrets: opened.into_iter().map(|(k, v)| (k, v.masked())).collect(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn store(
    state: &IngressState,
    who: &Principal,
    id: Uuid,
    entry: ValidEntry,
    action: &str,
) -> Result<VaultView, ApiError> {
    let tenant = who.tenant()?;
    let sealed = state
        .secrets
        .seal_map(&entry.secrets, &context(tenant, id))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let fields =
        serde_json::to_value(&entry.fields).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let row = vault::put(&mut tx, id, &entry.kind, &entry.name, &fields, &sealed)
        .await
        .map_err(|e| match e {
            DbError::Conflict { .. } => {
                ApiError::Conflict("another vault entry has this name".into())
            }
            other => other.into(),
        })?;
    tx.commit().await?;
    audit::record(
        state,
        who,
        Some(tenant),
        action,
        Some(format!("vault:{id}")),
        serde_json::json!({ "kind": entry.kind }),
    )
    .await;
    view(state, tenant, row)
}

/// Store a new entry.
#[utoipa::path(
    post, path = "/vault", tag = "vault", request_body = VaultBody,
    responses(
        (status = 201, description = "The entry, secrets masked", body = VaultView),
        (status = 409, description = "The tenant has an entry with this name", body = ErrorBody),
    ),
)]
pub async fn create(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<VaultBody>,
) -> Result<(StatusCode, Json<VaultView>), ApiError> {
    let entry = body.parse()?;
    let view = store(&state, &who, Uuid::now_v7(), entry, "vault.create").await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn existing(state: &IngressState, tenant: TenantId, id: Uuid) -> Result<VaultRow, ApiError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let row = vault::get(&mut tx, id).await?;
    tx.commit().await?;
    row.ok_or_else(|| ApiError::NotFound("no such vault entry".into()))
}

/// Replace an entry.
#[utoipa::path(
    put, path = "/vault/{id}", tag = "vault", params(("id" = Uuid, Path, description = "The entry's id")), request_body = VaultBody,
    responses(
        (status = 200, description = "The entry, secrets masked", body = VaultView),
        (status = 409, description = "The tenant has another entry with this name", body = ErrorBody),
    ),
)]
pub async fn replace(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<VaultBody>,
) -> Result<Json<VaultView>, ApiError> {
    let id = parse_id(&id)?;
    existing(&state, who.tenant()?, id).await?;
    let entry = body.parse()?;
    Ok(Json(store(&state, &who, id, entry, "vault.replace").await?))
}

/// List the entries, secrets masked.
#[utoipa::path(
    get, path = "/vault", tag = "vault",
    responses((status = 200, description = "Every entry, secrets masked", body = Vec<VaultView>)),
)]
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Vec<VaultView>>, ApiError> {
    who.require(Role::Agent)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let rows = vault::list(&mut tx).await?;
    tx.commit().await?;
    rows.into_iter()
        .map(|r| view(&state, tenant, r))
        .collect::<Result<_, _>>()
        .map(Json)
}

/// Read an entry, secrets masked.
#[utoipa::path(
    get, path = "/vault/{id}", tag = "vault", params(("id" = Uuid, Path, description = "The entry's id")),
    responses((status = 200, description = "The entry, secrets masked", body = VaultView)),
)]
pub async fn read(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<VaultView>, ApiError> {
    who.require(Role::Agent)?;
    let tenant = who.tenant()?;
    let row = existing(&state, tenant, parse_id(&id)?).await?;
    Ok(Json(view(&state, tenant, row)?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Revealed {
    pub id: Uuid,
    pub secrets: BTreeMap<String, String>,
}

/// Reveal an entry's secrets in full. Tenant admins; audited.
#[utoipa::path(
    post, path = "/vault/{id}/reveal", tag = "vault", params(("id" = Uuid, Path, description = "The entry's id")),
    responses((status = 200, description = "The secrets in full", body = Revealed)),
)]
pub async fn reveal(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<Revealed>, ApiError> {
    who.require(Role::TenantAdmin)?;
    let tenant = who.tenant()?;
    let row = existing(&state, tenant, parse_id(&id)?).await?;
    let opened = state
        .secrets
        .open_map(&row.secrets, &context(tenant, row.id))
        .map_err(|e| ApiError::Internal(format!("vault entry {}: {e}", row.id)))?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "vault.reveal",
        Some(format!("vault:{}", row.id)),
        serde_json::json!({}),
    )
    .await;
    Ok(Json(Revealed {
        id: row.id,
        secrets: opened
            .into_iter()
            .map(|(k, v)| (k, v.expose().to_owned()))
            .collect(),
    }))
}

/// Delete an entry.
#[utoipa::path(
    delete, path = "/vault/{id}", tag = "vault", params(("id" = Uuid, Path, description = "The entry's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::TenantAdmin)?;
    let tenant = who.tenant()?;
    let id = parse_id(&id)?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = vault::delete(&mut tx, id).await?;
    tx.commit().await?;
    if !found {
        return Err(ApiError::NotFound("no such vault entry".into()));
    }
    audit::record(
        &state,
        &who,
        Some(tenant),
        "vault.delete",
        Some(format!("vault:{id}")),
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}
