//! The throw-away environment of one run: a fresh database with a tenant, and the broker
//! objects under the run's queue prefixes (removed at the end).

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use switchyard_shared::db::tenants::NewTenant;
use switchyard_shared::domain::{
    Channel, ConversationKey, PhoneNumberId, TenantId, TenantSlug, WabaId,
};
use switchyard_shared::envelope::{Envelope, new_traceparent};
use switchyard_shared::payloads::whatsapp::WebhookBody;
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::tenancy::{self, WhatsAppChannelInput};

/// The bench tenant's WhatsApp business number and account.
pub const PHONE_NUMBER_ID: &str = "109000000000001";
pub const WABA_ID: &str = "209000000000002";
/// The customer who writes, and what.
pub const FROM: &str = "15550001111";
pub const NAME: &str = "Bench Customer";
pub const TEXT: &str = "Hi, are you open on Saturday?";

/// Where a run's database and broker are: the flags every benchmark and the chaos run share.
#[derive(Debug, Clone, clap::Args)]
pub struct Services {
    /// PostgreSQL host:port.
    #[arg(long, default_value = "127.0.0.1:5432")]
    pub postgres: String,
    /// Owner role (CREATEDB), user:password.
    #[arg(long, default_value = "switchyard_owner:switchyard_owner")]
    pub owner_credentials: String,
    /// Runtime role of the services under test, user:password.
    #[arg(long, default_value = "switchyard_app:switchyard_app")]
    pub app_credentials: String,
    /// The broker (AMQP_URL).
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
}

impl Services {
    /// The RabbitMQ settings a benchmark publishes and consumes with, under `prefix` (queues
    /// expire 300 s after the run if its clean-up cannot remove them).
    pub fn rabbitmq_queue(&self, prefix: &str) -> switchyard_shared::config::QueueConfig {
        switchyard_shared::config::QueueConfig {
            backend: switchyard_shared::config::QueueBackend::Rabbitmq,
            amqp_url: SecretString::new(self.amqp_url.as_str()),
            prefix: prefix.to_owned(),
            publish_channels: 4,
            prefetch: 32,
            delivery_limit: 20,
            partitions: 8,
            expires_secs: Some(300),
            in_place_retries: 3,
            retry_tiers: Default::default(),
            confirm_timeout_ms: 30_000,
            pubsub: Default::default(),
        }
    }

    /// A fresh database for the run `run_id` (see [`BenchDb::create`]).
    pub async fn create_database(&self, run_id: &str) -> anyhow::Result<BenchDb> {
        let owner = Credentials::parse(&self.owner_credentials).context("--owner-credentials")?;
        let app = Credentials::parse(&self.app_credentials).context("--app-credentials")?;
        BenchDb::create(&self.postgres, &owner, &app, run_id).await
    }
}

