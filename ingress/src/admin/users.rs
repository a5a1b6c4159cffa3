//! `/api/v1/users`: people who log in. Tenant admins manage their tenant's users; platform
//! admins also create other platform admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::users::{self, NewUser, User};

use super::{JsonBody, audit, validate};
use crate::auth::{Principal, Role, TenantAdmin, passwords};
use crate::error::ApiError;
use crate::startup::IngressState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    pub password: String,
    pub role: String,
    pub display_name: Option<String>,
}

/// `POST /api/v1/users` → 201; 409 when the email is taken.
pub async fn create(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let mut fields = validate::Fields::default();
    let email = fields.check("email", validate::email(&body.email));
    fields.check("password", validate::password(&body.password));
    let role = fields.check(
        "role",
        Role::parse(&body.role).ok_or("must be platform_admin, tenant_admin or agent"),
    );
    fields.finish()?;
    let (Some(email), Some(role)) = (email, role) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let hash = passwords::hash(body.password).await?;

    if role == Role::PlatformAdmin {
        who.require(Role::PlatformAdmin)?;
        let id =
            users::create_platform_admin(&state.pool, &email, &hash, body.display_name.as_deref())
                .await?;
        audit::record(
            &state,
            &who,
            None,
            "user.create",
            Some(format!("user:{id}")),
            serde_json::json!({ "role": role.as_str() }),
        )
        .await;
        return Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({
                "id": id, "email": email, "role": role, "tenant_id": null,
            })),
        ));
    }
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let user = users::create(
        &mut tx,
        &NewUser {
            email: &email,
            password_hash: &hash,
            role: role.as_str(),
            display_name: body.display_name.as_deref(),
        },
    )
    .await?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "user.create",
        Some(format!("user:{}", user.id)),
        serde_json::json!({ "role": role.as_str() }),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(user).map_err(|e| ApiError::Internal(e.to_string()))?),
    ))
}

/// `GET /api/v1/users`: the acting tenant's users.
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
) -> Result<Json<Vec<User>>, ApiError> {
    who.require(Role::TenantAdmin)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let all = users::list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(all))
}
