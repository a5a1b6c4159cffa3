//! Connecting a tenant's Gmail mailbox through Google's consent screen.
//!
//! 1. `POST /api/v1/channels/email/connect` (tenant admin) answers the consent URL: offline
//!    access (a refresh token), the Gmail scope, and a signed `state` that names the tenant and
//!    lapses after 15 minutes.
//! 2. Google sends the browser to `GET /oauth/google/callback?code=…&state=…`. The state says
//!    which tenant; the code is exchanged for tokens at once, the profile gives the mailbox's
//!    address, and `users.watch` starts push notifications on `GMAIL_PUBSUB_TOPIC`. Only when
//!    every call succeeded are the tokens sealed into the tenant's `email` channel config (the
//!    address becomes its routing key — another tenant's address is a 409) and the mailbox's
//!    cursor set to the watch's `historyId`, in one transaction. A Google refusal is a 502 with
//!    Google's words; nothing is stored.
//!
//! `GET /api/v1/channels/email/mailbox` shows the connection: cursor, watch expiry, and whether
//! the owner must consent again.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_shared::db::mailboxes::{self, Connected, Mailbox};
use switchyard_shared::db::{TenantTx, channel_configs, tenants};
use switchyard_shared::domain::{Channel, TenantId};
use switchyard_shared::tenancy::channel_secrets_context;
use utoipa::ToSchema;

