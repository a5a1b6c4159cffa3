//! `switchyard`: the command line. It only reads configuration and calls into the library;
//! see `switchyard --help`.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchyard::app::{Application, Role};
use switchyard::demo;
use switchyard::sandbox::gemini::{FAKE_GEMINI_API_KEY, FakeGemini};
use switchyard::sandbox::google::{FakeGoogle, InboundMail};
use switchyard::sandbox::google_signing::{SANDBOX_PUSH_AUDIENCE, SANDBOX_PUSH_SERVICE_ACCOUNT};
use switchyard::sandbox::signing::TelnyxSigner;
use switchyard::sandbox::telnyx::FakeTelnyx;
use switchyard::sandbox::{FakeGraph, google_settings, simulate};
use switchyard::settings::Settings;
use switchyard_shared::config::{DatabaseConfig, SecretsConfig};
use switchyard_shared::db::tenants::NewTenant;
use switchyard_shared::domain::{PhoneNumberId, TenantId, TenantSlug, WabaId};
use switchyard_shared::payloads::pubsub::GmailNotification;
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::shutdown::Shutdown;
use switchyard_shared::tenancy::{self, WhatsAppChannelInput};

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Multi-tenant webhook router and message-processing worker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply database migrations (connects as DATABASE_OWNER_URL).
    Migrate {
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Run the ingress, the worker, or both.
    Serve {
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
        /// Also run the fake provider APIs, point the worker at them, and set up the demo
        /// tenant: a complete offline system.
        #[arg(long)]
        sandbox: bool,
        #[arg(long, env = "SANDBOX_BIND", default_value = "127.0.0.1:9090")]
        sandbox_bind: SocketAddr,
        #[command(flatten)]
        settings: Box<Settings>,
    },
    /// Manage tenants from the shell.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Dead letters, bulk replays and unroutable events, through the admin API
    /// (SWITCHYARD_API_URL, SWITCHYARD_API_TOKEN).
    Dlq(switchyard::dlq::DlqArgs),
    /// Create a platform admin user (who logs in at POST /api/v1/auth/login).
    CreatePlatformAdmin {
        #[arg(long)]
        email: String,
        /// 12-128 characters; read from the environment so it stays out of shell history.
        #[arg(long, env = "PLATFORM_ADMIN_PASSWORD", hide_env_values = true)]
        password: SecretString,
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Run only the fake provider APIs.
    Sandbox {
        #[arg(long, env = "SANDBOX_BIND", default_value = "127.0.0.1:9090")]
        bind: SocketAddr,
    },
    /// Send a correctly signed sample webhook to an ingress.
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Print a fresh encryption key for ENCRYPTION_KEYS.
    Keygen {
        #[arg(long, default_value = "k1")]
        id: String,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant; prints its id.
    Create {
        #[arg(long)]
        name: String,
        /// Derived from the name when absent.
        #[arg(long)]
        slug: Option<String>,
        /// Text sent to a contact's first WhatsApp message.
        #[arg(long)]
        welcome_text: Option<String>,
        #[command(flatten)]
        database: DatabaseConfig,
    },
    /// Create or replace a tenant's WhatsApp configuration.
    Whatsapp {
        /// Tenant id or slug.
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        phone_number_id: String,
        #[arg(long)]
        waba_id: String,
        #[arg(long)]
        display_phone_number: Option<String>,
        #[arg(long, env = "TENANT_WHATSAPP_ACCESS_TOKEN")]
        access_token: SecretString,
        #[arg(long, env = "TENANT_WHATSAPP_APP_SECRET")]
        app_secret: Option<SecretString>,
        #[command(flatten)]
        database: DatabaseConfig,
        #[command(flatten)]
        secrets: SecretsConfig,
    },
}

#[derive(Subcommand)]
enum SimulateCommand {
    /// An inbound Telnyx SMS, signed with the sandbox's Telnyx key (which `serve --sandbox`
    /// trusts as TELNYX_PUBLIC_KEY when none is set).
    Telnyx {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        ingress: String,
        /// The customer's number, E.164 (another customer than `simulate whatsapp`'s, so each
        /// channel shows its own welcome).
        #[arg(long, default_value = "+15550002001")]
        from: String,
        /// The tenant's Telnyx number.
        #[arg(long, default_value = demo::DEMO_TELNYX_NUMBER)]
        to: String,
        #[arg(long, default_value = "Hi, can I book a cleaning next week?")]
        text: String,
    },
    /// An inbound legacy Twilio SMS, signed with the tenant's auth token.
    Twilio {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        ingress: String,
        /// The base URL Twilio would call, if the ingress has PUBLIC_BASE_URL set.
        #[arg(long, env = "PUBLIC_BASE_URL")]
        public_base_url: Option<String>,
        #[arg(long, default_value = demo::DEMO_TWILIO_AUTH_TOKEN)]
        auth_token: SecretString,
        /// The customer's number, E.164.
        #[arg(long, default_value = "+15550002002")]
        from: String,
        #[arg(long, default_value = demo::DEMO_TWILIO_NUMBER)]
        to: String,
        #[arg(long, default_value = "Do you take walk-ins?")]
        text: String,
    },
    /// An inbound WhatsApp text message, signed with WHATSAPP_APP_SECRET.
    Whatsapp {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        ingress: String,
        #[arg(long, env = "WHATSAPP_APP_SECRET")]
        app_secret: SecretString,
        #[arg(long, default_value = demo::DEMO_PHONE_NUMBER_ID)]
        phone_number_id: String,
        #[arg(long, default_value = demo::DEMO_WABA_ID)]
        waba_id: String,
        /// Sender's phone number, digits only.
        #[arg(long, default_value = "15550001111")]
        from: String,
        #[arg(long, default_value = "Test Customer")]
        name: String,
        #[arg(long, default_value = "Hi, are you open on Saturday?")]
        text: String,
    },
    /// An inbound email: put in the mailbox at the fake Google that `serve --sandbox` runs, then
    /// announced to the ingress by a Pub/Sub push signed with the sandbox's Google key (which
    /// `serve --sandbox` trusts unless GOOGLE_CERTS_URL is set).
    Gmail {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        ingress: String,
        /// The fake Google (SANDBOX_BIND's port + 2).
        #[arg(long, default_value = "http://127.0.0.1:9092")]
        google: String,
        /// The tenant's connected mailbox.
        #[arg(long, default_value = demo::DEMO_MAILBOX)]
        mailbox: String,
        /// The sender, as the `From` header.
        #[arg(long, default_value = "alex.customer@example.org")]
        from: String,
        #[arg(long, default_value = "Appointment request")]
        subject: String,
        #[arg(
            long,
            default_value = "Hi, could I come in for a check-up next Tuesday morning?"
        )]
        text: String,
        /// The Gmail thread to reply in; a new thread when absent.
        #[arg(long)]
        thread_id: Option<String>,
        /// The audience the ingress expects in push tokens.
        #[arg(long, env = "PUBSUB_PUSH_AUDIENCE", default_value = SANDBOX_PUSH_AUDIENCE)]
        audience: String,
        /// The push service account the ingress expects.
        #[arg(
            long,
            env = "PUBSUB_PUSH_SERVICE_ACCOUNT",
            default_value = SANDBOX_PUSH_SERVICE_ACCOUNT
        )]
        service_account: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A missing .env is normal (production); a malformed one is worth stopping for.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => return Err(e).context("reading .env"),
    }
    switchyard_shared::telemetry::init("info,sqlx=warn,lapin=warn");
    match Cli::parse().command {
        Command::Migrate { database } => {
            switchyard_shared::db::migrate(database.owner_url().expose()).await?;
            println!("migrations applied");
        }
        Command::Serve {
            role,
            sandbox,
            sandbox_bind,
            mut settings,
        } => serve(role, sandbox.then_some(sandbox_bind), &mut settings).await?,
        Command::Tenant(command) => tenant(command).await?,
        Command::Dlq(args) => switchyard::dlq::run(args).await?,
        Command::CreatePlatformAdmin {
            email,
            password,
            display_name,
            database,
        } => {
            let chars = password.expose().chars().count();
            anyhow::ensure!(
                (12..=128).contains(&chars),
                "the password must be 12-128 characters"
            );
            let pool = switchyard_shared::db::connect_lazy(&database)?;
            let hash = switchyard_ingress::auth::passwords::hash(password.expose().to_owned())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = switchyard_shared::db::users::create_platform_admin(
                &pool,
                email.trim(),
                &hash,
                display_name.as_deref(),
            )
            .await?;
            println!("platform admin {id} created");
        }
        Command::Sandbox { bind } => {
            let shutdown = Shutdown::new();
            shutdown.trigger_on_signals();
            let graph = FakeGraph::start(bind, shutdown.clone()).await?;
            println!(
                "fake WhatsApp Graph API: WHATSAPP_API_BASE={}",
                graph.api_base()
            );
            shutdown.wait().await;
        }
        Command::Simulate(SimulateCommand::Whatsapp {
            ingress,
            app_secret,
            phone_number_id,
            waba_id,
            from,
            name,
            text,
        }) => {
            let body = simulate::whatsapp_text(&phone_number_id, &waba_id, &from, &name, &text);
            let client = reqwest::Client::new();
            let (status, response) =
                simulate::post_whatsapp(&client, &ingress, app_secret.expose(), body).await?;
            println!("ingress answered {status} {response}");
            anyhow::ensure!(status == 200, "the ingress did not accept the webhook");
        }
        Command::Simulate(SimulateCommand::Telnyx {
            ingress,
            from,
            to,
            text,
        }) => {
            let body = simulate::telnyx_sms(&from, &to, &text);
            let client = reqwest::Client::new();
            let (status, response) =
                simulate::post_telnyx(&client, &ingress, &TelnyxSigner::sandbox(), body).await?;
            println!("ingress answered {status} {response}");
            anyhow::ensure!(status == 200, "the ingress did not accept the webhook");
        }
        Command::Simulate(SimulateCommand::Twilio {
            ingress,
            public_base_url,
            auth_token,
            from,
            to,
            text,
        }) => {
            let params = simulate::twilio_sms(&from, &to, &text);
            let client = reqwest::Client::new();
            let (status, response) = simulate::post_twilio(
                &client,
                &ingress,
                public_base_url.as_deref(),
                auth_token.expose(),
                &params,
            )
            .await?;
            println!("ingress answered {status} {response}");
            anyhow::ensure!(status == 200, "the ingress did not accept the webhook");
        }
        Command::Simulate(SimulateCommand::Gmail {
            ingress,
            google,
            mailbox,
            from,
            subject,
            text,
            thread_id,
            audience,
            service_account,
        }) => {
            let client = reqwest::Client::new();
            let mail = InboundMail {
                mailbox,
                from,
                subject,
                text,
                thread_id,
            };
            let added = simulate::add_gmail_message(&client, &google, &mail).await?;
            println!(
                "fake Google: message {} in {}, history id {}",
                added.id, mail.mailbox, added.history_id
            );
            let notification = GmailNotification {
                email_address: mail.mailbox,
                history_id: added.history_id,
            };
            let push = simulate::gmail_push(&notification, &audience, &service_account)?;
            let (status, response) = simulate::post_gmail(&client, &ingress, &push).await?;
            println!("ingress answered {status} {response}");
            anyhow::ensure!(
                (200..300).contains(&status),
                "the ingress did not accept the notification"
            );
        }
        Command::Keygen { id } => println!("{}", SecretBox::generate_key_spec(&id)),
    }
    Ok(())
}

