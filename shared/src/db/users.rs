//! `users`: people who log in. Platform admins have no tenant; everyone else has one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::TenantId;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub email: String,
    pub role: String,
    pub display_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    /// `tenant_admin` or `agent`.
    pub role: &'a str,
    pub display_name: Option<&'a str>,
}

/// Create a user of the transaction's tenant. A taken email is a [`DbError::Conflict`].
pub async fn create(tx: &mut TenantTx, new: &NewUser<'_>) -> Result<User, DbError> {
    Ok(sqlx::query_as(
        "INSERT INTO users (id, tenant_id, email, password_hash, role, display_name) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING id, tenant_id, email, role, display_name, created_at, last_login_at",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(new.email)
    .bind(new.password_hash)
    .bind(new.role)
    .bind(new.display_name)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn list(tx: &mut TenantTx) -> Result<Vec<User>, DbError> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, email, role, display_name, created_at, last_login_at \
         FROM users ORDER BY created_at",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Create a platform admin (no tenant).
pub async fn create_platform_admin(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    display_name: Option<&str>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    sqlx::query("SELECT platform_user_create($1, $2, $3, $4)")
        .bind(id)
        .bind(email)
        .bind(password_hash)
        .bind(display_name)
        .execute(pool)
        .await?;
    Ok(id)
}

/// What a login needs to check a password.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LoginRecord {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub role: String,
    pub password_hash: String,
}

pub async fn login_record(pool: &PgPool, email: &str) -> Result<Option<LoginRecord>, DbError> {
    Ok(
        sqlx::query_as("SELECT id, tenant_id, role, password_hash FROM auth_user_by_email($1)")
            .bind(email)
            .fetch_optional(pool)
            .await?,
    )
}

pub async fn record_login(pool: &PgPool, user: Uuid) -> Result<(), DbError> {
    sqlx::query("SELECT auth_record_login($1)")
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

/// The facts every authenticated request checks about its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAuthState {
    pub status: String,
    pub token_generation: i32,
}

pub async fn tenant_auth_state(
    pool: &PgPool,
    tenant: TenantId,
) -> Result<Option<TenantAuthState>, DbError> {
    let row: Option<(String, i32)> =
        sqlx::query_as("SELECT status, token_generation FROM auth_tenant_state($1)")
            .bind(tenant.as_uuid())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(status, token_generation)| TenantAuthState {
        status,
        token_generation,
    }))
}

/// Invalidate every JWT issued for the transaction's tenant.
pub async fn bump_token_generation(tx: &mut TenantTx) -> Result<(), DbError> {
    sqlx::query("UPDATE tenants SET token_generation = token_generation + 1, updated_at = now() WHERE id = $1")
        .bind(tx.tenant().as_uuid())
        .execute(tx.conn())
        .await?;
    Ok(())
}
