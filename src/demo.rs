//! The demo tenant that `switchyard serve --sandbox` sets up, so a fresh local run answers a
//! simulated WhatsApp, Telnyx, Twilio or Gmail message out of the box: a WhatsApp number, an
//! SMS channel with a Telnyx number and a legacy Twilio number, a voice channel with a Call
//! Control connection and a tool secret for the assistant's tools, and a Gmail mailbox at the
//! fake Google (`demo/mailbox.rs`).

pub mod mailbox;

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::json;
use sqlx::PgPool;
use switchyard_shared::db::flows::{self, FlowSettings};
use switchyard_shared::db::tenants::{self, NewTenant};
use switchyard_shared::db::{TenantTx, channel_configs, modules, tenant_modules};
use switchyard_shared::domain::{Channel, PhoneNumberId, TenantId, TenantSlug, WabaId};
use switchyard_shared::flows::{FlowDefinition, Trigger, TriggerDefinition};
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
/// A tenant of the local sandbox with every channel, each pointing at the fake providers:
/// the demo tenant is one, and the chaos run (`src/bin/chaos`) sets up several.
#[derive(Debug, Clone)]
pub struct SandboxTenant<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub welcome_text: Option<&'a str>,
    pub phone_number_id: &'a str,
    pub waba_id: &'a str,
    pub display_phone_number: Option<&'a str>,
    pub whatsapp_access_token: &'a str,
    pub telnyx_number: &'a str,
    pub twilio_number: &'a str,
    pub twilio_auth_token: &'a str,
    pub telnyx_connection: &'a str,
    pub tool_secret: &'a str,
}

/// The demo tenant `serve --sandbox` sets up.
pub const DEMO_TENANT: SandboxTenant<'static> = SandboxTenant {
    slug: DEMO_SLUG,
    name: "Demo Dental",
    welcome_text: Some("Hi! Thanks for writing to Demo Dental. We'll get back to you shortly."),
    phone_number_id: DEMO_PHONE_NUMBER_ID,
    waba_id: DEMO_WABA_ID,
    display_phone_number: Some("+1 555-000-2222"),
    whatsapp_access_token: "sandbox-access-token-0001",
    telnyx_number: DEMO_TELNYX_NUMBER,
    twilio_number: DEMO_TWILIO_NUMBER,
    twilio_auth_token: DEMO_TWILIO_AUTH_TOKEN,
    telnyx_connection: DEMO_TELNYX_CONNECTION,
    tool_secret: DEMO_TOOL_SECRET,
};

/// Create the demo tenant, or bring its channels back to the sandbox's; its id.
pub async fn ensure_demo_tenant(
    pool: &PgPool,
    secrets_box: &SecretBox,
) -> anyhow::Result<TenantId> {
    ensure_tenant(pool, secrets_box, &DEMO_TENANT).await
}

/// Create `spec`'s tenant unless its slug exists, then (re)write its channels; its id.
pub async fn ensure_tenant(
    pool: &PgPool,
    secrets_box: &SecretBox,
    spec: &SandboxTenant<'_>,
) -> anyhow::Result<TenantId> {
    let slug = TenantSlug::parse(spec.slug)?;
    let tenant = match tenants::id_by_slug(pool, &slug).await? {
        Some(id) => id,
        None => {
            tenancy::create_tenant(
                pool,
                &NewTenant {
                    slug,
                    name: spec.name.into(),
                    welcome_text: spec.welcome_text.map(str::to_owned),
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
            phone_number_id: PhoneNumberId::parse(spec.phone_number_id)?,
            waba_id: WabaId::parse(spec.waba_id)?,
            display_phone_number: spec.display_phone_number.map(str::to_owned),
            access_token: SecretString::new(spec.whatsapp_access_token),
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
                "telnyx_phone_number": spec.telnyx_number,
                "twilio_phone_number": spec.twilio_number,
            }),
            vec![
                ("telnyx_api_key", "sandbox-telnyx-api-key"),
                ("twilio_auth_token", spec.twilio_auth_token),
            ],
            vec![
                format!("phone:{}", spec.telnyx_number),
                format!("phone:{}", spec.twilio_number),
            ],
        ),
        (
            Channel::Voice,
            json!({ "telnyx_connection_id": spec.telnyx_connection }),
            vec![("tool_secret", spec.tool_secret)],
            vec![format!("telnyx-connection:{}", spec.telnyx_connection)],
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

/// Give `tenant` a flow in the `faq` module that answers any message with `keyword` in it with
/// `answer`: one reply per message, whatever came before (the benchmarks and the chaos run
/// count replies against messages).
pub async fn add_keyword_flow(
    pool: &PgPool,
    tenant: TenantId,
    keyword: &str,
    answer: &str,
) -> anyhow::Result<()> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let module = modules::by_key(&mut tx, "faq")
        .await?
        .context("the faq module is missing: is the database migrated?")?;
    let enabled = tenant_modules::enable(&mut tx, module.id, true).await?;
    let definition: FlowDefinition = serde_json::from_value(json!({ "steps": [
        {"id": "answer", "kind": "text", "body": answer, "next": "done"},
        {"id": "done", "kind": "end"}
    ]}))?;
    let trigger: TriggerDefinition =
        serde_json::from_value(json!({"kind": "keywords", "keywords": [keyword]}))?;
    let settings = FlowSettings {
        name: format!("Answer \"{keyword}\""),
        trigger: Trigger::parse(&trigger).map_err(|e| anyhow::anyhow!("{e}"))?,
        is_active: true,
    };
    let flow = definition.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    flows::create(&mut tx, enabled.id, &settings, &flow).await?;
    tx.commit().await?;
    Ok(())
}
