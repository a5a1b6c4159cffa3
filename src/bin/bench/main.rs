//! `bench`: throughput, acknowledgement latency and memory of the WhatsApp webhook ingress,
//! set against the broker's raw publish-with-confirm rate for the same message size.
//!
//! ```text
//! cargo build --release --bins && target/release/bench [--connections 64] [--duration-secs 15]
//! ```
//!
//! One run: a fresh database with one tenant → the raw reference (publishing envelopes straight
//! to the broker) → the real `switchyard serve --role ingress` as a child process, driven with
//! signed webhooks over keep-alive connections → report → clean-up (child stopped, database
//! dropped, queues and exchanges removed). See `BENCHMARKS.md` for the method and results.

mod ingress;
mod load;
mod procstat;
mod raw;
mod setup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use switchyard_shared::config::{PubSubConfig, QueueBackend, QueueConfig};
use switchyard_shared::domain::TenantId;
use switchyard_shared::secrets::SecretBox;

use crate::ingress::Ingress;
use crate::load::{Conn, PhaseResult, RequestFactory, RequestSource};
use crate::procstat::{Accounting, CpuUsage, RssSampler};
use crate::raw::{RawRun, RawSettings, Reference};
use crate::setup::{BenchDb, Services, broker};

/// The Google Cloud project of the Pub/Sub runs (on the emulator).
const PUBSUB_PROJECT: &str = "switchyard-bench";

/// Targets (informational; the program does not fail on a miss).
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_MS: f64 = 25.0;
const TARGET_RSS_BYTES: u64 = 64 * 1024 * 1024;
/// CPU used by processes outside the benchmark above which a phase counts as disturbed.
const NOISE_CORES: f64 = 0.25;

#[derive(Debug, Clone, Parser)]
#[command(
    name = "bench",
    about = "Benchmark the Switchyard ingress against the broker's raw confirm rate"
)]
struct Options {
    /// Concurrent HTTP/1.1 keep-alive connections driving the ingress (one request in flight
    /// on each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Length of the measured ingress phase, in seconds.
    #[arg(long, default_value_t = 15)]
    duration_secs: u64,
    /// Unmeasured load before it, in seconds.
    #[arg(long, default_value_t = 3)]
    warmup_secs: u64,
    /// Envelopes published in each raw reference run.
    #[arg(long, default_value_t = 60_000)]
    raw_messages: usize,
    /// Envelopes per publish call (confirms awaited together) in the pipelined reference.
    #[arg(long, default_value_t = 64)]
    raw_batch: usize,
    /// Concurrent publishers in the pipelined reference.
    #[arg(long, default_value_t = 8)]
    raw_publishers: usize,
    /// AMQP channels with publisher confirms, in the reference and in the ingress
    /// (QUEUE_PUBLISH_CHANNELS).
    #[arg(long, default_value_t = 4)]
    publish_channels: usize,
    #[command(flatten)]
    services: Services,
    /// Idle seconds after which the broker deletes the run's queues (QUEUE_EXPIRES_SECS), in
    /// case the clean-up at the end cannot.
    #[arg(long, default_value_t = 120)]
    queue_expires_secs: u64,
    /// The switchyard binary (default: the one next to this executable).
    #[arg(long)]
    ingress_bin: Option<PathBuf>,
    /// Most requests prepared before the measured phase (bounds the generator's memory;
    /// beyond it requests are built during the phase, and counted).
    #[arg(long, default_value_t = 200_000)]
    max_prepared: usize,
    /// Do not use rabbitmqctl (queue-depth check, immediate removal of queues and exchanges).
    #[arg(long)]
    no_rabbitmqctl: bool,
    /// The queue backends to measure, one after the other (comma-separated); the report puts
    /// them side by side.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "rabbitmq")]
    backends: Vec<QueueBackend>,
    /// The Pub/Sub emulator (`host:port`) for the `pubsub` backend.
    #[arg(long, env = "PUBSUB_EMULATOR_HOST", default_value = "127.0.0.1:8085")]
    pubsub_emulator_host: String,
}

