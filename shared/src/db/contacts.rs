//! `contacts`: the people a tenant talks to, found by whichever identifier an event carries.

use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::domain::E164Number;

/// The identifiers a WhatsApp event may carry for its sender. Any of them may be absent
/// (username users arrive without a phone number), but not all.
#[derive(Debug, Clone, Default)]
pub struct WhatsAppIdentity {
    /// `wa_id` / `from`: digits, no `+`.
    pub wa_id: Option<String>,
    /// Business-scoped user id (`user_id` / `from_user_id`).
    pub user_id: Option<String>,
    pub display_name: Option<String>,
}

impl WhatsAppIdentity {
    /// E.164 form of the `wa_id`, which is the sender's phone number.
    fn phone(&self) -> Option<String> {
        self.wa_id.as_ref().map(|digits| format!("+{digits}"))
    }
}

/// The contact behind a WhatsApp identity, created if new. Returns its id and whether it was
/// created by this call (the caller's cue for a first-contact welcome).
///
/// Matching prefers the BSUID, then the `wa_id`, then the phone number; identifiers learnt
/// later are filled in, never overwritten.
pub async fn upsert_whatsapp(
    tx: &mut TenantTx,
    who: &WhatsAppIdentity,
) -> Result<(Uuid, bool), DbError> {
    let tenant = tx.tenant().as_uuid();
    let phone = who.phone();
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM contacts WHERE tenant_id = $1 AND \
           (whatsapp_user_id = $2 OR whatsapp_id = $3 OR phone = $4) \
         ORDER BY (whatsapp_user_id = $2) DESC NULLS LAST, (whatsapp_id = $3) DESC NULLS LAST \
         LIMIT 1",
    )
    .bind(tenant)
    .bind(&who.user_id)
    .bind(&who.wa_id)
    .bind(&phone)
    .fetch_optional(tx.conn())
    .await?;

    if let Some(id) = existing {
        sqlx::query(
            "UPDATE contacts SET \
               whatsapp_user_id = coalesce(whatsapp_user_id, $2), \
               whatsapp_id = coalesce(whatsapp_id, $3), \
               phone = coalesce(phone, $4), \
               display_name = coalesce($5, display_name), \
               updated_at = now() \
             WHERE id = $1",
        )
        .bind(id)
        .bind(&who.user_id)
        .bind(&who.wa_id)
        .bind(&phone)
        .bind(&who.display_name)
        .execute(tx.conn())
        .await?;
        return Ok((id, false));
    }

    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, whatsapp_user_id, whatsapp_id, phone, display_name) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(tenant)
    .bind(&who.user_id)
    .bind(&who.wa_id)
    .bind(&phone)
    .bind(&who.display_name)
    .execute(tx.conn())
    .await?;
    Ok((id, true))
}

/// The contact with phone number `phone` (E.164), created if new — SMS and voice know their
/// customers by number only. Returns its id and whether this call created it (the caller's
/// cue for a first-contact welcome).
pub async fn upsert_phone(tx: &mut TenantTx, phone: &E164Number) -> Result<(Uuid, bool), DbError> {
    let (id, created): (Uuid, bool) = sqlx::query_as(
        "INSERT INTO contacts (id, tenant_id, phone) VALUES ($1, $2, $3) \
         ON CONFLICT (tenant_id, phone) WHERE phone IS NOT NULL DO UPDATE SET updated_at = now() \
         RETURNING id, (xmax = 0)",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(phone.as_str())
    .fetch_one(tx.conn())
    .await?;
    Ok((id, created))
}

/// The contact with email address `email` (compared as given: the caller lowercases it),
/// created if new with `display_name`, which also fills a name the contact lacks. Returns its
/// id and whether this call created it.
pub async fn upsert_email(
    tx: &mut TenantTx,
    email: &str,
    display_name: Option<&str>,
) -> Result<(Uuid, bool), DbError> {
    let (id, created): (Uuid, bool) = sqlx::query_as(
        "INSERT INTO contacts (id, tenant_id, email, display_name) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, email) WHERE email IS NOT NULL DO UPDATE SET \
           display_name = coalesce(contacts.display_name, EXCLUDED.display_name), \
           updated_at = now() \
         RETURNING id, (xmax = 0)",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(email)
    .bind(display_name)
    .fetch_one(tx.conn())
    .await?;
    Ok((id, created))
}

/// A contact as the API shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub phone: Option<String>,
    pub whatsapp_id: Option<String>,
    pub whatsapp_user_id: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Fields an admin sets; `None` leaves a field as it is (on update) or empty (on create).
#[derive(Debug, Clone, Default)]
pub struct ContactFields {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
}

macro_rules! contact_columns {
    () => {
        "id, phone, whatsapp_id, whatsapp_user_id, email, display_name, created_at, updated_at"
    };
}

/// Create a contact; a phone or email another contact of the tenant has is a
/// [`DbError::Conflict`].
pub async fn create(tx: &mut TenantTx, fields: &ContactFields) -> Result<Contact, DbError> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO contacts (id, tenant_id, phone, email, display_name) \
         VALUES ($1, $2, $3, $4, $5) RETURNING ",
        contact_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(tx.tenant().as_uuid())
    .bind(&fields.phone)
    .bind(&fields.email)
    .bind(&fields.display_name)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> Result<Option<Contact>, DbError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn update(
    tx: &mut TenantTx,
    id: Uuid,
    fields: &ContactFields,
) -> Result<Option<Contact>, DbError> {
    Ok(sqlx::query_as(concat!(
        "UPDATE contacts SET phone = coalesce($2, phone), email = coalesce($3, email), \
           display_name = coalesce($4, display_name), updated_at = now() \
         WHERE id = $1 RETURNING ",
        contact_columns!()
    ))
    .bind(id)
    .bind(&fields.phone)
    .bind(&fields.email)
    .bind(&fields.display_name)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn delete(tx: &mut TenantTx, id: Uuid) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM contacts WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A page of contacts by id after `after`, optionally matching `search` in phone, email or
/// name (case-insensitive substring).
pub async fn list(
    tx: &mut TenantTx,
    search: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Contact>, DbError> {
    let pattern = search.map(super::contains_pattern);
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE ($1::uuid IS NULL OR id > $1) \
           AND ($2::text IS NULL OR phone ILIKE $2 OR email ILIKE $2 OR display_name ILIKE $2 \
                OR whatsapp_id ILIKE $2) \
         ORDER BY id LIMIT $3"
    ))
    .bind(after)
    .bind(pattern)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
