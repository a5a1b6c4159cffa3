//! `bench_worker`: end-to-end throughput and memory of the worker, set against a loop that
//! runs the same database statements directly, in the same run.
//!
//! ```text
//! cargo build --release --bins && target/release/bench_worker [--messages 20000]
//! ```
//!
//! One run: a fresh database with one tenant, a WhatsApp number and a keyword flow that answers
//! "hi" with one text step; `--messages` inbound WhatsApp envelopes from `--contacts` customers
//! published to the broker first; then the real `switchyard serve --role worker` as a child
//! process drains them — deduplicated, stored, the flow's step answered through the outbox and
//! sent to an in-process fake Graph API (LLM off) — while its RSS is sampled. The reference
//! then runs the worker's repository calls for as many new messages, from `--concurrency` tasks
//! over a pool as large as the worker's, with no broker, no JSON and no HTTP in between: the
//! rate the database allows. See `BENCHMARKS.md`.

#[allow(dead_code)]
#[path = "bench/procstat.rs"]
mod procstat;
#[allow(dead_code)]
#[path = "bench/setup.rs"]
mod setup;
#[path = "bench/worker_process.rs"]
mod worker_process;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use switchyard::sandbox::FakeGraph;
use switchyard::sandbox::simulate::whatsapp_text;
use switchyard_shared::db::conversation_states::{self, NewState};
use switchyard_shared::db::flows;
use switchyard_shared::db::messages::{self, InboundMessage, OutboundMessage};
use switchyard_shared::db::outbox::{self, NewOutbound};
use switchyard_shared::db::{TenantTx, contacts, conversations, processed_events, tenants};
use switchyard_shared::domain::{Channel, DedupKey, TenantId};
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue::EventQueue;
use switchyard_shared::queue::rabbitmq::RabbitMq;
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;

use crate::procstat::{RssSampler, status_bytes};
use crate::setup::{BenchDb, PHONE_NUMBER_ID, Services, WABA_ID};
use crate::worker_process::{WorkerProcess, switchyard_binary};

/// Targets (informational; the program does not fail on a miss).
const TARGET_RATIO: f64 = 0.5;
const TARGET_RSS_BYTES: u64 = 128 * 1024 * 1024;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench_worker",
    about = "Benchmark the Switchyard worker end to end"
)]
struct Options {
    /// Inbound messages processed in each phase.
    #[arg(long, default_value_t = 20_000)]
    messages: usize,
    /// Distinct customers they come from (conversations run in parallel; one conversation's
    /// messages in order).
    #[arg(long, default_value_t = 500)]
    contacts: usize,
    /// Concurrent tasks of the reference loop.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Database connections of the worker and of the reference.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    #[command(flatten)]
    services: Services,
    /// The switchyard binary (default: the one next to this executable).
    #[arg(long)]
    switchyard_bin: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.messages > 0 && options.contacts > 0 && options.concurrency > 0);
    let binary = switchyard_binary(options.switchyard_bin.as_ref())?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let prefix = format!("bench-{run_id}");
    let db = options.services.create_database(&run_id).await?;
    eprintln!(
        "bench_worker {run_id}: database {}, queue prefix {prefix}",
        db.name
    );
    let outcome = run(&options, &binary, &db, &prefix).await;
    let dropped = db.drop_database().await;
    let report = outcome?;
    dropped?;
    report.print(&options);
    Ok(())
}

struct Report {
    worker_rate: f64,
    worker_secs: f64,
    raw_rate: f64,
    raw_secs: f64,
    rss_max: u64,
    vm_hwm: u64,
    rss_samples: usize,
    sent: usize,
}

