//! The reference: how fast the queue (RabbitMQ, or Pub/Sub) confirms publishes of the ingress's
//! message size when nothing but publishing happens, through the same publishing code the
//! ingress uses (`switchyard_shared::queue`), without HTTP, verification or routing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use switchyard_shared::config::QueueConfig;
use switchyard_shared::domain::TenantId;
use switchyard_shared::envelope::Envelope;
use switchyard_shared::queue::EventQueue;
use tokio::task::JoinSet;

use crate::procstat::{Accounting, CpuUsage};
use crate::setup;

/// One reference run.
#[derive(Debug, Clone)]
pub struct RawRun {
    pub label: String,
    pub messages: usize,
    pub elapsed: Duration,
    pub cpu: CpuUsage,
}

impl RawRun {
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }
}

pub struct RawSettings {
    /// The queue, under the reference's own prefix.
    pub queue: QueueConfig,
    pub messages: usize,
    pub batch: usize,
    pub publishers: usize,
    pub single_publishers: usize,
}

fn envelopes(tenant: TenantId, n: usize) -> anyhow::Result<Arc<Vec<Envelope>>> {
    (0..n)
        .map(|_| setup::envelope_for(tenant, &setup::webhook_body()))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Arc::new)
}

/// Publish every envelope, `per_call` at a time (one `publish` call awaits the confirms of
/// its envelopes together), from `tasks` concurrent publishers.
async fn publish_all(
    queue: &Arc<dyn EventQueue>,
    envelopes: Arc<Vec<Envelope>>,
    per_call: usize,
    tasks: usize,
) -> anyhow::Result<Duration> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..tasks {
        let (queue, envelopes, next) = (queue.clone(), envelopes.clone(), next.clone());
        set.spawn(async move {
            loop {
                let from = next.fetch_add(per_call, Ordering::Relaxed);
                if from >= envelopes.len() {
                    return Ok::<_, anyhow::Error>(());
                }
                let to = (from + per_call).min(envelopes.len());
                queue
                    .publish(&envelopes[from..to])
                    .await
                    .context("raw publish")?;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.context("publisher task")??;
    }
    Ok(started.elapsed())
}

/// A broker connection for reference runs, publishing through the ingress's own queue code.
pub struct Reference {
    queue: Arc<dyn EventQueue>,
    tenant: TenantId,
    settings: RawSettings,
}

impl Reference {
    /// Connect (declaring the topology under the reference's own prefix) and warm up the
    /// connection, its channels and the queue.
    pub async fn connect(settings: RawSettings, tenant: TenantId) -> anyhow::Result<Self> {
        let queue = switchyard_shared::queue::connect(&settings.queue)
            .await
            .context("connecting to the queue for the reference")?;
        queue
            .ready()
            .await
            .context("the queue is not reachable for the reference")?;
        publish_all(&queue, envelopes(tenant, 512)?, 1, 64).await?;
        Ok(Self {
            queue,
            tenant,
            settings,
        })
    }

    /// Many envelopes in flight: `publishers` tasks each publishing `batch` envelopes per
    /// call and awaiting their confirms together.
    pub async fn pipelined(&self, label: &str, accounting: &Accounting) -> anyhow::Result<RawRun> {
        let s = &self.settings;
        let label = format!(
            "raw pipelined, {label} ({} publishers × {} envelopes per confirm wait)",
            s.publishers, s.batch
        );
        self.measure(label, s.batch, s.publishers, accounting).await
    }

    /// The ingress's pattern without HTTP: one envelope per call from as many concurrent
    /// publishers as the ingress gets connections.
    pub async fn one_per_call(&self, accounting: &Accounting) -> anyhow::Result<RawRun> {
        let s = &self.settings;
        let label = format!(
            "raw one envelope per call ({} concurrent publishers)",
            s.single_publishers
        );
        self.measure(label, 1, s.single_publishers, accounting)
            .await
    }

    async fn measure(
        &self,
        label: String,
        per_call: usize,
        tasks: usize,
        accounting: &Accounting,
    ) -> anyhow::Result<RawRun> {
        let batch = envelopes(self.tenant, self.settings.messages)?;
        let before = accounting.snapshot()?;
        let elapsed = publish_all(&self.queue, batch, per_call, tasks).await?;
        let cpu = before.until(&accounting.snapshot()?);
        Ok(RawRun {
            label,
            messages: self.settings.messages,
            elapsed,
            cpu,
        })
    }
}
