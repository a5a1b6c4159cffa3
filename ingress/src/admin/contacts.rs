//! `/api/v1/contacts`: the acting tenant's contacts. A phone number or email belongs to at
//! most one contact of a tenant (409).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use switchyard_shared::db::TenantTx;
use switchyard_shared::db::contacts::{self, Contact, ContactFields};
use switchyard_shared::domain::E164Number;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::pagination::{self, Page};
use super::validate::{self, Fields};
use super::{JsonBody, QueryParams, audit};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::startup::IngressState;

/// A contact's fields. Creating needs a phone number or an email; updating changes only the
/// fields that are present.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    /// E.164 (`+15550001111`); spaces, dashes, dots and parentheses are ignored.
    #[schema(example = "+15550001111", pattern = r"^\+[1-9][0-9]{6,14}$")]
    pub phone: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub display_name: Option<String>,
}

impl ContactBody {
    fn parse(self, creating: bool) -> Result<ContactFields, ApiError> {
        let mut fields = Fields::default();
        let phone = self
            .phone
            .as_deref()
            .and_then(|p| fields.check("phone", E164Number::parse(p).map_err(|e| e.reason)))
            .map(|p| p.as_str().to_owned());
        let email = self
            .email
            .as_deref()
            .and_then(|e| fields.check("email", validate::email(e)));
        if let Some(name) = &self.display_name
            && (name.trim().is_empty() || name.chars().count() > 200)
        {
            fields.check::<(), _>("display_name", Err("must be 1-200 characters"));
        }
        if creating && self.phone.is_none() && self.email.is_none() {
            fields.check::<(), _>("phone", Err("a contact needs a phone number or an email"));
        }
        fields.finish()?;
        Ok(ContactFields {
            phone,
            email,
            display_name: self.display_name.map(|n| n.trim().to_owned()),
        })
    }
}

fn conflict(e: switchyard_shared::db::DbError) -> ApiError {
    match e {
        switchyard_shared::db::DbError::Conflict { constraint } => ApiError::Conflict(format!(
            "another contact has this {}",
            if constraint.contains("email") {
                "email"
            } else {
                "phone number"
            }
        )),
        other => other.into(),
    }
}

/// Create a contact.
#[utoipa::path(
    post, path = "/contacts", tag = "contacts",
    request_body = ContactBody,
    responses(
        (status = 201, description = "The new contact", body = Contact),
        (status = 409, description = "Another contact has this phone number or email", body = ErrorBody),
    ),
)]
pub async fn create(
    who: Principal,
    State(state): State<IngressState>,
    JsonBody(body): JsonBody<ContactBody>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    who.require(Role::Agent)?;
    let fields = body.parse(true)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let contact = contacts::create(&mut tx, &fields).await.map_err(conflict)?;
    tx.commit().await?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "contact.create",
        Some(format!("contact:{}", contact.id)),
        serde_json::json!({}),
    )
    .await;
    Ok((StatusCode::CREATED, Json(contact)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Case-insensitive substring of phone, email or name.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Page size (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next` of the previous page.
    #[param(value_type = Option<uuid::Uuid>)]
    pub after: Option<String>,
}

/// List and search contacts.
#[utoipa::path(
    get, path = "/contacts", tag = "contacts", params(ListQuery),
    responses((status = 200, description = "A page of contacts", body = Page<Contact>)),
)]
pub async fn list(
    who: Principal,
    State(state): State<IngressState>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Page<Contact>>, ApiError> {
    who.require(Role::Agent)?;
    let mut fields = Fields::default();
    let (limit, after) =
        pagination::parse(&mut fields, query.limit.as_deref(), query.after.as_deref());
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200) {
        fields.check::<(), _>("q", Err("must be at most 200 characters"));
    }
    fields.finish()?;
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let items = contacts::list(&mut tx, search, after, limit).await?;
    tx.commit().await?;
    Ok(Json(Page::new(items, limit, |c| c.id)))
}

/// Read a contact.
#[utoipa::path(
    get, path = "/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path, description = "The contact's id")),
    responses((status = 200, description = "The contact", body = Contact)),
)]
pub async fn read(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<Json<Contact>, ApiError> {
    who.require(Role::Agent)?;
    let id = parse_id(&id)?;
    let mut tx = TenantTx::begin(&state.pool, who.tenant()?).await?;
    let found = contacts::get(&mut tx, id).await?;
    tx.commit().await?;
    found.map(Json).ok_or_else(not_found)
}

/// Change a contact's fields.
#[utoipa::path(
    patch, path = "/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path, description = "The contact's id")),
    request_body = ContactBody,
    responses(
        (status = 200, description = "The updated contact", body = Contact),
        (status = 409, description = "Another contact has this phone number or email", body = ErrorBody),
    ),
)]
pub async fn update(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ContactBody>,
) -> Result<Json<Contact>, ApiError> {
    who.require(Role::Agent)?;
    let id = parse_id(&id)?;
    let fields = body.parse(false)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let updated = contacts::update(&mut tx, id, &fields)
        .await
        .map_err(conflict)?;
    tx.commit().await?;
    let updated = updated.ok_or_else(not_found)?;
    audit::record(
        &state,
        &who,
        Some(tenant),
        "contact.update",
        Some(format!("contact:{id}")),
        serde_json::json!({}),
    )
    .await;
    Ok(Json(updated))
}

/// Delete a contact, with its conversations and messages.
#[utoipa::path(
    delete, path = "/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path, description = "The contact's id")),
    responses((status = 204, description = "Deleted")),
)]
pub async fn delete(
    who: Principal,
    State(state): State<IngressState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::TenantAdmin)?;
    let id = parse_id(&id)?;
    let tenant = who.tenant()?;
    let mut tx = TenantTx::begin(&state.pool, tenant).await?;
    let found = contacts::delete(&mut tx, id).await?;
    tx.commit().await?;
    if !found {
        return Err(not_found());
    }
    audit::record(
        &state,
        &who,
        Some(tenant),
        "contact.delete",
        Some(format!("contact:{id}")),
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

fn not_found() -> ApiError {
    ApiError::NotFound("no such contact".into())
}

/// Ids in paths: anything that is not an id cannot name a row, so it is a 404 too.
pub(crate) fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("no such resource".into()))
}
