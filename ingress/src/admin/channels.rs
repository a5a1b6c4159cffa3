//! `/api/v1/channels/{channel}`: the acting tenant's channel configuration.
//!
//! `sms`, `voice` and `email` share one shape: a flat JSON object of the fields below (secrets
//! among them are sealed one by one and read back masked), plus `is_active`. `whatsapp` has its
//! own body (see `whatsapp.rs`) but the same verbs: reveal, activate, deactivate, delete and
//! the *effective* configuration — the tenant's value where it has one, the platform's
//! environment default otherwise, with the source of each.
//!
//! A routing key (phone number, connection id, email address) belongs to at most one tenant:
//! claiming one another tenant holds is a 409.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use switchyard_shared::db::channel_configs::{self, ChannelConfigRow};
use switchyard_shared::db::{TenantTx, tenants, whatsapp_channels};
use switchyard_shared::domain::{Channel, TenantId};
use switchyard_shared::secrets::SecretString;
use switchyard_shared::tenancy::{whatsapp_app_secret_context, whatsapp_token_context};
use utoipa::ToSchema;

use super::channel_fields::{
    EmailConfigBody, SmsConfigBody, VoiceConfigBody, context, parse_body, parse_channel, specs,
};
use super::{JsonBody, audit};
use crate::auth::{Principal, Role, TenantAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

/// What the API shows of a generic channel config: secrets masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    #[schema(value_type = Channel)]
    pub channel: String,
    /// The fields that are not secret.
    #[schema(value_type = BTreeMap<String, String>)]
    pub settings: Value,
    /// The secret fields, masked (`***1234`).
    pub secrets: BTreeMap<String, String>,
    /// What routes webhooks to this tenant, e.g. `phone:+15550001111`.
    pub routing_keys: Vec<String>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn open_secrets(
    state: &IngressState,
    tenant: TenantId,
    row: &ChannelConfigRow,
    channel: Channel,
) -> Result<BTreeMap<String, SecretString>, ApiError> {
    state
        .secrets
        .open_map(&row.secrets, &context(channel, tenant))
        .map_err(|e| ApiError::Internal(format!("{channel} config of {tenant}: {e}")))
}

fn view(
    state: &IngressState,
    tenant: TenantId,
    channel: Channel,
    row: ChannelConfigRow,
) -> Result<ChannelView, ApiError> {
    let secrets = open_secrets(state, tenant, &row, channel)?;
    Ok(ChannelView {
        channel: row.channel,
        settings: row.settings,
        secrets: secrets.into_iter().map(|(k, v)| (k, v.masked())).collect(),
        routing_keys: row.routing_keys,
        is_active: row.is_active,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Create or replace the `sms`, `voice` or `email` config. Tenant admins.
async fn put(
    who: Principal,
    state: IngressState,
    channel: Channel,
    body: Map<String, Value>,
) -> Result<Json<ChannelView>, ApiError> {
    let config = parse_body(channel, body)?;
    let tenant = who.tenant()?;
    let sealed = state
        .secrets
        .seal_map(&config.secrets, &context(channel, tenant))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    if tenants::get(&mut tx).await?.is_none() {
        return Err(ApiError::NotFound("no such tenant".into()));
    }
    for key in &config.routing_keys {
        channel_configs::lock_key(&mut tx, key).await?;
        if channel_configs::key_owner(&mut tx, key)
            .await?
            .is_some_and(|owner| owner != tenant.as_uuid())
        {
            return Err(ApiError::Conflict(format!(
                "{key} belongs to another tenant"
            )));
        }
    }
    let row = channel_configs::upsert(
        &mut tx,
        channel,
        &Value::Object(config.settings),
        &sealed,
        &config.routing_keys,
        config.is_active,
    )
    .await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        &format!("channel.{channel}.put"),
        None,
        json!({ "routing_keys": row.routing_keys }),
    )
    .await;
    Ok(Json(view(&state, tenant, channel, row)?))
}

async fn load(
    state: &IngressState,
    tenant: TenantId,
    channel: Channel,
) -> Result<ChannelConfigRow, ApiError> {
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let row = channel_configs::get(&mut tx, channel).await?;
    tx.commit().await?;
    row.ok_or_else(|| ApiError::NotFound(format!("no {channel} channel configured")))
}

/// The `sms`, `voice` or `email` config, secrets masked.
async fn read(
    who: Principal,
    state: IngressState,
    channel: Channel,
) -> Result<Json<ChannelView>, ApiError> {
    let tenant = who.tenant()?;
    let row = load(&state, tenant, channel).await?;
    Ok(Json(view(&state, tenant, channel, row)?))
}

/// Reveal a channel's secrets in full. Tenant admins; audited.
#[utoipa::path(
    post, path = "/channels/{channel}/reveal", tag = "channels", params(("channel" = Channel, Path)),
    responses((status = 200, description = "Each secret field in full", body = BTreeMap<String, String>)),
)]
pub async fn reveal(
    who: Principal,
    State(state): State<IngressState>,
    Path(channel): Path<String>,
) -> Result<Json<BTreeMap<String, String>>, ApiError> {
    who.require(Role::TenantAdmin)?;
    let channel = parse_channel(&channel)?;
    let tenant = who.tenant()?;
    let secrets = match channel {
        Channel::Whatsapp => {
            let mut tx = TenantTx::begin(&state.pool, tenant).await?;
            let row = whatsapp_channels::get(&mut tx).await?;
            tx.commit().await?;
            let row =
                row.ok_or_else(|| ApiError::NotFound("no whatsapp channel configured".into()))?;
            let open = |sealed: &str, ctx: String| {
                state
                    .secrets
                    .open(sealed, &ctx)
                    .map_err(|e| ApiError::Internal(e.to_string()))
            };
            let mut out = BTreeMap::from([(
                "access_token".to_owned(),
                open(&row.access_token_enc, whatsapp_token_context(tenant))?,
            )]);
            if let Some(sealed) = &row.app_secret_enc {
                out.insert(
                    "app_secret".to_owned(),
                    open(sealed, whatsapp_app_secret_context(tenant))?,
                );
            }
            out
        }
        _ => {
            let row = load(&state, tenant, channel).await?;
            open_secrets(&state, tenant, &row, channel)?
        }
    };
    audit::record(
        &state,
        &who,
        Some(tenant),
        &format!("channel.{channel}.reveal"),
        None,
        json!({}),
    )
    .await;
    Ok(Json(
        secrets
            .into_iter()
            .map(|(k, v)| (k, v.expose().to_owned()))
            .collect(),
    ))
}

async fn set_active(
    who: Principal,
    state: IngressState,
    channel: String,
    active: bool,
) -> Result<StatusCode, ApiError> {
    who.require(Role::TenantAdmin)?;
    let channel = parse_channel(&channel)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = match channel {
        Channel::Whatsapp => {
            let row = whatsapp_channels::get(&mut tx).await?;
            let found = whatsapp_channels::set_active(&mut tx, active).await?;
            if let Some(row) = row {
                state.whatsapp_routes.invalidate(&row.phone_number_id).await;
            }
            found
        }
        _ => channel_configs::set_active(&mut tx, channel, active).await?,
    };
    tx.commit().await?;
    if !found {
        return Err(ApiError::NotFound(format!(
            "no {channel} channel configured"
        )));
    }
    let action = if active { "activate" } else { "deactivate" };
    audit::record(
        &state,
        &who,
        Some(tenant),
        &format!("channel.{channel}.{action}"),
        None,
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Route webhooks to this config again.
#[utoipa::path(
    post, path = "/channels/{channel}/activate", tag = "channels", params(("channel" = Channel, Path)),
    responses((status = 204, description = "Active")),
)]
pub async fn activate(
    who: Principal,
    State(state): State<IngressState>,
    Path(channel): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_active(who, state, channel, true).await
}

/// Stop routing webhooks to this config: they are recorded as unroutable instead.
#[utoipa::path(
    post, path = "/channels/{channel}/deactivate", tag = "channels", params(("channel" = Channel, Path)),
    responses((status = 204, description = "Inactive")),
)]
pub async fn deactivate(
    who: Principal,
    State(state): State<IngressState>,
    Path(channel): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_active(who, state, channel, false).await
}

