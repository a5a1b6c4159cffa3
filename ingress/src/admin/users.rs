//! `/api/v1/users`: people who log in. Tenant admins manage their tenant's users; platform
//! admins also create other platform admins.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::users::{self, NewUser, User};
use utoipa::ToSchema;

use super::{JsonBody, audit, validate};
use crate::auth::{Principal, Role, TenantAdmin, passwords};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// `platform_admin` users are created by platform admins only.
    #[schema(value_type = Role)]
    pub role: String,
    pub display_name: Option<String>,
}

/// Create a user of the acting tenant (or, for platform admins, another platform admin).
#[utoipa::path(
    post, path = "/users", tag = "users", request_body = CreateUser,
    responses(
        (status = 201, description = "The new user", body = User),
        (status = 409, description = "The email is taken", body = ErrorBody),
    ),
)]
pub async fn create(
    TenantAdmin(who): TenantAdmin,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
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
            Json(User {
                id,
                tenant_id: None,
                email,
                role: role.as_str().to_owned(),
                display_name: body.display_name,
                created_at: chrono::Utc::now(),
                last_login_at: None,
            }),
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
    Ok((StatusCode::CREATED, Json(user)))
}

/// List the acting tenant's users. Tenant admins.
#[utoipa::path(
    get, path = "/users", tag = "users",
    responses((status = 200, description = "Every user of the tenant", body = Vec<User>)),
)]
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
