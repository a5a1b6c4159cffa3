//! `/api/v1/tenants/{id}/channels/whatsapp`: a tenant's WhatsApp Cloud API number and
//! credentials. Secrets are sealed before they reach the database and only ever read back
//! masked.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::whatsapp_channels::{self, WhatsAppChannelRow};
use switchyard_shared::domain::{PhoneNumberId, TenantId, WabaId};
use switchyard_shared::secrets::{SecretString, mask};
use switchyard_shared::tenancy::{
    self, WhatsAppChannelInput, whatsapp_app_secret_context, whatsapp_token_context,
};
use utoipa::ToSchema;

use super::tenants::parse_tenant_id;
use super::{JsonBody, audit};
use crate::auth::{PlatformAdmin, Principal, Role, TenantAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

/// A tenant's WhatsApp Cloud API number and credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWhatsApp {
    /// The number's id in the Graph API; routes webhooks to the tenant.
    #[schema(pattern = r"^[0-9]{1,32}$", example = "100000000000001")]
    pub phone_number_id: String,
    /// The WhatsApp Business Account the number belongs to.
    #[schema(pattern = r"^[0-9]{1,32}$", example = "200000000000002")]
    pub waba_id: String,
    /// As Meta shows it, e.g. `+1 555-000-1111`.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    pub display_phone_number: Option<String>,
    /// A system user or business token. Secret.
    #[schema(min_length = 8, max_length = 4096, pattern = r"\S")]
    pub access_token: String,
    /// The tenant's own Meta app secret, if its webhooks come from its own app. Secret.
    #[schema(min_length = 8, max_length = 256, pattern = r"\S")]
    pub app_secret: Option<String>,
    #[serde(default = "active_by_default")]
    #[schema(default = true)]
    pub is_active: bool,
    /// The number's throughput limit in messages per second (Meta's default tier is 80);
    /// absent: the platform's `WHATSAPP_MESSAGES_PER_SECOND`.
    #[schema(minimum = 1, maximum = 1000)]
    pub messages_per_second: Option<i64>,
}

fn active_by_default() -> bool {
    true
}

impl PutWhatsApp {
    fn parse(self) -> Result<WhatsAppChannelInput, ApiError> {
        let phone_number_id = PhoneNumberId::parse(&self.phone_number_id)
            .map_err(|e| ApiError::field("phone_number_id", e.reason))?;
        let waba_id =
            WabaId::parse(&self.waba_id).map_err(|e| ApiError::field("waba_id", e.reason))?;
        let token = self.access_token.trim();
        if token.chars().count() < 8 || self.access_token.chars().count() > 4096 {
            return Err(ApiError::field("access_token", "must be 8-4096 characters"));
        }
        let display_phone_number = self.display_phone_number.map(|d| d.trim().to_owned());
        if display_phone_number
            .as_ref()
            .is_some_and(|d| d.is_empty() || d.chars().count() > 64)
        {
            return Err(ApiError::field(
                "display_phone_number",
                "must be 1-64 characters",
            ));
        }
        let app_secret = match self.app_secret.as_deref() {
            Some(raw) if raw.trim().chars().count() < 8 || raw.chars().count() > 256 => {
                return Err(ApiError::field("app_secret", "must be 8-256 characters"));
            }
            other => other.map(|raw| SecretString::new(raw.trim())),
        };
        let messages_per_second = self
            .messages_per_second
            .map(|n| {
                u16::try_from(n)
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| ApiError::field("messages_per_second", "must be 1-1000"))
            })
            .transpose()?;
        Ok(WhatsAppChannelInput {
            phone_number_id,
            waba_id,
            display_phone_number,
            access_token: SecretString::new(token),
            app_secret,
            is_active: self.is_active,
            messages_per_second,
        })
    }
}

