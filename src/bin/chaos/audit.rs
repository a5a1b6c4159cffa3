//! The comparison at the end of a run: every event that got a 2xx against what the database
//! stored, and every stored message against the replies the fake providers received.
//!
//! - **lost**: accepted, yet its message is not stored (for a Gmail push: its notification
//!   was not processed either);
//! - **duplicated effects**: a customer received more replies than the run stored messages
//!   from that customer (every message carries the keyword the tenants' flow answers once);
//! - **missing replies**: fewer; with the outbox's own account of why (`unknown` is a send cut
//!   off mid-call, which is never repeated, so as never to send twice);
//! - **recovery**: per fault, from its start until the last event first sent between its
//!   start and its healing was stored: how long the fault delayed anything.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use switchyard::sandbox::FakeGraph;
use switchyard::sandbox::google::FakeGoogle;
use switchyard::sandbox::telnyx::FakeTelnyx;

use crate::faults::Injected;
use crate::tenants::ChaosTenant;
use crate::traffic::{Delivery, Source};

/// Events first sent this long before a fault count towards its recovery too (they may have
/// been in the worker when it struck).
const BEFORE_FAULT: chrono::TimeDelta = chrono::TimeDelta::seconds(2);

/// The fakes that received the replies.
pub struct Fakes<'a> {
    pub graph: &'a FakeGraph,
    pub telnyx: &'a FakeTelnyx,
    pub google: &'a FakeGoogle,
}

#[derive(Debug, Default, Clone)]
pub struct SourceCounts {
    pub sent: usize,
    pub accepted: usize,
    pub retried: usize,
    pub stored: usize,
    pub lost: usize,
}

#[derive(Debug, Clone)]
pub struct FaultOutcome {
    pub fault: Injected,
    /// Attempts refused (non-2xx or no answer) from the fault's start until 10 s after it
    /// healed.
    pub refused: usize,
    /// From the fault's start until the last event sent during it was stored.
    pub recovery: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Audit {
    pub by_source: BTreeMap<Source, SourceCounts>,
    pub never_accepted: usize,
    /// Stored although no attempt got a 2xx (the ingress died after publishing).
    pub stored_unacknowledged: usize,
    pub lost: Vec<String>,
    pub expected_replies: usize,
    pub replies: usize,
    pub duplicated_replies: usize,
    pub missing_replies: usize,
    pub outbox: BTreeMap<String, i64>,
    pub dead_letters: i64,
    pub unroutable: i64,
    /// Deliveries the dedup absorbed (`processed_events.duplicates`): provider retries of
    /// webhooks already accepted, and queue redeliveries after a fault.
    pub duplicates_absorbed: i64,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    pub latency_max: Duration,
    pub faults: Vec<FaultOutcome>,
    /// Whether everything had settled when the audit ran.
    pub settled: bool,
}

impl Audit {
    pub fn lost_count(&self) -> usize {
        self.lost.len()
    }

    pub fn max_recovery(&self) -> Option<Duration> {
        self.faults.iter().filter_map(|f| f.recovery).max()
    }