async fn serve(
    role: Role,
    sandbox: Option<SocketAddr>,
    settings: &mut Settings,
) -> anyhow::Result<()> {
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let mut google = None;
    if let Some(bind) = sandbox {
        let graph = FakeGraph::start(bind, shutdown.clone()).await?;
        settings.worker.whatsapp_api_base = graph.api_base();
        tracing::info!(api_base = %graph.api_base(), "sandbox: fake WhatsApp Graph API running");
        let telnyx_bind = SocketAddr::new(bind.ip(), bind.port().saturating_add(1));
        let telnyx = FakeTelnyx::start(telnyx_bind, shutdown.clone()).await?;
        settings.worker.telnyx_api_base = telnyx.api_base();
        tracing::info!(api_base = %telnyx.api_base(), "sandbox: fake Telnyx API running");
        // `switchyard simulate telnyx` signs with the sandbox key.
        if settings.ingress.telnyx_public_key.is_none() {
            settings.ingress.telnyx_public_key = Some(TelnyxSigner::sandbox().public_key_base64());
        }
        let google_bind = SocketAddr::new(bind.ip(), bind.port().saturating_add(2));
        let fake = FakeGoogle::start(google_bind, shutdown.clone()).await?;
        // Only what the operator left unset or at Google's own URLs is pointed at the fake; see
        // `google_settings` for why each setting is decided on its own.
        google_settings::point_at(&mut settings.google, &fake);
        tracing::info!(origin = %fake.gmail_base(), "sandbox: fake Google (OAuth, Gmail) running");
        google = Some(fake);
        let gemini_bind = SocketAddr::new(bind.ip(), bind.port().saturating_add(3));
        let gemini = FakeGemini::start(gemini_bind, shutdown.clone()).await?;
        // Like the Google settings: a key the operator set means a real Gemini is wanted.
        if settings.gemini.api_key.is_none() {
            settings.gemini.api_base = gemini.api_base();
            settings.gemini.api_key = Some(SecretString::new(FAKE_GEMINI_API_KEY));
        }
        tracing::info!(api_base = %gemini.api_base(), "sandbox: fake Gemini running");
    }
    let app = Application::build(settings, role).await?;
    if let Some(google) = google {
        let secrets = SecretBox::from_config(settings.secrets.encryption_keys.expose())?;
        let tenant = demo::ensure_demo_tenant(app.pool(), &secrets).await?;
        if google_settings::uses_fake_mailboxes(&settings.google, &google) {
            demo::mailbox::connect_demo_mailbox(app.pool(), &secrets, tenant, &google).await?;
            tracing::info!(
                mailbox = demo::DEMO_MAILBOX,
                "sandbox: demo Gmail mailbox connected"
            );
        } else {
            tracing::info!(
                "sandbox: demo Gmail mailbox not connected (the Google settings point elsewhere)"
            );
        }
        tracing::info!(tenant_id = %tenant, phone_number_id = demo::DEMO_PHONE_NUMBER_ID,
            "sandbox: demo tenant ready; try `switchyard simulate whatsapp|telnyx|twilio|gmail`");
    }
    app.run(shutdown).await
}

