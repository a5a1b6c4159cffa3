//! `chaos`: the reliability run. Signed webhooks of every channel for several tenants flow at
//! a steady rate into the real ingress and workers while RabbitMQ and PostgreSQL are
//! restarted and a worker and the ingress are killed with SIGKILL; then every event that got
//! a 2xx is compared with what the database stored, and every stored message with the replies
//! the fake providers received.
//!
//! ```text
//! cargo build --bins && target/debug/chaos [--duration-secs 240] [--rate 20] [--backend pubsub]
//! ```
//!
//! One run: a fresh database and queue prefix → the fake provider APIs in this process →
//! tenants with every channel and a flow that answers each message → one ingress and
//! `--workers` workers as child processes (logs in `--log-dir`) → the traffic, with the faults
//! spread evenly over it → wait until everything settled → the audit (see `audit.rs`) →
//! graceful stop and clean-up. It exits non-zero when an accepted event was lost, a reply was
//! duplicated, or an event was never accepted. It restarts the machine's RabbitMQ and
//! PostgreSQL: run it on a machine of its own, not beside a test suite. `deploy/local/chaos.sh`
//! runs it as CI does; RELIABILITY.md has the method and the results.

#[allow(dead_code)]
#[path = "../bench/ingress.rs"]
mod bench_ingress;
#[allow(dead_code)]
#[path = "../bench/setup.rs"]
mod setup;
#[allow(dead_code)]
#[path = "../bench/worker_process.rs"]
mod worker_process;

mod audit;
mod faults;
mod report;
mod system;
mod tenants;
mod traffic;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sqlx::postgres::PgPoolOptions;
use switchyard::sandbox::FakeGraph;
use switchyard::sandbox::gemini::{FAKE_GEMINI_API_KEY, FakeGemini};
use switchyard::sandbox::google::{CLIENT_ID, CLIENT_SECRET, FakeGoogle};
use switchyard::sandbox::google_settings::gmail_api_base;
use switchyard::sandbox::google_signing::{
    SANDBOX_PUBSUB_TOPIC, SANDBOX_PUSH_AUDIENCE, SANDBOX_PUSH_SERVICE_ACCOUNT,
};
use switchyard::sandbox::signing::TelnyxSigner;
use switchyard::sandbox::telnyx::FakeTelnyx;
use switchyard_shared::config::QueueBackend;
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;

use crate::faults::{Fault, Target};
use crate::setup::{BenchDb, Services, broker};
use crate::system::{Service, wait_ready};
use crate::traffic::Traffic;

/// The Pub/Sub project the run's topics live in (on the emulator).
const PUBSUB_PROJECT: &str = "switchyard-chaos";

#[derive(Debug, Clone, Parser)]
#[command(
    name = "chaos",
    about = "Drive Switchyard under faults and check that nothing accepted is lost or duplicated"
)]
pub struct Options {
    /// How long the traffic flows, in seconds; the faults are spread evenly over it.
    #[arg(long, default_value_t = 240)]
    duration_secs: u64,
    /// Events a second, over all channels and tenants.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    #[arg(long, default_value_t = 3)]
    tenants: usize,
    /// Customers per tenant and channel (each writes several times).
    #[arg(long, default_value_t = 5)]
    customers: usize,
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// The queue the system runs on. On `pubsub` (the emulator at `--pubsub-emulator-host`)
    /// the broker is not restarted: the emulator keeps messages in memory only, so a restart
    /// loses them by design, which says nothing about Switchyard.
    #[arg(long, value_enum, default_value = "rabbitmq")]
    backend: QueueBackend,
    /// The Pub/Sub emulator (`host:port`) for `--backend pubsub`.
    #[arg(long, env = "PUBSUB_EMULATOR_HOST", default_value = "127.0.0.1:8085")]
    pubsub_emulator_host: String,
    /// The faults, in order (comma-separated). Default: broker,database,worker,ingress on
    /// RabbitMQ; database,worker,ingress on Pub/Sub.
    #[arg(long, value_enum, value_delimiter = ',')]
    faults: Option<Vec<Fault>>,
    /// How RabbitMQ is restarted (run with `sh -c`); it must return once the broker is
    /// starting again.
    #[arg(
        long,
        default_value = "rabbitmqctl -q shutdown && rabbitmq-server -detached && \
                         for i in $(seq 120); do rabbitmqctl -q await_startup >/dev/null 2>&1 && exit 0; sleep 1; done; exit 1"
    )]
    broker_restart: String,
    /// How PostgreSQL is restarted (run with `sh -c`). The checkpoint first keeps the restart
    /// short; `-m fast` disconnects every client, as a failover or a crash would.
    #[arg(
        long,
        default_value = "v=$(ls /etc/postgresql | sort -V | tail -n1) && \
                         runuser -u postgres -- psql -qAtc CHECKPOINT && \
                         pg_ctlcluster --skip-systemctl-redirect \"$v\" main restart -m fast"
    )]
    database_restart: String,
    /// Seconds to wait, after the traffic ends, for every event to be stored and every reply
    /// sent.
    #[arg(long, default_value_t = 240)]
    settle_secs: u64,
    #[command(flatten)]
    services: Services,
    /// The switchyard binary (default: the one next to this executable).
    #[arg(long)]
    switchyard_bin: Option<PathBuf>,
    /// Where the services' logs go (default: a new directory under the temp dir).
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Also write the report as Markdown to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Keep the run's database afterwards (for a closer look).
    #[arg(long)]
    keep_database: bool,
}

