//! The demo tenant that `switchyard serve --sandbox` sets up, so a fresh local run answers a
//! simulated WhatsApp message out of the box.

use sqlx::PgPool;
use switchyard_shared::db::tenants::{self, NewTenant};
use switchyard_shared::domain::{PhoneNumberId, TenantId, TenantSlug, WabaId};
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::{self, WhatsAppChannelInput};

/// The sample fixtures' business number and WABA.
pub const DEMO_PHONE_NUMBER_ID: &str = "100000000000001";
pub const DEMO_WABA_ID: &str = "200000000000002";
pub const DEMO_SLUG: &str = "demo";

/// Create the demo tenant and its WhatsApp config if missing; returns its id.
pub async fn ensure_demo_tenant(pool: &PgPool, secrets: &SecretBox) -> anyhow::Result<TenantId> {
    let slug = TenantSlug::parse(DEMO_SLUG)?;
    let tenant = match tenants::id_by_slug(pool, &slug).await? {
        Some(id) => id,
        None => {
            tenancy::create_tenant(
                pool,
                &NewTenant {
                    slug,
                    name: "Demo Dental".into(),
                    welcome_text: Some(
                        "Hi! Thanks for writing to Demo Dental. We'll get back to you shortly."
                            .into(),
                    ),
                    external_org_id: None,
                },
            )
            .await?
            .id
        }
    };
    tenancy::put_whatsapp_channel(
        pool,
        secrets,
        tenant,
        &WhatsAppChannelInput {
            phone_number_id: PhoneNumberId::parse(DEMO_PHONE_NUMBER_ID)?,
            waba_id: WabaId::parse(DEMO_WABA_ID)?,
            display_phone_number: Some("+1 555-000-2222".into()),
            access_token: SecretString::new("sandbox-access-token-0001"),
            app_secret: None,
            is_active: true,
        },
    )
    .await?;
    Ok(tenant)
}