/// What the API shows of a config: secrets masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct WhatsAppView {
    pub tenant_id: TenantId,
    pub phone_number_id: String,
    pub waba_id: String,
    pub display_phone_number: Option<String>,
    pub access_token: String,
    pub app_secret: Option<String>,
    pub is_active: bool,
    pub messages_per_second: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(super) fn view(
    state: &IngressState,
    row: WhatsAppChannelRow,
) -> Result<WhatsAppView, ApiError> {
    let tenant = TenantId::from_uuid(row.tenant_id);
    let open = |sealed: &str, context: String| {
        state
            .secrets
            .open(sealed, &context)
            .map(|s| s.masked())
            .unwrap_or_else(|e| {
                tracing::error!(tenant_id = %tenant, error = %e, "stored secret does not open");
                mask("")
            })
    };
    Ok(WhatsAppView {
        tenant_id: tenant,
        access_token: open(&row.access_token_enc, whatsapp_token_context(tenant)),
        app_secret: row
            .app_secret_enc
            .as_deref()
            .map(|s| open(s, whatsapp_app_secret_context(tenant))),
        phone_number_id: row.phone_number_id,
        waba_id: row.waba_id,
        display_phone_number: row.display_phone_number,
        is_active: row.is_active,
        messages_per_second: row.messages_per_second,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

async fn put_for(
    state: &IngressState,
    who: &Principal,
    tenant: TenantId,
    body: PutWhatsApp,
) -> Result<Json<WhatsAppView>, ApiError> {
    let input = body.parse()?;
    let (row, replaced) =
        tenancy::put_whatsapp_channel(&state.pool, &state.secrets, tenant, &input).await?;
    state
        .whatsapp_routes
        .invalidate(input.phone_number_id.as_str())
        .await;
    if let Some(old) = replaced {
        state.whatsapp_routes.invalidate(&old).await;
    }
    audit::record(
        state,
        who,
        Some(tenant),
        "channel.whatsapp.put",
        Some(format!("phone_number_id:{}", input.phone_number_id)),
        serde_json::json!({}),
    )
    .await;
    Ok(Json(view(state, row)?))
}

async fn read_for(state: &IngressState, tenant: TenantId) -> Result<Json<WhatsAppView>, ApiError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let row = whatsapp_channels::get(&mut tx).await?;
    tx.commit().await?;
    let row = row.ok_or_else(|| ApiError::NotFound("no WhatsApp channel configured".into()))?;
    Ok(Json(view(state, row)?))
}

/// Create or replace a tenant's WhatsApp config. Platform admins.
#[utoipa::path(
    put, path = "/tenants/{tenant_id}/channels/whatsapp", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")),
    request_body = PutWhatsApp,
    responses(
        (status = 200, description = "The stored config, secrets masked", body = WhatsAppView),
        (status = 409, description = "The phone_number_id belongs to another tenant", body = ErrorBody),
    ),
)]
pub async fn put(
    PlatformAdmin(who): PlatformAdmin,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
    JsonBody(body): JsonBody<PutWhatsApp>,
) -> Result<Json<WhatsAppView>, ApiError> {
    put_for(&state, &who, parse_tenant_id(&tenant_id)?, body).await
}

/// Read a tenant's WhatsApp config, secrets masked. Platform admins.
#[utoipa::path(
    get, path = "/tenants/{tenant_id}/channels/whatsapp", tag = "tenants", params(("tenant_id" = Uuid, Path, description = "The tenant's id")),
    responses((status = 200, description = "The config, secrets masked", body = WhatsAppView)),
)]
pub async fn read(
    who: Principal,
    State(state): State<IngressState>,
    Path(tenant_id): Path<String>,
) -> Result<Json<WhatsAppView>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    read_for(&state, parse_tenant_id(&tenant_id)?).await
}

/// Create or replace the WhatsApp config. Tenant admins.
#[utoipa::path(
    put, path = "/channels/whatsapp", tag = "channels", request_body = PutWhatsApp,
    responses(
        (status = 200, description = "The stored config, secrets masked", body = WhatsAppView),
        (status = 409, description = "The phone_number_id belongs to another tenant", body = ErrorBody),
    ),
)]
pub async fn put_own(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<PutWhatsApp>,
) -> Result<Json<WhatsAppView>, ApiError> {
    let tenant = who.tenant()?;
    put_for(&state, &who, tenant, body).await
}

/// Read the WhatsApp config, secrets masked.
#[utoipa::path(
    get, path = "/channels/whatsapp", tag = "channels",
    responses((status = 200, description = "The config, secrets masked", body = WhatsAppView)),
)]
pub async fn read_own(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<WhatsAppView>, ApiError> {
    read_for(&state, who.tenant()?).await
}