use super::{QueryParams, audit};
use crate::auth::jwt::GMAIL_CONNECT;
use crate::auth::{Principal, Role, TenantAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::google::GoogleError;
use crate::startup::IngressState;

/// Read, label and send: what answering customers by email needs.
const GMAIL_SCOPE: &str = "https://www.googleapis.com/auth/gmail.modify";

fn google_refused(step: &str, e: GoogleError) -> ApiError {
    ApiError::Provider {
        message: format!("Google refused the {step}: {}", e.message),
        provider_code: i64::from(e.status),
    }
}

fn not_configured(what: &str) -> ApiError {
    ApiError::Conflict(format!(
        "Gmail connection is not configured on this platform ({what})"
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentUrl {
    /// Send the mailbox owner's browser here.
    pub authorization_url: String,
}

/// Start connecting a Gmail mailbox: the URL of Google's consent screen. Tenant admins.
#[utoipa::path(
    post, path = "/channels/email/connect", tag = "channels",
    responses(
        (status = 200, description = "Where to send the mailbox owner", body = ConsentUrl),
        (status = 409, description = "The platform has no Google OAuth client configured", body = ErrorBody),
    ),
)]
pub async fn start(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
) -> Result<Json<ConsentUrl>, ApiError> {
    let tenant = who.tenant()?;
    let google = &state.google;
    let client_id = google
        .oauth_client_id
        .as_deref()
        .ok_or_else(|| not_configured("GOOGLE_OAUTH_CLIENT_ID"))?;
    let redirect = google
        .oauth_redirect_url
        .as_deref()
        .ok_or_else(|| not_configured("GOOGLE_OAUTH_REDIRECT_URL"))?;
    let consent_state = state
        .auth
        .jwt
        .issue_consent_state(tenant.as_uuid(), GMAIL_CONNECT)?;
    let mut url = reqwest::Url::parse(&google.oauth_auth_url)
        .map_err(|e| ApiError::Internal(format!("GOOGLE_OAUTH_AUTH_URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", GMAIL_SCOPE)
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("include_granted_scopes", "true")
        .append_pair("state", &consent_state);
    Ok(Json(ConsentUrl {
        authorization_url: url.into(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by Google when the owner declined.
    pub error: Option<String>,
}

/// `GET /oauth/google/callback?code=…&state=…`: finish the connection (see the module doc).
#[tracing::instrument(name = "gmail_connect_callback", skip_all)]
pub async fn callback(
    State(state): State<IngressState>,
    QueryParams(callback): QueryParams<Callback>,
) -> Result<Json<Mailbox>, ApiError> {
    if let Some(error) = callback.error {
        return Err(ApiError::BadRequest(format!(
            "the mailbox owner did not consent ({error})"
        )));
    }
    let (Some(code), Some(consent_state)) = (callback.code, callback.state) else {
        return Err(ApiError::BadRequest("code and state are required".into()));
    };
    let tenant = TenantId::from_uuid(
        state
            .auth
            .jwt
            .verify_consent_state(&consent_state, GMAIL_CONNECT)?,
    );
    let google = &state.google;
    let (Some(client_id), Some(client_secret), Some(redirect)) = (
        google.oauth_client_id.as_deref(),
        google.oauth_client_secret.as_ref(),
        google.oauth_redirect_url.as_deref(),
    ) else {
        return Err(not_configured(
            "GOOGLE_OAUTH_CLIENT_ID, _SECRET and _REDIRECT_URL",
        ));
    };
    let topic = google
        .gmail_pubsub_topic
        .as_deref()
        .ok_or_else(|| not_configured("GMAIL_PUBSUB_TOPIC"))?;

    let onboarding = &state.google_onboarding;
    let tokens = onboarding
        .exchange_code(google, client_id, client_secret, redirect, &code)
        .await
        .map_err(|e| google_refused("code exchange", e))?;
    let refresh_token = tokens
        .refresh_token
        .clone()
        .ok_or_else(|| ApiError::Provider {
            message: "Google granted no refresh token (offline access); connect again".into(),
            provider_code: 0,
        })?;
    let address = onboarding
        .address(google, &tokens.access_token)
        .await
        .map_err(|e| google_refused("profile read", e))?
        .trim()
        .to_lowercase();
    let watch = onboarding
        .watch(google, &tokens.access_token, topic)
        .await
        .map_err(|e| google_refused("watch", e))?;

    let now = chrono::Utc::now();
    let secrets = BTreeMap::from([
        ("access_token".to_owned(), tokens.access_token.clone()),
        ("refresh_token".to_owned(), refresh_token),
    ]);
    let sealed = state
        .secrets
        .seal_map(&secrets, &channel_secrets_context(Channel::Email, tenant))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let key = format!("email:{address}");
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    if tenants::get(&mut tx).await?.is_none() {
        return Err(ApiError::NotFound("no such tenant".into()));
    }
    channel_configs::lock_key(&mut tx, &key).await?;
    if channel_configs::key_owner(&mut tx, &key)
        .await?
        .is_some_and(|owner| owner != tenant.as_uuid())
    {
        return Err(ApiError::Conflict(format!(
            "{address} is connected to another tenant"
        )));
    }
    channel_configs::upsert(
        &mut tx,
        Channel::Email,
        &json!({ "address": address }),
        &sealed,
        std::slice::from_ref(&key),
        true,
    )
    .await?;
    let mailbox = mailboxes::connect(
        &mut tx,
        &Connected {
            address: &address,
            history_id: watch.history_id,
            watch_expires_at: watch
                .expiration_ms
                .and_then(chrono::DateTime::from_timestamp_millis),
            access_token_expires_at: tokens.expires_at(now),
        },
    )
    .await?;
    tx.commit().await?;
    let who = Principal {
        actor: "google_consent".into(),
        role: Role::TenantAdmin,
        home_tenant: Some(tenant),
        acting_tenant: Some(tenant),
    };
    audit::record(
        &state,
        &who,
        Some(tenant),
        "channel.email.connect",
        None,
        json!({ "address": address }),
    )
    .await;
    tracing::info!(tenant_id = %tenant, history_id = watch.history_id, "Gmail mailbox connected");
    Ok(Json(mailbox))
}

/// The connected mailbox: sync cursor, watch expiry, and whether it needs consent again.
#[utoipa::path(
    get, path = "/channels/email/mailbox", tag = "channels",
    responses((status = 200, description = "The mailbox", body = Mailbox)),
)]
pub async fn mailbox(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Mailbox>, ApiError> {
    who.require(Role::Agent)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let found = mailboxes::get(&mut tx).await?;
    tx.commit().await?;
    found
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("no Gmail mailbox connected".into()))
}
