//! The run's report, in Markdown: printed, and written to `--report` for RELIABILITY.md.

use std::fmt::Write;
use std::time::Duration;

use crate::Options;
use crate::audit::Audit;
use crate::traffic::Source;

pub fn markdown(options: &Options, audit: &Audit, clean_stops: &[(String, bool)]) -> String {
    let mut out = String::new();
    let total = |f: fn(&crate::audit::SourceCounts) -> usize| -> usize {
        audit.by_source.values().map(f).sum()
    };
    let _ = writeln!(
        out,
        "Run on {}: {} events/s for {} s, {} tenants × {} customers per channel, {} workers; \
         faults: {}.\n",
        match options.backend {
            switchyard_shared::config::QueueBackend::Rabbitmq => "RabbitMQ",
            switchyard_shared::config::QueueBackend::Pubsub => "Pub/Sub (emulator)",
        },
        options.rate,
        options.duration_secs,
        options.tenants,
        options.customers,
        options.workers,
        audit
            .faults
            .iter()
            .map(|f| f.fault.fault.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "| | sent | accepted (2xx) | needed a retry | stored | lost |\n|---|---:|---:|---:|---:|---:|"
    );
    for source in Source::ALL {
        if let Some(c) = audit.by_source.get(&source) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                source.label(),
                c.sent,
                c.accepted,
                c.retried,
                c.stored,
                c.lost
            );
        }
    }
    let _ = writeln!(
        out,
        "| **all** | **{}** | **{}** | **{}** | **{}** | **{}** |\n",
        total(|c| c.sent),
        total(|c| c.accepted),
        total(|c| c.retried),
        total(|c| c.stored),
        total(|c| c.lost)
    );
    let _ = writeln!(out, "| result | |\n|---|---|");
    let rows = [
        ("accepted events lost", audit.lost_count().to_string()),
        (
            "duplicated effects (replies beyond one per stored message)",
            audit.duplicated_replies.to_string(),
        ),
        ("events never accepted", audit.never_accepted.to_string()),
        (
            "of those, stored anyway (answered too late)",
            audit.stored_unacknowledged.to_string(),
        ),
        (
            "replies expected / received",
            format!("{} / {}", audit.expected_replies, audit.replies),
        ),
        (
            "replies missing",
            format!(
                "{} (outbox: {})",
                audit.missing_replies,
                audit
                    .outbox
                    .iter()
                    .map(|(status, n)| format!("{n} {status}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        (
            "duplicate deliveries absorbed by the dedup",
            audit.duplicates_absorbed.to_string(),
        ),
        (
            "dead letters / unroutable",
            format!("{} / {}", audit.dead_letters, audit.unroutable),
        ),
        (
            "first attempt → stored, p50 / p99 / max",
            format!(
                "{} / {} / {}",
                secs(audit.latency_p50),
                secs(audit.latency_p99),
                secs(audit.latency_max)
            ),
        ),
        (
            "maximum recovery time",
            audit.max_recovery().map_or("n/a".into(), secs),
        ),
        (
            "settled before the audit",
            if audit.settled { "yes" } else { "no" }.into(),
        ),
        (
            "graceful stop at the end",
            clean_stops
                .iter()
                .map(|(name, clean)| {
                    format!("{name} {}", if *clean { "clean" } else { "NOT clean" })
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "| {name} | {value} |");
    }
    let _ = writeln!(
        out,
        "\n| fault | healed after | attempts refused | recovery | detail |\n|---|---:|---:|---:|---|"
    );
    for f in &audit.faults {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            f.fault.fault.label(),
            secs(
                (f.fault.healed - f.fault.injected)
                    .to_std()
                    .unwrap_or_default()
            ),
            f.refused,
            f.recovery.map_or("n/a".into(), secs),
            f.fault.detail
        );
    }
    if !audit.lost.is_empty() {
        let _ = writeln!(out, "\nLost:");
        for line in audit.lost.iter().take(50) {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}
