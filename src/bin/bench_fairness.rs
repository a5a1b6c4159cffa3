//! `bench_fairness`: how long one tenant's events wait while another tenant floods the
//! workers, with the fair share off and on, in the same run.
//!
//! ```text
//! cargo build --release --bins && target/release/bench_fairness [--flood 5000]
//! ```
//!
//! Each scenario gets a fresh queue prefix. The flooding tenant's `--flood` inbound WhatsApp
//! messages (from `--contacts` customers) wait in the broker; then the real
//! `switchyard serve --role worker` starts, and once it applies the flood's first message the
//! neighbour sends `--probes` messages, one every `--probe-every-ms`. Measured: each probe's
//! wait from its envelope's creation to the start of the transaction that stored it
//! (`messages.created_at`), and how long the whole flood took. Scenario "off" sets
//! `TENANT_EVENTS_PER_SECOND` out of reach; "on" uses the default (50/s, burst 100). See
//! `BENCHMARKS.md`.

#[allow(dead_code)]
#[path = "bench/setup.rs"]
mod setup;
#[allow(dead_code)]
#[path = "bench/worker_process.rs"]
mod worker_process;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Parser;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use switchyard::sandbox::simulate::whatsapp_text;
use switchyard_shared::db::tenants::NewTenant;
use switchyard_shared::domain::{TenantId, TenantSlug};
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue::EventQueue;
use switchyard_shared::queue::rabbitmq::RabbitMq;
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::tenancy;

use crate::setup::{BenchDb, PHONE_NUMBER_ID, Services, WABA_ID};
use crate::worker_process::{WorkerProcess, switchyard_binary};

#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench_fairness",
    about = "One tenant's latency while another floods"
)]
struct Options {
    /// Messages the flooding tenant sends before the worker starts.
    #[arg(long, default_value_t = 5000)]
    flood: usize,
    /// Customers the flood comes from.
    #[arg(long, default_value_t = 500)]
    contacts: usize,
    /// Messages the neighbour sends during the flood.
    #[arg(long, default_value_t = 20)]
    probes: usize,
    #[arg(long, default_value_t = 100)]
    probe_every_ms: u64,
    #[arg(long, default_value_t = 16)]
    connections: u32,
    #[command(flatten)]
    services: Services,
    #[arg(long)]
    switchyard_bin: Option<PathBuf>,
}

struct Scenario {
    name: &'static str,
    per_second: &'static str,
    burst: &'static str,
}

const SCENARIOS: [Scenario; 2] = [
    Scenario {
        name: "fair share off",
        per_second: "100000",
        burst: "100000",
    },
    Scenario {
        name: "fair share on (50/s, burst 100)",
        per_second: "50",
        burst: "100",
    },
];