struct IngressReport {
    ready_after: Duration,
    request_bytes: usize,
    warmup: PhaseResult,
    measured: PhaseResult,
    prepared: usize,
    built_late: u64,
    cpu: CpuUsage,
    rss_idle: u64,
    rss_max_sampled: u64,
    rss_samples: usize,
    rss_end: u64,
    vm_hwm: u64,
    /// Messages in the ingress's partition queues afterwards, when rabbitmqctl could tell.
    queued: Option<u64>,
}

struct Report {
    body_bytes: usize,
    envelope_bytes: usize,
    ingress_binary: String,
    /// The pipelined reference, before and after the ingress phase.
    pipelined: [RawRun; 2],
    one_per_call: RawRun,
    ingress: IngressReport,
}

impl Report {
    /// The reference rate: the mean of the pipelined runs around the ingress phase.
    fn reference_rate(&self) -> f64 {
        self.pipelined.iter().map(RawRun::rate).sum::<f64>() / self.pipelined.len() as f64
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    anyhow::ensure!(options.connections > 0, "--connections must be positive");
    anyhow::ensure!(
        options.duration_secs > 0,
        "--duration-secs must be positive"
    );
    anyhow::ensure!(
        options.raw_messages > 0 && options.raw_batch > 0 && options.raw_publishers > 0,
        "the raw reference needs messages, a batch size and publishers"
    );
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let prefix = format!("bench-{run_id}");
    let raw_prefix = format!("{prefix}-raw");
    let (_, vhost) = broker::host_and_vhost(&options.services.amqp_url);
    let rabbitmqctl = !options.no_rabbitmqctl && broker::usable(&options.services.amqp_url);

    // Fail before setting anything up when the binary under test is missing.
    ingress_binary(&options)?;
    let db = options
        .services
        .create_database(&run_id)
        .await
        .context("creating the bench database")?;
    eprintln!(
        "bench {run_id}: database {}, queue prefixes {raw_prefix} and {prefix}",
        db.name
    );

    let all = async {
        // One tenant (and encryption key) for every backend's run.
        let key_spec = SecretBox::generate_key_spec("bench1");
        let secrets = SecretBox::from_config(&key_spec).context("bench encryption key")?;
        let tenant = db.prepare(&secrets).await?;
        let mut reports = Vec::new();
        for backend in &options.backends {
            let (prefix, raw_prefix) = prefixes(&prefix, *backend);
            let ctl = (*backend == QueueBackend::Rabbitmq && rabbitmqctl).then_some(vhost.as_str());
            let report = run(
                &options,
                *backend,
                (&key_spec, tenant),
                &db,
                &prefix,
                &raw_prefix,
                ctl,
            )
            .await?;
            reports.push((*backend, report));
        }
        Ok::<_, anyhow::Error>(reports)
    };
    let outcome = tokio::select! {
        outcome = all => outcome,
        Ok(()) = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    // The ingress child is stopped by now (by `run`, or by its Drop when `run` was cut short).

    let mut leftovers = Vec::new();
    if rabbitmqctl {
        let (prefix, raw_prefix) = prefixes(&prefix, QueueBackend::Rabbitmq);
        let prefixes = vec![raw_prefix.clone(), prefix.clone()];
        let vhost = vhost.clone();
        match tokio::task::spawn_blocking(move || broker::remove(&vhost, &prefixes)).await {
            Ok(problems) => leftovers.extend(problems),
            Err(e) => leftovers.push(format!("removing broker objects: {e}")),
        }
    } else {
        leftovers.push(format!(
            "queues under {raw_prefix} and {prefix} expire after {} s idle; their exchanges \
             (.events, .dead) stay",
            options.queue_expires_secs
        ));
    }
    let dropped = db.drop_database().await;

    if let Ok(reports) = &outcome {
        for (backend, report) in reports {
            println!();
            println!("# {}", backend_name(*backend));
            print_report(&options, report);
        }
        if reports.len() > 1 {
            print_side_by_side(reports);
        }
    }
    for leftover in &leftovers {
        eprintln!("clean-up: {leftover}");
    }
    match &dropped {
        Ok(()) => eprintln!("clean-up: ingress stopped, database {} dropped", db.name),
        Err(e) => eprintln!("clean-up: could not drop database {}: {e:#}", db.name),
    }
    outcome?;
    dropped
}

/// The ingress's and the reference's queue prefixes for `backend`.
fn prefixes(base: &str, backend: QueueBackend) -> (String, String) {
    let prefix = match backend {
        QueueBackend::Rabbitmq => base.to_owned(),
        QueueBackend::Pubsub => format!("{base}-pubsub"),
    };
    let raw = format!("{prefix}-raw");
    (prefix, raw)
}

fn backend_name(backend: QueueBackend) -> &'static str {
    match backend {
        QueueBackend::Rabbitmq => "RabbitMQ",
        QueueBackend::Pubsub => "Pub/Sub (emulator)",
    }
}

/// The queue settings of `backend` under `prefix`, as the reference and the ingress use them.
fn queue_config(options: &Options, backend: QueueBackend, prefix: &str) -> QueueConfig {
    QueueConfig {
        backend,
        publish_channels: options.publish_channels,
        expires_secs: Some(options.queue_expires_secs),
        pubsub: PubSubConfig {
            project: Some(PUBSUB_PROJECT.into()),
            emulator_host: Some(options.pubsub_emulator_host.clone()),
            create_topology: true,
            ..Default::default()
        },
        ..options.services.rabbitmq_queue(prefix)
    }
}

/// The main figures of every backend, one column each.
fn print_side_by_side(reports: &[(QueueBackend, Report)]) {
    println!();
    println!("# Side by side");
    println!();
    let header: Vec<&str> = reports.iter().map(|(b, _)| backend_name(*b)).collect();
    println!("| | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(reports.len()));
    let row = |name: &str, value: &dyn Fn(&Report) -> String| {
        let cells: Vec<String> = reports.iter().map(|(_, r)| value(r)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("raw pipelined publish (reference)", &|r| {
        format!("{:.0} msgs/s", r.reference_rate())
    });
    row("raw, one envelope per call", &|r| {
        format!("{:.0} msgs/s", r.one_per_call.rate())
    });
    row("ingress", &|r| {
        format!("{:.0} req/s", r.ingress.measured.rate())
    });
    row("ingress / reference", &|r| {
        format!(
            "{:.2}",
            r.ingress.measured.rate() / r.reference_rate().max(1e-9)
        )
    });
    row("ack latency p50 / p99", &|r| {
        let h = &r.ingress.measured.latency;
        format!(
            "{:.1} / {:.1} ms",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99))
        )
    });
    row("ingress peak RSS (VmHWM)", &|r| {
        format!("{:.1} MiB", mib(r.ingress.vm_hwm))
    });
}

/// The `switchyard` binary to start, checked to exist.
fn ingress_binary(options: &Options) -> anyhow::Result<PathBuf> {
    let binary = match &options.ingress_bin {
        Some(path) => path.clone(),
        None => ingress::default_binary()?,
    };
    anyhow::ensure!(
        binary.is_file(),
        "{} not found; run `cargo build --release --bins` first (or pass --ingress-bin)",
        binary.display()
    );
    Ok(binary)
}

async fn run(
    options: &Options,
    backend: QueueBackend,
    tenant: (&str, TenantId),
    db: &BenchDb,
    prefix: &str,
    raw_prefix: &str,
    rabbitmqctl_vhost: Option<&str>,
) -> anyhow::Result<Report> {
    let (key_spec, tenant) = tenant;
    let app_secret = format!("bench-app-secret-{}", uuid::Uuid::new_v4().simple());

    let sample_body = setup::webhook_body();
    let envelope_bytes = setup::envelope_for(tenant, &sample_body)?
        .to_bytes()
        .context("serializing the sample envelope")?
        .len();
    // The broker's processes, whose CPU is reported apart: RabbitMQ's Erlang VM, or the
    // emulator's JVM.
    let broker_process = match backend {
        QueueBackend::Rabbitmq => "beam.smp",
        QueueBackend::Pubsub => "java",
    };
    let broker_pids = procstat::pids_named(broker_process);
    if broker_pids.is_empty() {
        eprintln!("note: no {broker_process} process visible; broker CPU is counted as 'other'");
    }

    eprintln!("reference: publishing straight to the broker …");
    let raw_accounting = Accounting {
        ingress: None,
        broker: broker_pids.clone(),
    };
    let reference = Reference::connect(
        RawSettings {
            queue: queue_config(options, backend, raw_prefix),
            messages: options.raw_messages,
            batch: options.raw_batch,
            publishers: options.raw_publishers,
            single_publishers: options.connections,
        },
        tenant,
    )
    .await?;
    let before = reference.pipelined("before", &raw_accounting).await?;
    eprintln!("  {}: {:.0} msgs/s", before.label, before.rate());
    let one_per_call = reference.one_per_call(&raw_accounting).await?;
    eprintln!(
        "  {}: {:.0} msgs/s",
        one_per_call.label,
        one_per_call.rate()
    );

    let binary = ingress_binary(options)?;
    let built = std::fs::metadata(&binary)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .map_or_else(String::new, |age| {
            format!(", built {} min ago", age.as_secs() / 60)
        });
    let ingress_binary = format!("{}{built}", binary.display());
    eprintln!("ingress: starting {ingress_binary} …");
    let addr = ingress::free_local_addr()?;
    let env = [
        ("DATABASE_URL", db.app_url.clone()),
        ("QUEUE_BACKEND", backend.setting().to_owned()),
        ("PUBSUB_PROJECT_ID", PUBSUB_PROJECT.to_owned()),
        ("PUBSUB_EMULATOR_HOST", options.pubsub_emulator_host.clone()),
        ("AMQP_URL", options.services.amqp_url.clone()),
        ("QUEUE_PREFIX", prefix.to_owned()),
        ("QUEUE_EXPIRES_SECS", options.queue_expires_secs.to_string()),
        (
            "QUEUE_PUBLISH_CHANNELS",
            options.publish_channels.to_string(),
        ),
        ("ENCRYPTION_KEYS", key_spec.to_owned()),
        ("WHATSAPP_APP_SECRET", app_secret.clone()),
        ("RUST_LOG", "warn".to_owned()),
    ];
    let mut child = Ingress::spawn(&binary, addr, &env)?;
    let ingress = drive_ingress(options, &mut child, app_secret, &broker_pids).await;
    let stopped = child.stop().await;
    let mut ingress = ingress?;
    let status = stopped?;
    if let Some(status) = status
        && !status.success()
    {
        eprintln!("note: the ingress exited with {status} after SIGTERM");
    }

    let after = reference.pipelined("after", &raw_accounting).await?;
    eprintln!("  {}: {:.0} msgs/s", after.label, after.rate());
    drop(reference);

    if let Some(vhost) = rabbitmqctl_vhost {
        let expected = ingress.warmup.ok + ingress.measured.ok;
        ingress.queued = queued_messages(vhost, prefix, expected).await;
    }

    Ok(Report {
        body_bytes: sample_body.len(),
        envelope_bytes,
        ingress_binary,
        pipelined: [before, after],
        one_per_call,
        ingress,
    })
}

/// Messages in the ingress's partition queues. Quorum queues report their length with a
/// delay of a few seconds, so this polls until the count reaches `expected` (for at most 15 s).
async fn queued_messages(vhost: &str, prefix: &str, expected: u64) -> Option<u64> {
    let partitions = format!("{prefix}.p");
    let mut last = None;
    for _ in 0..15 {
        let (vhost, prefix) = (vhost.to_owned(), prefix.to_owned());
        let now = tokio::task::spawn_blocking(move || broker::queue_depths(&vhost, &prefix))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|depths| {
                depths
                    .iter()
                    .filter(|(name, _)| name.starts_with(&partitions))
                    .map(|(_, messages)| messages)
                    .sum()
            });
        if now == Some(expected) {
            return now;
        }
        last = now.or(last);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    last
}

async fn drive_ingress(
    options: &Options,
    child: &mut Ingress,
    app_secret: String,
    broker_pids: &[u32],
) -> anyhow::Result<IngressReport> {
    let ready_after = child.wait_ready().await?;
    let pid = child.pid();
    let rss_idle = procstat::status_bytes(pid, "VmRSS")?;
    let factory = Arc::new(RequestFactory {
        app_secret,
        host: child.addr.to_string(),
    });
    let request_bytes = factory.build().len();

    let mut conns = Vec::with_capacity(options.connections);
    for _ in 0..options.connections {
        conns.push(Conn::open(child.addr).await?);
    }
    let sampler = RssSampler::start(pid, Duration::from_millis(100));

    eprintln!(
        "ingress: warm-up {} s on {} connections …",
        options.warmup_secs, options.connections
    );
    let on_the_spot = Arc::new(RequestSource::prepared(factory.clone(), 0));
    let (conns, warmup) =
        load::run_phase(conns, on_the_spot, Duration::from_secs(options.warmup_secs)).await?;

    // Enough signed requests for the measured phase at 1.5× the warm-up rate.
    let expected = warmup.rate() * options.duration_secs as f64 * 1.5;
    let prepared = (expected.ceil() as usize)
        .saturating_add(options.connections * 4)
        .max(10_000)
        .min(options.max_prepared);
    let source = Arc::new(RequestSource::prepared(factory.clone(), prepared));

    eprintln!(
        "ingress: measuring {} s ({prepared} requests prepared) …",
        options.duration_secs
    );
    let accounting = Accounting {
        ingress: Some(pid),
        broker: broker_pids.to_vec(),
    };
    let before = accounting.snapshot()?;
    let (conns, measured) = load::run_phase(
        conns,
        source.clone(),
        Duration::from_secs(options.duration_secs),
    )
    .await?;
    let cpu = before.until(&accounting.snapshot()?);
    let vm_hwm = procstat::status_bytes(pid, "VmHWM")?;
    let rss_end = procstat::status_bytes(pid, "VmRSS")?;
    let (rss_max_sampled, rss_samples) = sampler.finish().await?;
    drop(conns);

    Ok(IngressReport {
        ready_after,
        request_bytes,
        warmup,
        measured,
        prepared,
        built_late: source.built_late(),
        cpu,
        rss_idle,
        rss_max_sampled,
        rss_samples,
        rss_end,
        vm_hwm,
        queued: None,
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

fn cpu_line(cpu: &CpuUsage) -> String {
    let ingress = cpu
        .ingress
        .map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
    format!(
        "ingress {ingress} · broker {:.2} · load generator {:.2} · other {:.2} · busy {:.2} of {}",
        cpu.broker, cpu.generator, cpu.other, cpu.busy, cpu.cpus
    )
}

fn print_report(options: &Options, report: &Report) {
    let ing = &report.ingress;
    let m = &ing.measured;
    let h = &m.latency;
    let (p50, p90, p99, max) = (
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.90)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    );
    let reference = report.reference_rate();
    let ratio = if reference > 0.0 {
        m.rate() / reference
    } else {
        0.0
    };

    println!();
    println!(
        "## Results ({} CPUs; webhook body {} B, envelope {} B, HTTP request {} B)",
        ing.cpu.cpus, report.body_bytes, report.envelope_bytes, ing.request_bytes
    );
    println!();
    println!("| measurement | messages | rate | CPU during the run (cores) |");
    println!("|---|---:|---:|---|");
    let [before, after] = &report.pipelined;
    for run in [before, &report.one_per_call, after] {
        println!(
            "| {} | {} | {:.0} msgs/s | {} |",
            run.label,
            run.messages,
            run.rate(),
            cpu_line(&run.cpu)
        );
    }
    println!(
        "| ingress, {} connections, {} s after {} s warm-up | {} | {:.0} req/s | {} |",
        options.connections,
        options.duration_secs,
        options.warmup_secs,
        m.ok,
        m.rate(),
        cpu_line(&ing.cpu)
    );
    println!();
    println!("| ingress ack latency | p50 | p90 | p99 | max | mean |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| ms | {p50:.2} | {p90:.2} | {p99:.2} | {max:.2} | {:.2} |",
        h.mean() / 1000.0
    );
    println!();
    println!("| ingress memory | MiB |");
    println!("|---|---:|");
    println!("| VmRSS after /readyz, idle | {:.1} |", mib(ing.rss_idle));
    println!(
        "| VmRSS max of {} samples (every 100 ms, warm-up + measured) | {:.1} |",
        ing.rss_samples,
        mib(ing.rss_max_sampled)
    );
    println!("| VmRSS at the end of the load | {:.1} |", mib(ing.rss_end));
    println!(
        "| VmHWM (peak RSS) at the end of the load | {:.1} |",
        mib(ing.vm_hwm)
    );
    println!();
    let errors = m.errors();
    println!(
        "errors in the measured phase: {errors} ({} transport{}{})",
        m.transport_errors,
        if m.statuses.is_empty() {
            String::new()
        } else {
            format!(
                ", statuses {}",
                m.statuses
                    .iter()
                    .map(|(s, n)| format!("{s}×{n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        },
        m.first_transport_error
            .as_ref()
            .map_or_else(String::new, |e| format!("; first: {e}"))
    );
    println!(
        "warm-up: {} OK at {:.0} req/s, {} errors; ready {:.2} s after start; {} requests \
         prepared, {} built during the measured phase",
        ing.warmup.ok,
        ing.warmup.rate(),
        ing.warmup.errors(),
        ing.ready_after.as_secs_f64(),
        ing.prepared,
        ing.built_late
    );
    if let Some(queued) = ing.queued {
        let accepted = ing.warmup.ok + m.ok;
        println!(
            "queue check: {queued} messages in the partition queues for {accepted} answers 200 ({})",
            if queued == accepted {
                "every acknowledged webhook is in the queue"
            } else {
                "counts differ"
            }
        );
    }
    println!(
        "ingress ÷ raw one-envelope-per-call: {:.2}; ingress ÷ pipelined before/after: {:.2} / {:.2}",
        m.rate() / report.one_per_call.rate(),
        m.rate() / before.rate(),
        m.rate() / after.rate()
    );
    println!("ingress binary: {}", report.ingress_binary);
    let noisy = [before, &report.one_per_call, after]
        .iter()
        .map(|r| r.cpu.other)
        .chain([ing.cpu.other])
        .fold(0.0, f64::max);
    if noisy > NOISE_CORES {
        println!(
            "note: processes outside this benchmark used up to {noisy:.2} cores during a phase; \
             the numbers are disturbed by that load"
        );
    }
    println!();
    println!("| target | measured | result |");
    println!("|---|---:|---|");
    println!(
        "| ingress req/s ≥ {:.0}% of raw pipelined confirm rate (mean of before/after) | {:.0} / {:.0} = {:.2} | {} |",
        TARGET_RATIO * 100.0,
        m.rate(),
        reference,
        ratio,
        verdict(ratio >= TARGET_RATIO)
    );
    println!(
        "| p99 ack latency < {TARGET_P99_MS:.0} ms at {} connections | {p99:.2} ms | {} |",
        options.connections,
        verdict(p99 < TARGET_P99_MS && errors == 0 && m.ok > 0)
    );
    println!(
        "| ingress peak RSS < {} MiB | {:.1} MiB | {} |",
        TARGET_RSS_BYTES / (1024 * 1024),
        mib(ing.vm_hwm.max(ing.rss_max_sampled)),
        verdict(ing.vm_hwm.max(ing.rss_max_sampled) < TARGET_RSS_BYTES)
    );
    println!();
}
