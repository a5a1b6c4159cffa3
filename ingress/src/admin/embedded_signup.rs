//! `POST /api/v1/channels/whatsapp/embedded-signup`: finish Meta's Embedded Signup for the
//! acting tenant.
//!
//! The browser hands over the signup `code` (valid for 30 seconds) and, optionally, the WABA
//! and phone number ids from Meta's `WA_EMBEDDED_SIGNUP` event. Those ids are untrusted: the
//! code is exchanged for a business token at once, `debug_token` says which WABAs the token may
//! manage, and only those are accepted. Then the WABA's numbers are listed, our app is
//! subscribed to the WABA's webhooks, and only after every Meta call succeeded is the
//! configuration stored (sealed) and the tenant's onboarding marked complete, in one
//! transaction. A Meta refusal is answered 502 with Meta's code and message; nothing is stored.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use switchyard_shared::domain::{PhoneNumberId, WabaId};
use switchyard_shared::secrets::SecretString;
use switchyard_shared::tenancy::{self, WhatsAppChannelInput};
use utoipa::ToSchema;

use super::whatsapp::{WhatsAppView, view};
use super::{JsonBody, audit};
use crate::auth::TenantAdmin;
use crate::error::{ApiError, ErrorBody};
use crate::graph::GraphError;
use crate::startup::IngressState;

/// What the browser got from Meta's Embedded Signup.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signup {
    /// The code from `FB.login`'s answer; valid for 30 seconds.
    #[schema(min_length = 1, max_length = 2048, pattern = r"\S")]
    pub code: String,
    /// From the `WA_EMBEDDED_SIGNUP` event; checked against what the token may manage.
    #[schema(pattern = r"^[0-9]{1,32}$")]
    pub waba_id: Option<String>,
    /// From the `WA_EMBEDDED_SIGNUP` event.
    #[schema(pattern = r"^[0-9]{1,32}$")]
    pub phone_number_id: Option<String>,
}

fn meta(step: &str, e: GraphError) -> ApiError {
    ApiError::Provider {
        message: format!("Meta refused the {step}: {}", e.message),
        provider_code: e.code,
    }
}

/// Finish WhatsApp Embedded Signup: exchange the code, check the granted WABA, subscribe the
/// app, then store the config. Tenant admins.
#[utoipa::path(
    post, path = "/channels/whatsapp/embedded-signup", tag = "channels", request_body = Signup,
    responses(
        (status = 200, description = "The stored config, secrets masked", body = WhatsAppView),
        (status = 409, description = "The number belongs to another tenant", body = ErrorBody),
        (status = 502, description = "Meta refused a call; `provider_code` is Meta's code", body = ErrorBody),
    ),
)]
pub async fn finish(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<Signup>,
) -> Result<Json<WhatsAppView>, ApiError> {
    let tenant = who.tenant()?;
    let (Some(app_id), Some(app_secret)) = (
        state.config.meta_app_id.as_deref(),
        state.config.whatsapp_app_secret.as_ref(),
    ) else {
        return Err(ApiError::Unavailable(
            "embedded signup needs META_APP_ID and WHATSAPP_APP_SECRET".into(),
        ));
    };
    let code = body.code.trim();
    if code.is_empty() || code.len() > 2048 {
        return Err(ApiError::field(
            "code",
            "must be the signup code (1-2048 characters)",
        ));
    }

    let token = state
        .graph
        .exchange_code(app_id, app_secret.expose(), code)
        .await
        .map_err(|e| meta("code exchange", e))?;
    let granted = state
        .graph
        .granted_wabas(app_id, app_secret.expose(), &token)
        .await
        .map_err(|e| meta("token check", e))?;
    let waba = match body.waba_id.as_deref() {
        Some(claimed) if granted.iter().any(|w| w == claimed) => claimed.to_owned(),
        Some(_) => {
            return Err(ApiError::field(
                "waba_id",
                "this WABA was not granted to the app by the signup",
            ));
        }
        None => granted.first().cloned().ok_or_else(|| {
            ApiError::field("code", "the signup granted no WhatsApp Business Account")
        })?,
    };
    let numbers = state
        .graph
        .phone_numbers(&waba, &token)
        .await
        .map_err(|e| meta("phone number listing", e))?;
    let number = match body.phone_number_id.as_deref() {
        Some(claimed) => numbers
            .into_iter()
            .find(|n| n.id == claimed)
            .ok_or_else(|| {
                ApiError::field("phone_number_id", "not a number of the granted WABA")
            })?,
        None => numbers
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::field("code", "the WABA has no phone number"))?,
    };
    let input = WhatsAppChannelInput {
        phone_number_id: PhoneNumberId::parse(&number.id)
            .map_err(|e| ApiError::Internal(format!("Meta phone number id: {e}")))?,
        waba_id: WabaId::parse(&waba)
            .map_err(|e| ApiError::Internal(format!("Meta WABA id: {e}")))?,
        display_phone_number: number.display_phone_number,
        access_token: SecretString::new(token),
        app_secret: None,
        is_active: true,
        messages_per_second: None,
    };
    state
        .graph
        .subscribe_app(&waba, input.access_token.expose())
        .await
        .map_err(|e| meta("webhook subscription", e))?;

    let (row, replaced) =
        tenancy::onboard_whatsapp_channel(&state.pool, &state.secrets, tenant, &input).await?;
    state
        .whatsapp_routes
        .invalidate(input.phone_number_id.as_str())
        .await;
    if let Some(old) = replaced {
        state.whatsapp_routes.invalidate(&old).await;
    }
    audit::record(
        &state,
        &who,
        Some(tenant),
        "channel.whatsapp.embedded_signup",
        Some(format!("phone_number_id:{}", input.phone_number_id)),
        serde_json::json!({ "waba_id": waba }),
    )
    .await;
    Ok(Json(view(&state, row)?))
}