    pub fn passed(&self) -> bool {
        self.lost.is_empty() && self.duplicated_replies == 0 && self.never_accepted == 0
    }
}

/// Wait until the system has nothing left to do — every accepted message stored, no send
/// pending, nothing spooled or parked — or `timeout`; whether it settled.
pub async fn settle(
    pool: &PgPool,
    deliveries: &[Delivery],
    timeout: Duration,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let wanted: Vec<String> = deliveries
        .iter()
        .filter(|d| d.accepted.is_some())
        .map(|d| d.event.message_id.clone())
        .collect();
    loop {
        let stored = stored_messages(pool).await;
        let busy: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')) \
                  + (SELECT count(*) FROM publish_spool) \
                  + (SELECT count(*) FROM parked_events)",
        )
        .fetch_one(pool)
        .await;
        if let (Ok(stored), Ok(0)) = (&stored, &busy)
            && wanted.iter().all(|id| stored.contains_key(id))
        {
            return Ok(true);
        }
        if started.elapsed() >= timeout {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Inbound messages by provider id, with when each was stored.
async fn stored_messages(pool: &PgPool) -> Result<HashMap<String, DateTime<Utc>>, sqlx::Error> {
    let rows: Vec<(String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT provider_message_id, created_at FROM messages WHERE direction = 'inbound'",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().collect())
}

pub async fn audit(
    pool: &PgPool,
    deliveries: &[Delivery],
    faults: &[Injected],
    tenants: &[ChaosTenant],
    fakes: &Fakes<'_>,
    settled: bool,
) -> anyhow::Result<Audit> {
    let stored = stored_messages(pool).await?;
    let processed: Vec<String> = sqlx::query_scalar("SELECT dedup_key FROM processed_events")
        .fetch_all(pool)
        .await?;
    let processed: std::collections::HashSet<String> = processed.into_iter().collect();

    let mut by_source: BTreeMap<Source, SourceCounts> = BTreeMap::new();
    let mut lost = Vec::new();
    let mut never_accepted = 0;
    let mut stored_unacknowledged = 0;
    let mut expected: HashMap<&str, usize> = HashMap::new();
    let mut latencies = Vec::new();
    for delivery in deliveries {
        let event = &delivery.event;
        let counts = by_source.entry(event.source).or_default();
        counts.sent += 1;
        let stored_at = stored.get(&event.message_id);
        if stored_at.is_some() {
            counts.stored += 1;
            *expected.entry(event.customer.as_str()).or_default() += 1;
        }
        if delivery.attempts > 1 {
            counts.retried += 1;
        }
        let Some(accepted) = delivery.accepted else {
            never_accepted += 1;
            if stored_at.is_some() {
                stored_unacknowledged += 1;
            }
            continue;
        };
        counts.accepted += 1;
        let push_processed = event
            .push_id
            .as_ref()
            .is_none_or(|id| processed.contains(&format!("pubsub:{id}")));
        match stored_at {
            Some(at) if push_processed => {
                latencies.push((*at - delivery.first_try).to_std().unwrap_or_default());
            }
            _ => {
                counts.lost += 1;
                lost.push(format!(
                    "#{} {} tenant {} {} (message stored: {}, accepted {accepted})",
                    event.seq,
                    event.source.label(),
                    event.tenant,
                    event.message_id,
                    stored_at.is_some()
                ));
            }
        }
    }
    let received = replies_by_customer(tenants, fakes, &expected);
    let mut duplicated_replies = 0;
    let mut missing_replies = 0;
    for (customer, want) in &expected {
        let got = received.get(customer).copied().unwrap_or(0);
        duplicated_replies += got.saturating_sub(*want);
        missing_replies += want.saturating_sub(got);
    }
    let outbox: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await?;
    let dead_letters: i64 = sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(pool)
        .await?;
    let unroutable: i64 = sqlx::query_scalar("SELECT count(*) FROM unroutable_events")
        .fetch_one(pool)
        .await?;
    let duplicates_absorbed: i64 =
        sqlx::query_scalar("SELECT coalesce(sum(duplicates), 0)::bigint FROM processed_events")
            .fetch_one(pool)
            .await?;

    latencies.sort();
    let quantile = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let faults = faults
        .iter()
        .map(|fault| fault_outcome(fault, deliveries, &stored))
        .collect();
    Ok(Audit {
        by_source,
        never_accepted,
        stored_unacknowledged,
        lost,
        expected_replies: expected.values().sum(),
        replies: received.values().sum(),
        duplicated_replies,
        missing_replies,
        outbox: outbox.into_iter().collect(),
        dead_letters,
        unroutable,
        duplicates_absorbed,
        latency_p50: quantile(0.5),
        latency_p99: quantile(0.99),
        latency_max: latencies.last().copied().unwrap_or_default(),
        faults,
        settled,
    })
}

/// Replies each of the run's customers received, from the fakes' records.
fn replies_by_customer<'a>(
    tenants: &[ChaosTenant],
    fakes: &Fakes<'_>,
    customers: &HashMap<&'a str, usize>,
) -> HashMap<&'a str, usize> {
    let mut received: HashMap<&'a str, usize> = HashMap::new();
    let mut count = |address: &str| {
        if let Some((customer, _)) = customers.get_key_value(address) {
            *received.entry(customer).or_default() += 1;
        }
    };
    for sent in fakes.graph.sent() {
        if let Some(to) = sent.body.get("to").and_then(|v| v.as_str()) {
            count(to.trim_start_matches('+'));
        }
    }
    for sent in fakes.telnyx.sent() {
        if let Some(to) = sent.body.get("to").and_then(|v| v.as_str()) {
            count(to);
        }
    }
    for tenant in tenants {
        for mail in fakes.google.sent(&tenant.mailbox) {
            if let Some(to) = mail
                .message
                .lines()
                .find(|line| line.starts_with("To:"))
                .and_then(|line| line.split('<').nth(1))
                .and_then(|rest| rest.split('>').next())
            {
                count(to);
            }
        }
    }
    received
}

fn fault_outcome(
    fault: &Injected,
    deliveries: &[Delivery],
    stored: &HashMap<String, DateTime<Utc>>,
) -> FaultOutcome {
    let refused_until = fault.healed + chrono::TimeDelta::seconds(10);
    let refused = deliveries
        .iter()
        .flat_map(|d| d.refusals.iter())
        .filter(|(at, _)| *at >= fault.injected && *at <= refused_until)
        .count();
    let recovery = deliveries
        .iter()
        .filter(|d| d.first_try >= fault.injected - BEFORE_FAULT && d.first_try <= fault.healed)
        .filter_map(|d| stored.get(&d.event.message_id))
        .max()
        .map(|last| (*last - fault.injected).to_std().unwrap_or_default());
    FaultOutcome {
        fault: fault.clone(),
        refused,
        recovery,
    }
}