/// Delete the WhatsApp config.
#[utoipa::path(
    delete, path = "/channels/whatsapp", tag = "channels",
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete_whatsapp(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<StatusCode, ApiError> {
    delete_config(who, state, Channel::Whatsapp).await
}

async fn delete_config(
    who: Principal,
    state: IngressState,
    channel: Channel,
) -> Result<StatusCode, ApiError> {
    who.require(Role::TenantAdmin)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = match channel {
        Channel::Whatsapp => {
            let row = whatsapp_channels::get(&mut tx).await?;
            if let Some(row) = &row {
                state.whatsapp_routes.invalidate(&row.phone_number_id).await;
            }
            whatsapp_channels::delete(&mut tx).await?
        }
        _ => channel_configs::delete(&mut tx, channel).await?,
    };
    tx.commit().await?;
    if !found {
        return Err(ApiError::NotFound(format!(
            "no {channel} channel configured"
        )));
    }
    audit::record(
        &state,
        &who,
        Some(tenant),
        &format!("channel.{channel}.delete"),
        None,
        json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// One field of the effective configuration.
#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveField {
    /// Secrets masked.
    pub value: Option<String>,
    pub source: EffectiveSource,
}

fn environment_default(
    state: &IngressState,
    channel: Channel,
    field: &str,
) -> Option<(String, bool)> {
    let config = &state.config;
    match (channel, field) {
        (Channel::Sms | Channel::Voice, "telnyx_api_key") => {
            config.telnyx_api_key.as_ref().map(|s| (s.masked(), true))
        }
        (Channel::Sms, "telnyx_public_key") => config.telnyx_public_key.clone().map(|v| (v, false)),
        (Channel::Sms, "telnyx_messaging_profile_id") => config
            .telnyx_messaging_profile_id
            .clone()
            .map(|v| (v, false)),
        (Channel::Whatsapp, "app_secret") => config
            .whatsapp_app_secret
            .as_ref()
            .map(|s| (s.masked(), true)),
        _ => None,
    }
}

/// Where a field's effective value comes from: the tenant's config, the platform default in
/// the environment, or nowhere.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveSource {
    Tenant,
    Environment,
    Unset,
}

/// What Switchyard will use for this tenant: each field's value (secrets masked) and source —
/// the tenant's config, else the platform default from the environment.
#[utoipa::path(
    get, path = "/channels/{channel}/effective", tag = "channels", params(("channel" = Channel, Path)),
    responses((status = 200, description = "Each field with its source", body = BTreeMap<String, EffectiveField>)),
)]
pub async fn effective(
    who: Principal,
    State(state): State<IngressState>,
    Path(channel): Path<String>,
) -> Result<Json<BTreeMap<String, EffectiveField>>, ApiError> {
    let channel = parse_channel(&channel)?;
    let tenant = who.tenant()?;
    let mut tenant_values: BTreeMap<String, String> = BTreeMap::new();
    let names: Vec<&str> = match channel {
        Channel::Whatsapp => {
            let mut tx = TenantTx::begin(&state.pool, tenant).await?;
            let row = whatsapp_channels::get(&mut tx).await?;
            tx.commit().await?;
            let row =
                row.ok_or_else(|| ApiError::NotFound("no whatsapp channel configured".into()))?;
            tenant_values.insert("phone_number_id".into(), row.phone_number_id);
            tenant_values.insert("waba_id".into(), row.waba_id);
            tenant_values.insert("access_token".into(), "***".into());
            if let Some(sealed) = &row.app_secret_enc {
                let masked = state
                    .secrets
                    .open(sealed, &whatsapp_app_secret_context(tenant))
                    .map(|s| s.masked())
                    .unwrap_or_else(|_| "***".into());
                tenant_values.insert("app_secret".into(), masked);
            }
            vec!["phone_number_id", "waba_id", "access_token", "app_secret"]
        }
        _ => {
            let row = load(&state, tenant, channel).await?;
            let secrets = open_secrets(&state, tenant, &row, channel)?;
            if let Value::Object(settings) = &row.settings {
                for (k, v) in settings {
                    if let Some(v) = v.as_str() {
                        tenant_values.insert(k.clone(), v.to_owned());
                    }
                }
            }
            for (k, v) in secrets {
                tenant_values.insert(k, v.masked());
            }
            specs(channel)
                .map(|(s, _)| s.iter().map(|f| f.name).collect())
                .unwrap_or_default()
        }
    };
    let effective = names
        .into_iter()
        .map(|name| {
            let field = match (
                tenant_values.remove(name),
                environment_default(&state, channel, name),
            ) {
                (Some(value), _) => EffectiveField {
                    value: Some(value),
                    source: EffectiveSource::Tenant,
                },
                (None, Some((value, _))) => EffectiveField {
                    value: Some(value),
                    source: EffectiveSource::Environment,
                },
                (None, None) => EffectiveField {
                    value: None,
                    source: EffectiveSource::Unset,
                },
            };
            (name.to_owned(), field)
        })
        .collect();
    Ok(Json(effective))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelStats {
    #[schema(value_type = Channel)]
    pub channel: String,
    pub active: i64,
    pub inactive: i64,
}

/// How many tenants configure each channel, active and inactive. Platform admins.
#[utoipa::path(
    get, path = "/platform/channel-stats", tag = "platform",
    responses((status = 200, description = "One row per configured channel", body = Vec<ChannelStats>)),
)]
pub async fn stats(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Vec<ChannelStats>>, ApiError> {
    who.require(Role::PlatformAdmin)?;
    let rows = channel_configs::stats(&state.pool).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(channel, active, inactive)| ChannelStats {
                channel,
                active,
                inactive,
            })
            .collect(),
    ))
}