/// `user:password`, checked to be safe inside a URL and an SQL identifier.
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl Credentials {
    pub fn parse(spec: &str) -> anyhow::Result<Self> {
        let (user, password) = spec
            .split_once(':')
            .context("credentials must be user:password")?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        anyhow::ensure!(
            plain(user) && plain(password),
            "credentials may only use letters, digits, '_' and '-'"
        );
        Ok(Self {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }

    fn url(&self, host: &str, database: &str) -> String {
        format!(
            "postgres://{}:{}@{host}/{database}",
            self.user, self.password
        )
    }
}

/// A database created for this run and dropped at its end.
pub struct BenchDb {
    pub name: String,
    admin_url: String,
    pub owner_url: String,
    pub app_url: String,
}

impl BenchDb {
    /// `CREATE DATABASE sy_bench_<id> OWNER <owner>`, connected as the owner to `postgres`.
    pub async fn create(
        host: &str,
        owner: &Credentials,
        app: &Credentials,
        run_id: &str,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            run_id.bytes().all(|b| b.is_ascii_alphanumeric()),
            "run id must be alphanumeric"
        );
        let name = format!("sy_bench_{run_id}");
        let admin_url = owner.url(host, "postgres");
        let mut conn = PgConnection::connect(&admin_url)
            .await
            .with_context(|| format!("connecting to {host}/postgres as {}", owner.user))?;
        let sql = format!("CREATE DATABASE \"{name}\" OWNER \"{}\"", owner.user);
        // CREATE DATABASE fails while another session is copying template1 (other test runs
        // on the same server); that clears up within moments.
        let mut attempt = 1;
        loop {
            match sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break,
                Err(e)
                    if attempt < 10 && e.to_string().contains("being accessed by other users") =>
                {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("creating database {name}")),
            }
        }
        let _ = conn.close().await;
        Ok(Self {
            owner_url: owner.url(host, &name),
            app_url: app.url(host, &name),
            name,
            admin_url,
        })
    }

    /// Migrate, then create the bench tenant with its WhatsApp configuration (signed by the
    /// platform's app secret, like most tenants).
    pub async fn prepare(&self, secrets: &SecretBox) -> anyhow::Result<TenantId> {
        switchyard_shared::db::migrate(&self.owner_url)
            .await
            .with_context(|| format!("migrating {}", self.name))?;
        // Through the runtime role, like `switchyard tenant create`.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&self.app_url)
            .await
            .with_context(|| format!("connecting to {} as the runtime role", self.name))?;
        let tenant = tenancy::create_tenant(
            &pool,
            &NewTenant {
                slug: TenantSlug::parse("bench")?,
                name: "Bench".into(),
                welcome_text: None,
                external_org_id: None,
            },
        )
        .await
        .context("creating the bench tenant")?
        .id;
        tenancy::put_whatsapp_channel(
            &pool,
            secrets,
            tenant,
            &WhatsAppChannelInput {
                phone_number_id: PhoneNumberId::parse(PHONE_NUMBER_ID)?,
                waba_id: WabaId::parse(WABA_ID)?,
                display_phone_number: Some("+1 555-000-2222".into()),
                access_token: SecretString::new("bench-access-token"),
                app_secret: None,
                is_active: true,
                messages_per_second: None,
            },
        )
        .await
        .context("configuring the bench tenant's WhatsApp channel")?;
        pool.close().await;
        Ok(tenant)
    }

    /// `DROP DATABASE … WITH (FORCE)`.
    pub async fn drop_database(&self) -> anyhow::Result<()> {
        let mut conn = PgConnection::connect(&self.admin_url)
            .await
            .context("connecting to drop the bench database")?;
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .with_context(|| format!("dropping database {}", self.name))?;
        let _ = conn.close().await;
        Ok(())
    }
}

/// One inbound text webhook body, as the sandbox builds it (fresh message id each call).
pub fn webhook_body() -> Vec<u8> {
    switchyard::sandbox::simulate::whatsapp_text(PHONE_NUMBER_ID, WABA_ID, FROM, NAME, TEXT)
}

/// The envelope the ingress publishes for `body`: split with the ingress's own code, wrapped
/// the way its handler wraps it.
pub fn envelope_for(tenant: TenantId, body: &[u8]) -> anyhow::Result<Envelope> {
    let webhook: WebhookBody = serde_json::from_slice(body).context("parsing the sample body")?;
    let event = switchyard_ingress::webhooks::whatsapp::split(&webhook)
        .map_err(|reason| anyhow::anyhow!("splitting the sample body: {reason}"))?
        .into_iter()
        .next()
        .context("the sample body has no event")?;
    Ok(Envelope::new(
        tenant,
        Channel::Whatsapp,
        event.kind,
        event.dedup_key,
        ConversationKey::new(tenant, Channel::Whatsapp, &event.contact),
        new_traceparent(),
        event.payload,
    ))
}

/// Broker housekeeping through `rabbitmqctl` on this machine (best effort: without it the
/// queues still expire after `QUEUE_EXPIRES_SECS`; only the two empty exchanges per prefix
/// would stay).
pub mod broker {
    use super::*;

