//! The run's tenants: each with a WhatsApp number, a Telnyx and a Twilio number, a Gmail
//! mailbox at the fake Google, and a flow that answers every message of the run, so each
//! stored message should cause exactly one reply.

use sqlx::PgPool;
use switchyard::demo::{self, SandboxTenant};
use switchyard::sandbox::google::FakeGoogle;
use switchyard_shared::domain::TenantId;
use switchyard_shared::secrets::SecretBox;

/// The word every message of the run carries, and the flow's answer to it.
pub const KEYWORD: &str = "chaos";
pub const ANSWER: &str = "Got it, thanks.";

/// What the traffic needs to address one tenant.
#[derive(Debug, Clone)]
pub struct ChaosTenant {
    pub index: usize,
    pub id: TenantId,
    pub phone_number_id: String,
    pub waba_id: String,
    pub telnyx_number: String,
    pub twilio_number: String,
    pub twilio_auth_token: String,
    pub mailbox: String,
}

impl ChaosTenant {
    /// Tenant `index`'s addresses; `id` is set once it exists.
    fn numbered(index: usize, id: TenantId) -> Self {
        Self {
            index,
            id,
            phone_number_id: format!("1090000001{index:05}"),
            waba_id: format!("2090000001{index:05}"),
            telnyx_number: format!("+1555710{index:04}"),
            twilio_number: format!("+1555720{index:04}"),
            twilio_auth_token: format!("chaos-twilio-token-{index}"),
            mailbox: format!("inbox@chaos-{index}.example"),
        }
    }
}

/// Create `count` tenants with every channel and the answering flow.
pub async fn create(
    pool: &PgPool,
    secrets: &SecretBox,
    google: &FakeGoogle,
    count: usize,
) -> anyhow::Result<Vec<ChaosTenant>> {
    let mut tenants = Vec::with_capacity(count);
    for index in 0..count {
        let mut tenant = ChaosTenant::numbered(index, TenantId::new());
        let slug = format!("chaos-{index}");
        let name = format!("Chaos Shop {index}");
        let connection = format!("7000000001{index:05}");
        let spec = SandboxTenant {
            slug: &slug,
            name: &name,
            welcome_text: None,
            phone_number_id: &tenant.phone_number_id,
            waba_id: &tenant.waba_id,
            display_phone_number: None,
            whatsapp_access_token: "chaos-whatsapp-token",
            telnyx_number: &tenant.telnyx_number,
            twilio_number: &tenant.twilio_number,
            twilio_auth_token: &tenant.twilio_auth_token,
            telnyx_connection: &connection,
            tool_secret: "chaos-tool-secret",
        };
        // The database gives the id.
        tenant.id = demo::ensure_tenant(pool, secrets, &spec).await?;
        google.add_mailbox(&tenant.mailbox);
        demo::mailbox::connect_mailbox(pool, secrets, tenant.id, google, &tenant.mailbox).await?;
        demo::add_keyword_flow(pool, tenant.id, KEYWORD, ANSWER).await?;
        tenants.push(tenant);
    }
    Ok(tenants)
}