struct Outcome {
    waits: Vec<Duration>,
    flood_secs: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.flood > 0 && options.contacts > 0 && options.probes > 0);
    let binary = switchyard_binary(options.switchyard_bin.as_ref())?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let db = options.services.create_database(&run_id).await?;
    eprintln!("bench_fairness {run_id}: database {}", db.name);
    let mut outcomes = Vec::new();
    let result = async {
        let key_spec = SecretBox::generate_key_spec("bench1");
        let flooder = db.prepare(&SecretBox::from_config(&key_spec)?).await?;
        let app_pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&db.app_url)
            .await?;
        let neighbour = tenancy::create_tenant(
            &app_pool,
            &NewTenant {
                slug: TenantSlug::parse("neighbour")?,
                name: "Neighbour".into(),
                welcome_text: None,
                external_org_id: None,
            },
        )
        .await?
        .id;
        let owner_pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(&db.owner_url)
            .await?;
        for (n, scenario) in SCENARIOS.iter().enumerate() {
            let prefix = format!("bench-{run_id}-{n}");
            let outcome = run(
                &options,
                &binary,
                &db,
                &key_spec,
                &owner_pool,
                &prefix,
                scenario,
                n,
                flooder,
                neighbour,
            )
            .await?;
            outcomes.push((scenario.name, outcome));
        }
        anyhow::Ok(())
    }
    .await;
    let dropped = db.drop_database().await;
    result?;
    dropped?;
    print(&options, &outcomes);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn run(
    options: &Options,
    binary: &std::path::Path,
    db: &BenchDb,
    key_spec: &str,
    owner: &PgPool,
    prefix: &str,
    scenario: &Scenario,
    generation: usize,
    flooder: TenantId,
    neighbour: TenantId,
) -> anyhow::Result<Outcome> {
    let queue = RabbitMq::connect(options.services.rabbitmq_queue(prefix)).await?;
    let flood: Vec<Envelope> = (0..options.flood)
        .map(|i| {
            inbound(
                flooder,
                &format!("1555{generation}{:06}", i % options.contacts),
            )
        })
        .collect::<anyhow::Result<_>>()?;
    for batch in flood.chunks(256) {
        queue.publish(batch).await?;
    }
    let before = applied(owner).await?;
    let mut worker = WorkerProcess::spawn(
        binary,
        &[
            ("DATABASE_URL", db.app_url.clone()),
            ("DATABASE_MAX_CONNECTIONS", options.connections.to_string()),
            ("AMQP_URL", options.services.amqp_url.clone()),
            ("QUEUE_PREFIX", prefix.to_owned()),
            ("QUEUE_PARTITIONS", "8".into()),
            ("QUEUE_EXPIRES_SECS", "300".into()),
            ("ENCRYPTION_KEYS", key_spec.to_owned()),
            // No replies: the flood's cost is its processing.
            ("WHATSAPP_API_BASE", "http://127.0.0.1:9".into()),
            ("TENANT_EVENTS_PER_SECOND", scenario.per_second.into()),
            ("TENANT_EVENTS_BURST", scenario.burst.into()),
        ],
    )?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while applied(owner).await? == before {
        anyhow::ensure!(Instant::now() < deadline, "the worker never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();

    let mut sent: HashMap<String, DateTime<Utc>> = HashMap::new();
    for p in 0..options.probes {
        let from = format!("1666{generation}{p:06}");
        let envelope = inbound(neighbour, &from)?;
        sent.insert(from, envelope.received_at);
        queue.publish(std::slice::from_ref(&envelope)).await?;
        tokio::time::sleep(Duration::from_millis(options.probe_every_ms)).await;
    }
    let total = before + i64::try_from(options.flood + options.probes)?;
    while applied(owner).await? < total {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the worker did not finish in 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flood_secs = started.elapsed().as_secs_f64();
    worker.stop();

    let stored: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT k.whatsapp_id, m.created_at FROM messages m JOIN contacts k ON k.id = m.contact_id \
         WHERE m.tenant_id = $1 AND m.direction = 'inbound'",
    )
    .bind(neighbour.as_uuid())
    .fetch_all(owner)
    .await?;
    let mut waits: Vec<Duration> = stored
        .into_iter()
        .filter_map(|(from, at)| {
            let sent_at = sent.get(&from)?;
            (at - *sent_at).to_std().ok()
        })
        .collect();
    anyhow::ensure!(waits.len() == options.probes, "not every probe was stored");
    waits.sort();
    Ok(Outcome { waits, flood_secs })
}

async fn applied(owner: &PgPool) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .fetch_one(owner)
            .await?,
    )
}

fn inbound(tenant: TenantId, from: &str) -> anyhow::Result<Envelope> {
    let body = whatsapp_text(PHONE_NUMBER_ID, WABA_ID, from, "Bench Customer", "hi");
    setup::envelope_for(tenant, &body)
}

fn print(options: &Options, outcomes: &[(&str, Outcome)]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("## Tenant fairness\n");
    println!(
        "{} messages of one tenant waiting in the broker; another tenant sends {} messages, one every {} ms, once the worker applies the first\n",
        options.flood, options.probes, options.probe_every_ms
    );
    println!("| scenario | neighbour wait p50 | neighbour wait max | flood applied in |");
    println!("|---|---|---|---|");
    for (name, outcome) in outcomes {
        let p50 = outcome.waits[outcome.waits.len() / 2];
        let max = outcome.waits[outcome.waits.len() - 1];
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.1} s ({:.0} msg/s) |",
            ms(p50),
            ms(max),
            outcome.flood_secs,
            options.flood as f64 / outcome.flood_secs
        );
    }
    if let [(_, off), (_, on)] = outcomes {
        let max = |o: &Outcome| o.waits[o.waits.len() - 1].as_secs_f64();
        println!(
            "\nneighbour's worst wait, on / off: {:.2}; flood time, on / off: {:.2}",
            max(on) / max(off).max(1e-6),
            on.flood_secs / off.flood_secs.max(1e-6)
        );
    }
}
