//! `phone_number_id` → tenant, with the tenant's own Meta app secret when it has one.

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use switchyard_shared::db::whatsapp_channels::{self, WhatsAppRoute};
use switchyard_shared::db::{DbError, TenantTx};
use switchyard_shared::domain::{PhoneNumberId, TenantId};
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::whatsapp_app_secret_context;

use super::cache::{Entry, RouteCache};

/// A resolved route. `app_secret` is the tenant's own Meta app secret, opened, if configured.
#[derive(Debug, Clone)]
pub struct WhatsAppTenant {
    pub route: WhatsAppRoute,
    pub app_secret: Option<SecretString>,
}

impl WhatsAppTenant {
    pub fn tenant_id(&self) -> TenantId {
        self.route.tenant_id
    }
}

#[derive(Clone)]
pub struct WhatsAppRoutes {
    cache: RouteCache<WhatsAppTenant>,
    pool: PgPool,
    secrets: Arc<SecretBox>,
}

impl WhatsAppRoutes {
    pub fn new(pool: PgPool, secrets: Arc<SecretBox>, ttl: Duration, capacity: u64) -> Self {
        Self {
            cache: RouteCache::new(ttl, capacity),
            pool,
            secrets,
        }
    }

    /// The tenant that owns `phone_number_id`, or `None` when no tenant does.
    pub async fn resolve(
        &self,
        phone_number_id: &PhoneNumberId,
    ) -> Result<Entry<WhatsAppTenant>, Arc<DbError>> {
        self.cache
            .resolve(phone_number_id.as_str(), self.load(phone_number_id))
            .await
    }

    /// Forget a key after its configuration changed.
    pub async fn invalidate(&self, phone_number_id: &str) {
        self.cache.invalidate(phone_number_id).await;
    }

    /// Forget everything (after missed notifications).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    async fn load(
        &self,
        phone_number_id: &PhoneNumberId,
    ) -> Result<Entry<WhatsAppTenant>, DbError> {
        let Some(route) = whatsapp_channels::route(&self.pool, phone_number_id).await? else {
            return Ok(None);
        };
        let app_secret = if route.has_app_secret {
            let mut tx = TenantTx::begin(&self.pool, route.tenant_id).await?;
            let row = whatsapp_channels::get(&mut tx).await?;
            tx.commit().await?;
            let sealed = row.and_then(|r| r.app_secret_enc);
            match sealed {
                Some(sealed) => Some(
                    self.secrets
                        .open(&sealed, &whatsapp_app_secret_context(route.tenant_id))
                        .map_err(|e| DbError::Corrupt(format!("tenant app secret: {e}")))?,
                ),
                None => None,
            }
        } else {
            None
        };
        Ok(Some(Arc::new(WhatsAppTenant { route, app_secret })))
    }
}