impl Report {
    fn print(&self, options: &Options) {
        let ratio = self.worker_rate / self.raw_rate;
        let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
        println!("## Worker, end to end\n");
        println!(
            "{} messages from {} customers; flow step answered and sent; LLM off; {} connections\n",
            options.messages, options.contacts, options.connections
        );
        println!("| measure | value |\n|---|---|");
        println!(
            "| worker (broker → stored → answered → sent) | {:.0} msg/s ({:.1} s) |",
            self.worker_rate, self.worker_secs
        );
        println!(
            "| reference (same statements, direct) | {:.0} msg/s ({:.1} s) |",
            self.raw_rate, self.raw_secs
        );
        println!(
            "| ratio | {ratio:.2} (target ≥ {TARGET_RATIO}: {}) |",
            verdict(ratio >= TARGET_RATIO)
        );
        println!(
            "| worker RSS | {:.1} MiB peak VmHWM, {:.1} MiB max of {} samples (target < 128 MiB: {}) |",
            mib(self.vm_hwm),
            mib(self.rss_max),
            self.rss_samples,
            verdict(self.vm_hwm.max(self.rss_max) < TARGET_RSS_BYTES)
        );
        println!("| replies the fake Graph API received | {} |", self.sent);
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn run(
    options: &Options,
    binary: &std::path::Path,
    db: &BenchDb,
    prefix: &str,
) -> anyhow::Result<Report> {
    let key_spec = SecretBox::generate_key_spec("bench1");
    let secrets = SecretBox::from_config(&key_spec)?;
    let tenant = db.prepare(&secrets).await?;
    let pool = PgPoolOptions::new()
        .max_connections(options.connections)
        .connect(&db.app_url)
        .await?;
    let owner = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.owner_url)
        .await?;
    switchyard::demo::add_keyword_flow(&pool, tenant, "hi", "Hello! How can we help?").await?;

    // Everything waits in the broker before the worker starts.
    let queue_config = options.services.rabbitmq_queue(prefix);
    let queue = RabbitMq::connect(queue_config).await?;
    let envelopes: Vec<Envelope> = (0..options.messages)
        .map(|i| inbound(tenant, &customer(i % options.contacts, 0)))
        .collect::<anyhow::Result<_>>()?;
    for batch in envelopes.chunks(256) {
        queue.publish(batch).await?;
    }
    eprintln!("published {} envelopes", envelopes.len());

    let graph = FakeGraph::start(SocketAddr::from(([127, 0, 0, 1], 0)), Shutdown::new()).await?;
    let mut child = WorkerProcess::spawn(
        binary,
        &[
            ("DATABASE_URL", db.app_url.clone()),
            ("DATABASE_MAX_CONNECTIONS", options.connections.to_string()),
            ("AMQP_URL", options.services.amqp_url.clone()),
            ("QUEUE_PREFIX", prefix.to_owned()),
            ("QUEUE_PARTITIONS", "8".into()),
            ("QUEUE_EXPIRES_SECS", "300".into()),
            ("ENCRYPTION_KEYS", key_spec.clone()),
            ("WHATSAPP_API_BASE", graph.api_base()),
            ("WHATSAPP_MESSAGES_PER_SECOND", "1000".into()),
            // One tenant's throughput is measured here, not fairness (see bench_fairness).
            ("TENANT_EVENTS_PER_SECOND", "100000".into()),
            ("TENANT_EVENTS_BURST", "100000".into()),
        ],
    )?;
    let pid = child.pid();
    let sampler = RssSampler::start(pid, Duration::from_millis(50));

    let total = i64::try_from(options.messages)?;
    let mut first = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let done = loop {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the worker did not finish in 10 minutes"
        );
        let sent: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE status = 'sent'")
            .fetch_one(&owner)
            .await?;
        if sent > 0 && first.is_none() {
            first = Some(Instant::now());
        }
        if sent >= total {
            break Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let vm_hwm = status_bytes(pid, "VmHWM").unwrap_or(0);
    let (rss_max, rss_samples) = sampler.finish().await?;
    child.stop();
    let worker_secs = done
        .duration_since(first.unwrap_or(done))
        .as_secs_f64()
        .max(1e-3);

    let started = Instant::now();
    reference(&pool, tenant, options).await?;
    let raw_secs = started.elapsed().as_secs_f64();
    Ok(Report {
        worker_rate: options.messages as f64 / worker_secs,
        worker_secs,
        raw_rate: options.messages as f64 / raw_secs,
        raw_secs,
        rss_max,
        vm_hwm,
        rss_samples,
        sent: graph.sent().len(),
    })
}

/// Customer `i` of generation `run` (the reference uses new customers).
fn customer(i: usize, run: usize) -> String {
    format!("1555{run}{i:06}")
}

fn inbound(tenant: TenantId, from: &str) -> anyhow::Result<Envelope> {
    let body = whatsapp_text(PHONE_NUMBER_ID, WABA_ID, from, "Bench Customer", "hi");
    setup::envelope_for(tenant, &body)
}

/// The worker's repository calls for each message — claim, contact, conversation, message,
/// state, flows, outbox; then the outbox claim and the sent record — from `concurrency` tasks,
/// each owning its customers so one conversation is never handled twice at once.
async fn reference(pool: &PgPool, tenant: TenantId, options: &Options) -> anyhow::Result<()> {
    let pool = Arc::new(pool.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..options.concurrency {
        let pool = pool.clone();
        let (messages, contacts, concurrency) =
            (options.messages, options.contacts, options.concurrency);
        tasks.spawn(async move {
            for i in (task..messages).step_by(concurrency) {
                one_message(&pool, tenant, &customer(i % contacts, 1), i).await?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

async fn one_message(pool: &PgPool, tenant: TenantId, from: &str, i: usize) -> anyhow::Result<()> {
    let mut tx = TenantTx::begin(pool, tenant).await?;
    tenants::get(&mut tx).await?;
    let event = uuid::Uuid::now_v7();
    processed_events::claim(&mut tx, &DedupKey::parse(&format!("raw:{i}"))?, event).await?;
    let (contact, _) = contacts::upsert_whatsapp(
        &mut tx,
        &contacts::WhatsAppIdentity {
            wa_id: Some(from.to_owned()),
            user_id: None,
            display_name: Some("Bench Customer".into()),
        },
    )
    .await?;
    let conversation = conversations::upsert(
        &mut tx,
        contact,
        Channel::Whatsapp,
        Some(chrono::Utc::now()),
    )
    .await?;
    let raw = json!({ "text": { "body": "hi" } });
    messages::insert_inbound(
        &mut tx,
        &InboundMessage {
            conversation_id: conversation,
            contact_id: contact,
            channel: Channel::Whatsapp,
            provider_message_id: &format!("raw.{i}"),
            message_type: "text",
            body: Some("hi"),
            media: None,
            reply_to_provider_id: None,
            provider_timestamp: None,
            raw: &raw,
        },
    )
    .await?;
    conversation_states::lock(&mut tx, conversation).await?;
    flows::runnable(&mut tx).await?;
    conversation_states::upsert(&mut tx, conversation, &NewState::IDLE).await?;
    let id = outbox::enqueue(
        &mut tx,
        &NewOutbound {
            channel: Channel::Whatsapp,
            conversation_id: Some(conversation),
            contact_id: Some(contact),
            idempotency_key: &format!("flow:{event}:raw.{i}:0"),
            request: json!({ "phone_number_id": PHONE_NUMBER_ID, "to": from, "text": "Hello! How can we help?" }),
            source_event_id: Some(event),
        },
    )
    .await?
    .context("queued")?;
    tx.commit().await?;

    let mut tx = TenantTx::begin(pool, tenant).await?;
    outbox::claim(&mut tx, id, Duration::from_secs(120)).await?;
    tx.commit().await?;
    let mut tx = TenantTx::begin(pool, tenant).await?;
    let wamid = format!("wamid.raw.{i}");
    outbox::mark_sent(&mut tx, id, &wamid).await?;
    messages::record_outbound(
        &mut tx,
        &OutboundMessage {
            conversation_id: Some(conversation),
            contact_id: Some(contact),
            channel: Channel::Whatsapp,
            provider_message_id: &wamid,
            message_type: "text",
            body: Some("Hello! How can we help?"),
            reply_to_provider_id: None,
            sent_at: chrono::Utc::now(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