impl Options {
    /// The faults to inject: those asked for, or every one the backend allows.
    pub fn faults(&self) -> Vec<Fault> {
        match (&self.faults, self.backend) {
            (Some(faults), _) => faults.clone(),
            (None, QueueBackend::Rabbitmq) => {
                vec![
                    Fault::Broker,
                    Fault::Database,
                    Fault::Worker,
                    Fault::Ingress,
                ]
            }
            (None, QueueBackend::Pubsub) => vec![Fault::Database, Fault::Worker, Fault::Ingress],
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.rate > 0.0, "--rate must be positive");
    anyhow::ensure!(
        options.workers > 0 && options.tenants > 0,
        "--workers and --tenants must be positive"
    );
    let faults = options.faults();
    anyhow::ensure!(
        options.backend == QueueBackend::Rabbitmq || !faults.contains(&Fault::Broker),
        "the broker fault restarts RabbitMQ; on Pub/Sub leave it out (the emulator keeps \
         messages in memory only, so restarting it loses them by design)"
    );
    let binary = worker_process::switchyard_binary(options.switchyard_bin.as_ref())?;
    let run_id = format!("chaos{}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    let log_dir = options
        .log_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("switchyard-{run_id}")));
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let db = options.services.create_database(&run_id).await?;
    eprintln!(
        "chaos: database {}, queue prefix {run_id}, logs in {}",
        db.name,
        log_dir.display()
    );

    let outcome = run(&options, &binary, &db, &run_id, &log_dir).await;

    if options.keep_database {
        eprintln!("chaos: database {} kept", db.name);
    } else if let Err(e) = db.drop_database().await {
        eprintln!("chaos: could not drop {}: {e:#}", db.name);
    }
    if broker::usable(&options.services.amqp_url) {
        let (_, vhost) = broker::host_and_vhost(&options.services.amqp_url);
        for problem in broker::remove(&vhost, std::slice::from_ref(&run_id)) {
            eprintln!("chaos: clean-up: {problem}");
        }
    }
    let audit = outcome?;
    anyhow::ensure!(
        audit.passed(),
        "the run failed: {} lost, {} duplicated replies, {} never accepted",
        audit.lost_count(),
        audit.duplicated_replies,
        audit.never_accepted
    );
    Ok(())
}