    /// Host and virtual host of an `amqp://user:pass@host:port/vhost` URL.
    pub fn host_and_vhost(amqp_url: &str) -> (String, String) {
        let rest = amqp_url.split_once("://").map_or(amqp_url, |(_, r)| r);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
        let vhost = path.split('?').next().unwrap_or_default();
        let vhost = if vhost.is_empty() {
            "/".to_owned()
        } else {
            percent_decode(vhost)
        };
        (host.to_owned(), vhost)
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && let Some(hex) = s.get(i + 1..i + 3)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Whether `rabbitmqctl` can manage the broker at `amqp_url` (a broker on this machine).
    pub fn usable(amqp_url: &str) -> bool {
        let (host, _) = host_and_vhost(amqp_url);
        matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1" | "[::1]")
            && std::process::Command::new("rabbitmqctl")
                .args(["-q", "status"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    }

    fn rabbitmqctl(args: &[&str]) -> anyhow::Result<String> {
        let output = std::process::Command::new("rabbitmqctl")
            .args(args)
            .output()
            .context("running rabbitmqctl")?;
        anyhow::ensure!(
            output.status.success(),
            "rabbitmqctl {}: {}",
            args.get(1).copied().unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Messages in each queue under `prefix.`.
    pub fn queue_depths(vhost: &str, prefix: &str) -> anyhow::Result<BTreeMap<String, u64>> {
        let listing = rabbitmqctl(&["-q", "list_queues", "-p", vhost, "name", "messages"])?;
        let wanted = format!("{prefix}.");
        Ok(listing
            .lines()
            .filter_map(|line| {
                let (name, messages) = line.split_once('\t')?;
                let messages = messages.trim().parse().ok()?;
                name.starts_with(&wanted)
                    .then(|| (name.to_owned(), messages))
            })
            .collect())
    }

    /// Delete the queues and exchanges under each prefix. Returns what could not be removed.
    pub fn remove(vhost: &str, prefixes: &[String]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut deletions = Vec::new();
        for prefix in prefixes {
            let queues = match queue_depths(vhost, prefix) {
                Ok(depths) => depths.into_keys().collect::<Vec<_>>(),
                Err(e) => {
                    problems.push(format!("listing queues of {prefix}: {e:#}"));
                    continue;
                }
            };
            for queue in queues {
                // In parallel: each rabbitmqctl call starts an Erlang VM (~0.5 s).
                match std::process::Command::new("rabbitmqctl")
                    .args(["-q", "delete_queue", "-p", vhost, &queue])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                {
                    Ok(child) => deletions.push((queue, child)),
                    Err(e) => problems.push(format!("deleting queue {queue}: {e}")),
                }
            }
        }
        for (queue, child) in deletions {
            match child.wait_with_output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => problems.push(format!(
                    "deleting queue {queue}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )),
                Err(e) => problems.push(format!("deleting queue {queue}: {e}")),
            }
        }
        // rabbitmqctl has no command for exchanges; the broker's own function deletes them.
        let exchanges: Vec<String> = prefixes
            .iter()
            .flat_map(|p| [format!("{p}.events"), format!("{p}.dead")])
            .collect();
        let erlang_binary =
            |s: &str| format!("<<\"{}\">>", s.replace('\\', "\\\\").replace('"', "\\\""));
        let calls: Vec<String> = exchanges
            .iter()
            .map(|x| {
                format!(
                    "rabbit_exchange:delete(rabbit_misc:r({}, exchange, {}), false, <<\"switchyard-bench\">>)",
                    erlang_binary(vhost),
                    erlang_binary(x)
                )
            })
            .collect();
        let expression = format!("[{}].", calls.join(", "));
        if let Err(e) = rabbitmqctl(&["-q", "eval", &expression]) {
            problems.push(format!(
                "deleting exchanges {}: {e:#}",
                exchanges.join(", ")
            ));
        }
        problems
    }
}
