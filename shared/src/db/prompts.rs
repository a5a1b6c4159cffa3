//! `prompt_sections`: the global prompt bundle and each tenant's own (what they mean and how
//! they merge is in [`crate::prompts`]).
//!
//! A tenant's bundle is read and replaced in its [`TenantTx`]; row-level security lets that
//! transaction read the global rows too, which is how [`effective`] gets both in one query.
//! The global rows belong to no tenant: they are readable without one ([`global`]) and are
//! written only through the SECURITY DEFINER function `platform_prompt_sections_replace`
//! ([`replace_global`]), which the admin API calls for platform admins only — the runtime
//! role itself cannot insert, change or delete a row whose `tenant_id` is NULL.
//!
//! A replace is atomic and serialized per bundle (a transaction-scoped advisory lock), so two
//! concurrent replaces of one bundle end with the later one, never with a mix or a conflict.
//! A section whose content and position did not change keeps its `updated_at`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::prompts::{Bundle, EffectiveSection, Section, SectionKey, merge};

/// A stored section, in its bundle's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StoredSection {
    pub section_key: SectionKey,
    pub content: String,
    /// When the content or the position last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    is_global: bool,
    section_key: String,
    content: String,
    updated_at: DateTime<Utc>,
}

impl Row {
    fn stored(self) -> Result<StoredSection, DbError> {
        Ok(StoredSection {
            section_key: SectionKey::parse(&self.section_key)
                .map_err(|e| DbError::Corrupt(e.to_string()))?,
            content: self.content,
            updated_at: self.updated_at,
        })
    }
}

impl From<StoredSection> for Section {
    fn from(s: StoredSection) -> Self {
        Section {
            key: s.section_key,
            content: s.content,
        }
    }
}

/// The bundle's rows as the arrays the replace statements take: fresh ids, keys, contents.
fn columns(bundle: &Bundle) -> (Vec<Uuid>, Vec<&str>, Vec<&str>) {
    let sections = bundle.sections();
    (
        sections.iter().map(|_| Uuid::now_v7()).collect(),
        sections.iter().map(|s| s.key.as_str()).collect(),
        sections.iter().map(|s| s.content.as_str()).collect(),
    )
}

/// The global bundle, in order.
pub async fn global(pool: &PgPool) -> Result<Vec<StoredSection>, DbError> {
    sqlx::query_as::<_, Row>(
        "SELECT true AS is_global, section_key, content, updated_at FROM prompt_sections \
         WHERE tenant_id IS NULL ORDER BY position, section_key",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Row::stored)
    .collect()
}

/// Replace the global bundle with `bundle`, and return it as stored. Platform admins only:
/// the caller checks the role.
pub async fn replace_global(pool: &PgPool, bundle: &Bundle) -> Result<Vec<StoredSection>, DbError> {
    let (ids, keys, contents) = columns(bundle);
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT platform_prompt_sections_replace($1, $2, $3)")
        .bind(&ids)
        .bind(&keys)
        .bind(&contents)
        .execute(&mut *tx)
        .await?;
    let stored = sqlx::query_as::<_, Row>(
        "SELECT true AS is_global, section_key, content, updated_at FROM prompt_sections \
         WHERE tenant_id IS NULL ORDER BY position, section_key",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    stored.into_iter().map(Row::stored).collect()
}

/// The transaction's tenant's own bundle, in order (without the global sections).
pub async fn own(tx: &mut TenantTx) -> Result<Vec<StoredSection>, DbError> {
    sqlx::query_as::<_, Row>(
        "SELECT false AS is_global, section_key, content, updated_at FROM prompt_sections \
         WHERE tenant_id = $1 ORDER BY position, section_key",
    )
    .bind(tx.tenant().as_uuid())
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(Row::stored)
    .collect()
}

/// Replace the tenant's own bundle with `bundle`, and return it as stored. An empty bundle
/// removes every override. A tenant that does not exist is a [`DbError::MissingReference`]
/// (once the bundle has a section).
pub async fn replace_own(
    tx: &mut TenantTx,
    bundle: &Bundle,
) -> Result<Vec<StoredSection>, DbError> {
    let tenant = tx.tenant().as_uuid();
    let (ids, keys, contents) = columns(bundle);
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('prompt_sections:' || $1::text, 0))",
    )
    .bind(tenant)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "DELETE FROM prompt_sections WHERE tenant_id = $1 AND NOT (section_key = ANY ($2))",
    )
    .bind(tenant)
    .bind(&keys)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO prompt_sections (id, tenant_id, section_key, position, content) \
         SELECT i.id, $1, i.section_key, i.position, i.content \
         FROM unnest($2::uuid[], $3::text[], $4::text[]) \
              WITH ORDINALITY AS i(id, section_key, content, position) \
         ON CONFLICT (tenant_id, section_key) WHERE tenant_id IS NOT NULL DO UPDATE SET \
           position = EXCLUDED.position, \
           content = EXCLUDED.content, \
           updated_at = CASE \
             WHEN (prompt_sections.content, prompt_sections.position) \
                  IS NOT DISTINCT FROM (EXCLUDED.content, EXCLUDED.position) \
             THEN prompt_sections.updated_at ELSE now() END",
    )
    .bind(tenant)
    .bind(&ids)
    .bind(&keys)
    .bind(&contents)
    .execute(tx.conn())
    .await?;
    own(tx).await
}

/// What the LLM gets for the transaction's tenant: the global and the tenant's bundle,
/// read together and [`merge`]d.
pub async fn effective(tx: &mut TenantTx) -> Result<Vec<EffectiveSection>, DbError> {
    let rows = sqlx::query_as::<_, Row>(
        "SELECT tenant_id IS NULL AS is_global, section_key, content, updated_at \
         FROM prompt_sections WHERE tenant_id IS NULL OR tenant_id = $1 \
         ORDER BY position, section_key",
    )
    .bind(tx.tenant().as_uuid())
    .fetch_all(tx.conn())
    .await?;
    let mut global = Vec::new();
    let mut own = Vec::new();
    for row in rows {
        let is_global = row.is_global;
        let section = Section::from(row.stored()?);
        if is_global {
            global.push(section);
        } else {
            own.push(section);
        }
    }
    Ok(merge(&global, &own))
}