async fn tenant(command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            name,
            slug,
            welcome_text,
            database,
        } => {
            let pool = switchyard_shared::db::connect_lazy(&database)?;
            let slug = match slug {
                Some(slug) => TenantSlug::parse(&slug)?,
                None => TenantSlug::from_name(&name)?,
            };
            let tenant = tenancy::create_tenant(
                &pool,
                &NewTenant {
                    slug,
                    name,
                    welcome_text,
                    external_org_id: None,
                },
            )
            .await?;
            println!("{}", tenant.id);
        }
        TenantCommand::Whatsapp {
            tenant,
            phone_number_id,
            waba_id,
            display_phone_number,
            access_token,
            app_secret,
            database,
            secrets,
        } => {
            let pool = switchyard_shared::db::connect_lazy(&database)?;
            let secrets = SecretBox::from_config(secrets.encryption_keys.expose())?;
            let tenant_id = match tenant.parse::<TenantId>() {
                Ok(id) => id,
                Err(_) => {
                    switchyard_shared::db::tenants::id_by_slug(&pool, &TenantSlug::parse(&tenant)?)
                        .await?
                        .with_context(|| format!("no tenant with slug {tenant}"))?
                }
            };
            let input = WhatsAppChannelInput {
                phone_number_id: PhoneNumberId::parse(&phone_number_id)?,
                waba_id: WabaId::parse(&waba_id)?,
                display_phone_number,
                access_token,
                app_secret,
                is_active: true,
                messages_per_second: None,
            };
            tenancy::put_whatsapp_channel(&pool, &secrets, tenant_id, &input)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("WhatsApp channel {phone_number_id} configured for tenant {tenant_id}");
        }
    }
    Ok(())
}
