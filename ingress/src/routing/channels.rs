//! SMS and voice routing keys → tenant, with the keys that verify that tenant's webhooks.
//!
//! The `sms`, `voice` and `email` channel configs claim routing keys (`phone:+15550003333`,
//! `telnyx-connection:1494404757140276705`, …; see `admin/channel_fields.rs`). A key belongs
//! to one tenant, possibly for several of its channels (one number for SMS and voice). A
//! resolved route carries which of the tenant's channels claim the key and whether each is
//! active, plus what verifies the tenant's own webhooks: its Telnyx public key (a Telnyx
//! account of its own) and its Twilio auth token (opened from the sealed config).

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use switchyard_shared::db::channel_configs::{self, ChannelConfigRow};
use switchyard_shared::db::{DbError, TenantTx};
use switchyard_shared::domain::{Channel, E164Number, TenantId};
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::channel_secrets_context;

use super::cache::{Entry, RouteCache};
use crate::verify::telnyx::TelnyxPublicKey;

/// The routing key of one of our phone numbers, as the SMS and voice configs claim it:
/// `phone:` and the number in E.164 (or as given, when it is not a number).
pub fn phone_key(number: &str) -> String {
    let normalized = E164Number::parse(number)
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|_| number.to_owned());
    format!("phone:{normalized}")
}

/// The tenant behind a routing key.
#[derive(Debug, Clone)]
pub struct ChannelTenant {
    pub tenant_id: TenantId,
    /// The tenant's channels that claim the key, and whether each is active.
    pub channels: Vec<(Channel, bool)>,
    /// `telnyx_public_key` of the tenant's SMS config, when it has a Telnyx account of its own.
    pub telnyx_public_key: Option<TelnyxPublicKey>,
    /// `twilio_auth_token` of the tenant's SMS config.
    pub twilio_auth_token: Option<SecretString>,
    /// The tenant's own numbers (its SMS and voice configs'), E.164: on a call event that does
    /// not say which way the call goes, the other party is the customer.
    pub numbers: Vec<String>,
}

impl ChannelTenant {
    /// Why this tenant's `channel` cannot take an event found under the key, if it cannot:
    /// the channel does not claim the key, or it is inactive.
    pub fn refusal(&self, channel: Channel) -> Option<&'static str> {
        match self.channels.iter().find(|(c, _)| *c == channel) {
            None => Some("the tenant has no channel for this event on this key"),
            Some((_, false)) => Some("the tenant's channel is inactive"),
            Some((_, true)) => None,
        }
    }
}

#[derive(Clone)]
pub struct ChannelRoutes {
    cache: RouteCache<ChannelTenant>,
    pool: PgPool,
    secrets: Arc<SecretBox>,
}

impl ChannelRoutes {
    pub fn new(pool: PgPool, secrets: Arc<SecretBox>, ttl: Duration, capacity: u64) -> Self {
        Self {
            cache: RouteCache::new(ttl, capacity),
            pool,
            secrets,
        }
    }

    /// The tenant that claims `key` (e.g. `phone:+15550003333`), or `None`.
    pub async fn resolve(&self, key: &str) -> Result<Entry<ChannelTenant>, Arc<DbError>> {
        self.cache.resolve(key, self.load(key)).await
    }

    /// Forget a key after its configuration changed.
    pub async fn invalidate(&self, key: &str) {
        self.cache.invalidate(key).await;
    }

    /// Forget everything (after missed notifications).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    async fn load(&self, key: &str) -> Result<Entry<ChannelTenant>, DbError> {
        let routes = channel_configs::route(&self.pool, key).await?;
        let Some(first) = routes.first() else {
            return Ok(None);
        };
        let tenant_id = TenantId::from_uuid(first.tenant_id);
        let channels = routes
            .iter()
            .filter(|r| r.tenant_id == first.tenant_id)
            .filter_map(|r| Channel::parse(&r.channel).ok().map(|c| (c, r.is_active)))
            .collect();
        let mut tx = TenantTx::begin(&self.pool, tenant_id).await?;
        let sms = channel_configs::get(&mut tx, Channel::Sms).await?;
        let voice = channel_configs::get(&mut tx, Channel::Voice).await?;
        tx.commit().await?;
        let numbers = [
            (&sms, "telnyx_phone_number"),
            (&sms, "twilio_phone_number"),
            (&voice, "phone_number"),
        ]
        .into_iter()
        .filter_map(|(config, field)| config.as_ref()?.settings.get(field)?.as_str())
        .map(str::to_owned)
        .collect();
        let (telnyx_public_key, twilio_auth_token) = match sms {
            Some(sms) => self.verification_keys(tenant_id, &sms)?,
            None => (None, None),
        };
        Ok(Some(Arc::new(ChannelTenant {
            tenant_id,
            channels,
            telnyx_public_key,
            twilio_auth_token,
            numbers,
        })))
    }

    fn verification_keys(
        &self,
        tenant: TenantId,
        sms: &ChannelConfigRow,
    ) -> Result<(Option<TelnyxPublicKey>, Option<SecretString>), DbError> {
        let public_key = match sms
            .settings
            .get("telnyx_public_key")
            .and_then(|v| v.as_str())
        {
            Some(text) => match TelnyxPublicKey::parse(text) {
                Ok(key) => Some(key),
                Err(e) => {
                    // Stored as the tenant typed it; until it is fixed, only the platform key
                    // verifies this tenant's webhooks.
                    tracing::warn!(tenant_id = %tenant, error = %e, "tenant's Telnyx public key is unusable");
                    None
                }
            },
            None => None,
        };
        let auth_token = match sms
            .secrets
            .get("twilio_auth_token")
            .and_then(|v| v.as_str())
        {
            Some(sealed) => Some(
                self.secrets
                    .open(
                        sealed,
                        &format!(
                            "{}:twilio_auth_token",
                            channel_secrets_context(Channel::Sms, tenant)
                        ),
                    )
                    .map_err(|e| DbError::Corrupt(format!("tenant Twilio auth token: {e}")))?,
            ),
            None => None,
        };
        Ok((public_key, auth_token))
    }
}