async fn run(
    options: &Options,
    binary: &std::path::Path,
    db: &BenchDb,
    prefix: &str,
    log_dir: &std::path::Path,
) -> anyhow::Result<audit::Audit> {
    switchyard_shared::db::migrate(&db.owner_url)
        .await
        .with_context(|| format!("migrating {}", db.name))?;
    let fakes_shutdown = Shutdown::new();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let graph = FakeGraph::start(any, fakes_shutdown.clone()).await?;
    let telnyx = FakeTelnyx::start(any, fakes_shutdown.clone()).await?;
    let google = FakeGoogle::start(any, fakes_shutdown.clone()).await?;
    let gemini = FakeGemini::start(any, fakes_shutdown.clone()).await?;

    let key_spec = SecretBox::generate_key_spec("chaos1");
    let secrets = SecretBox::from_config(&key_spec)?;
    let setup_pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.app_url)
        .await
        .context("connecting as the runtime role")?;
    let tenants = tenants::create(&setup_pool, &secrets, &google, options.tenants).await?;
    setup_pool.close().await;

    let app_secret = format!("chaos-app-secret-{prefix}");
    let ingress_addr = bench_ingress::free_local_addr()?;
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", db.app_url.clone()),
        ("QUEUE_BACKEND", options.backend.setting().into()),
        ("PUBSUB_PROJECT_ID", PUBSUB_PROJECT.into()),
        ("PUBSUB_EMULATOR_HOST", options.pubsub_emulator_host.clone()),
        ("AMQP_URL", options.services.amqp_url.clone()),
        ("QUEUE_PREFIX", prefix.to_owned()),
        ("QUEUE_EXPIRES_SECS", "1800".into()),
        ("ENCRYPTION_KEYS", key_spec),
        ("WHATSAPP_APP_SECRET", app_secret.clone()),
        (
            "TELNYX_PUBLIC_KEY",
            TelnyxSigner::sandbox().public_key_base64(),
        ),
        ("WHATSAPP_API_BASE", graph.api_base()),
        ("TELNYX_API_BASE", telnyx.api_base()),
        ("GOOGLE_OAUTH_CLIENT_ID", CLIENT_ID.into()),
        ("GOOGLE_OAUTH_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("GOOGLE_OAUTH_TOKEN_URL", google.token_url()),
        ("GMAIL_API_BASE", gmail_api_base(&google)),
        ("GOOGLE_CERTS_URL", google.certs_url()),
        ("GMAIL_PUBSUB_TOPIC", SANDBOX_PUBSUB_TOPIC.into()),
        ("PUBSUB_PUSH_AUDIENCE", SANDBOX_PUSH_AUDIENCE.into()),
        (
            "PUBSUB_PUSH_SERVICE_ACCOUNT",
            SANDBOX_PUSH_SERVICE_ACCOUNT.into(),
        ),
        ("GEMINI_API_BASE", gemini.api_base()),
        ("GEMINI_API_KEY", FAKE_GEMINI_API_KEY.into()),
        ("BIND_ADDR", ingress_addr.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    let mut ingress = Service::new("ingress", 0, binary, env.clone(), log_dir);
    let mut workers: Vec<Service> = (0..options.workers)
        .map(|i| Service::new("worker", i, binary, env.clone(), log_dir))
        .collect();
    ingress.start()?;
    wait_ready(&mut ingress, ingress_addr).await?;
    for worker in &mut workers {
        worker.start()?;
    }

    let traffic = Arc::new(Traffic::new(
        format!("http://{ingress_addr}"),
        app_secret,
        google.clone(),
        tenants.clone(),
        options.customers,
    )?);
    let duration = Duration::from_secs(options.duration_secs);
    let faults = options.faults();
    let steady = {
        let traffic = traffic.clone();
        let rate = options.rate;
        tokio::spawn(async move { traffic.run_steady(rate, duration).await })
    };
    eprintln!(
        "chaos: {:.0} events/s for {} s, faults: {}",
        options.rate,
        options.duration_secs,
        faults
            .iter()
            .map(|f| f.label())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let started = tokio::time::Instant::now();
    let spacing = duration / u32::try_from(faults.len() + 1).unwrap_or(1);
    let (broker_port, database_port) = (
        port_of(&options.services.amqp_url, 5672),
        port_of(&options.services.postgres, 5432),
    );
    let mut injected = Vec::new();
    for (nth, fault) in faults.iter().enumerate() {
        let due = started + spacing * u32::try_from(nth + 1).unwrap_or(1);
        while tokio::time::Instant::now() < due {
            ingress.check_alive()?;
            for worker in &mut workers {
                worker.check_alive()?;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("chaos: injecting {}", fault.label());
        let mut target = Target {
            ingress: &mut ingress,
            ingress_addr,
            workers: &mut workers,
            traffic: &traffic,
            broker_restart: &options.broker_restart,
            broker_port,
            database_restart: &options.database_restart,
            database_port,
        };
        let done = faults::inject(*fault, nth, &mut target).await?;
        eprintln!(
            "chaos: {} healed after {:.1} s ({})",
            fault.label(),
            (done.healed - done.injected).as_seconds_f64(),
            done.detail
        );
        injected.push(done);
    }
    steady.await.context("the traffic task")??;
    // Providers retry for hours; the run gives the last events two minutes.
    traffic.give_up_at(chrono::Utc::now() + chrono::TimeDelta::seconds(120));
    let deliveries = traffic.finish().await;
    eprintln!(
        "chaos: traffic done ({} events); waiting for the system to settle",
        deliveries.len()
    );

    let owner_pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.owner_url)
        .await
        .context("connecting as the owner for the audit")?;
    let settled = audit::settle(
        &owner_pool,
        &deliveries,
        Duration::from_secs(options.settle_secs),
    )
    .await?;
    // Anything still about to be sent twice would show within moments.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fakes = audit::Fakes {
        graph: &graph,
        telnyx: &telnyx,
        google: &google,
    };
    let audit = audit::audit(
        &owner_pool,
        &deliveries,
        &injected,
        &tenants,
        &fakes,
        settled,
    )
    .await?;
    owner_pool.close().await;

    let mut clean_stops = Vec::new();
    for service in std::iter::once(&mut ingress).chain(workers.iter_mut()) {
        let clean = service.stop().await?;
        clean_stops.push((service.name(), clean));
    }
    fakes_shutdown.trigger();

    let text = report::markdown(options, &audit, &clean_stops);
    println!("{text}");
    if let Some(path) = &options.report {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(audit)
}

/// The port in `url` (`host:port` or a URL), or `default`.
fn port_of(url: &str, default: u16) -> u16 {
    let authority = url.rsplit('@').next().unwrap_or(url);
    let authority = authority
        .trim_start_matches("amqp://")
        .split('/')
        .next()
        .unwrap_or(authority);
    authority
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(default)
}
