//! The demo tenant that `switchyard serve --sandbox` sets up, so a fresh local run answers a
//! simulated WhatsApp, Telnyx, Twilio or Gmail message out of the box: a WhatsApp number, an
//! SMS channel with a Telnyx number and a legacy Twilio number, a voice channel with a Call
//! Control connection and a tool secret for the assistant's tools, and a Gmail mailbox at the
//! fake Google (`demo/mailbox.rs`).

pub mod mailbox;

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::PgPool;
use switchyard_shared::db::tenants::{self, NewTenant};
use switchyard_shared::db::{TenantTx, channel_configs};
use switchyard_shared::domain::{Channel, PhoneNumberId, TenantId, TenantSlug, WabaId};
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::{self, WhatsAppChannelInput, channel_secrets_context};

/// The sample fixtures' business number and WABA.
pub const DEMO_PHONE_NUMBER_ID: &str = "100000000000001";
pub const DEMO_WABA_ID: &str = "200000000000002";
pub const DEMO_SLUG: &str = "demo";
/// The demo tenant's Telnyx SMS number (the Telnyx fixtures' `to`).
pub const DEMO_TELNYX_NUMBER: &str = "+15550003333";
/// Its legacy Twilio number, and the auth token that signs Twilio's webhooks for it.
pub const DEMO_TWILIO_NUMBER: &str = "+15550004444";
pub const DEMO_TWILIO_AUTH_TOKEN: &str = "sandbox-twilio-auth-token";
/// Its Call Control connection (the Telnyx fixtures' `connection_id`).
pub const DEMO_TELNYX_CONNECTION: &str = "7000000000000000001";
/// What its voice assistant presents to `/tools/demo/…`.
pub const DEMO_TOOL_SECRET: &str = "sandbox-tool-secret";
/// Its Gmail mailbox at the fake Google.
pub const DEMO_MAILBOX: &str = "inbox@demo-dental.example";

/// Create the demo tenant and its WhatsApp config if missing; returns its id.
pub async fn ensure_demo_tenant(
    pool: &PgPool,
    secrets_box: &SecretBox,
) -> anyhow::Result<TenantId> {
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
        secrets_box,
        tenant,
        &WhatsAppChannelInput {
            phone_number_id: PhoneNumberId::parse(DEMO_PHONE_NUMBER_ID)?,
            waba_id: WabaId::parse(DEMO_WABA_ID)?,
            display_phone_number: Some("+1 555-000-2222".into()),
            access_token: SecretString::new("sandbox-access-token-0001"),
            app_secret: None,
            is_active: true,
            messages_per_second: None,
        },
    )
    .await?;
    let mut tx = TenantTx::begin(pool, tenant).await?;
    for (channel, settings, secrets, routing_keys) in [
        (
            Channel::Sms,
            json!({
                "telnyx_phone_number": DEMO_TELNYX_NUMBER,
                "twilio_phone_number": DEMO_TWILIO_NUMBER,
            }),
            vec![
                ("telnyx_api_key", "sandbox-telnyx-api-key"),
                ("twilio_auth_token", DEMO_TWILIO_AUTH_TOKEN),
            ],
            vec![
                format!("phone:{DEMO_TELNYX_NUMBER}"),
                format!("phone:{DEMO_TWILIO_NUMBER}"),
            ],
        ),
        (
            Channel::Voice,
            json!({ "telnyx_connection_id": DEMO_TELNYX_CONNECTION }),
            vec![("tool_secret", DEMO_TOOL_SECRET)],
            vec![format!("telnyx-connection:{DEMO_TELNYX_CONNECTION}")],
        ),
    ] {
        let secrets: BTreeMap<String, SecretString> = secrets
            .into_iter()
            .map(|(k, v)| (k.to_owned(), SecretString::new(v)))
            .collect();
        let sealed = secrets_box.seal_map(&secrets, &channel_secrets_context(channel, tenant))?;
        channel_configs::upsert(&mut tx, channel, &settings, &sealed, &routing_keys, true).await?;
    }
    tx.commit().await?;
    Ok(tenant)
}