/// `GET`, `PUT` and `DELETE` of one generic channel, each under its own path so the
/// documented body is that channel's exact shape.
macro_rules! generic_channel {
    ($module:ident, $channel:expr, $path:tt, $body:ty) => {
        pub mod $module {
            use super::*;

            /// Read the config, secrets masked.
            #[utoipa::path(
                get, path = $path, tag = "channels",
                responses((status = 200, description = "The config", body = ChannelView)),
            )]
            pub async fn read(
                who: Principal,
                State(state): State<IngressState>,
            ) -> Result<Json<ChannelView>, ApiError> {
                super::read(who, state, $channel).await
            }

            /// Create or replace the config. A routing key another tenant holds is a 409.
            #[utoipa::path(
                put, path = $path, tag = "channels", request_body = $body,
                responses(
                    (status = 200, description = "The stored config", body = ChannelView),
                    (status = 409, description = "A routing key belongs to another tenant", body = ErrorBody),
                ),
            )]
            pub async fn put(
                TenantAdmin(who): TenantAdmin,
                State(state): State<IngressState>,
                JsonBody(body): JsonBody<Map<String, Value>>,
            ) -> Result<Json<ChannelView>, ApiError> {
                super::put(who, state, $channel, body).await
            }

            /// Delete the config.
            #[utoipa::path(
                delete, path = $path, tag = "channels",
                responses((status = 204, description = "Deleted")),
            )]
            pub async fn delete(
                who: Principal,
                State(state): State<IngressState>,
            ) -> Result<StatusCode, ApiError> {
                super::delete_config(who, state, $channel).await
            }
        }
    };
}

generic_channel!(sms, Channel::Sms, "/channels/sms", SmsConfigBody);
generic_channel!(voice, Channel::Voice, "/channels/voice", VoiceConfigBody);
generic_channel!(email, Channel::Email, "/channels/email", EmailConfigBody);
