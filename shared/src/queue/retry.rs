//! Retry tiers: how long an event that failed transiently waits before its next attempt.
//!
//! `RETRY_TIERS=10s,1m,10m,1h,6h` means: the first failure waits 10 seconds, the second a
//! minute, …, and an event that fails a sixth time is dead. The broker does the waiting
//! (RabbitMQ: one TTL queue per tier that dead-letters back into the events exchange), so a
//! waiting event costs a worker nothing and survives restarts.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The delays, in order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryTiers(Vec<Duration>);

impl Default for RetryTiers {
    /// 10 s, 1 min, 10 min, 1 h, 6 h: quick enough for a blip, patient enough for a provider's
    /// outage of an afternoon.
    fn default() -> Self {
        Self(
            [10, 60, 600, 3600, 6 * 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        )
    }
}

impl RetryTiers {
    /// The delay before attempt `attempt + 1`, for an event that failed `attempt + 1` times;
    /// `None` when every tier is used up.
    pub fn delay(&self, attempt: u32) -> Option<Duration> {
        self.0.get(usize::try_from(attempt).ok()?).copied()
    }

    /// Attempts left for an event on attempt `attempt` (0 on its first delivery).
    pub fn remaining(&self, attempt: u32) -> u32 {
        u32::try_from(self.0.len())
            .unwrap_or(u32::MAX)
            .saturating_sub(attempt)
    }

    pub fn delays(&self) -> &[Duration] {
        &self.0
    }
}

/// A delay as tier names show it: `10s`, `1m`, `250ms`, `6h`.
pub fn label(delay: Duration) -> String {
    let ms = delay.as_millis();
    match ms {
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("retry tiers: {0}")]
pub struct RetryTiersError(String);

/// The longest delay a tier may have: RabbitMQ's message TTL is a 32-bit count of ms.
const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);

impl FromStr for RetryTiers {
    type Err = RetryTiersError;

    /// Comma-separated delays, each a whole number followed by `ms`, `s`, `m` or `h`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let delays = s
            .split(',')
            .map(str::trim)
            .map(parse_delay)
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err(RetryTiersError("at least one tier is needed".into()));
        }
        Ok(Self(delays))
    }
}

fn parse_delay(text: &str) -> Result<Duration, RetryTiersError> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| RetryTiersError(format!("`{text}` has no unit (ms, s, m, h)")))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| RetryTiersError(format!("`{text}` does not start with a whole number")))?;
    let delay = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => {
            return Err(RetryTiersError(format!(
                "`{text}`: unit must be ms, s, m or h"
            )));
        }
    };
    if delay.is_zero() || delay > MAX_DELAY {
        return Err(RetryTiersError(format!(
            "`{text}` must be more than 0 and at most 24h"
        )));
    }
    Ok(delay)
}

impl fmt::Display for RetryTiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels: Vec<String> = self.0.iter().copied().map(label).collect();
        f.write_str(&labels.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_tiers() {
        let tiers: RetryTiers = "10s,1m,10m,1h,6h".parse().unwrap();
        assert_eq!(tiers.delay(0), Some(Duration::from_secs(10)));
        assert_eq!(tiers.delay(4), Some(Duration::from_secs(6 * 3600)));
        assert_eq!(tiers.delay(5), None);
        assert_eq!(tiers.remaining(0), 5);
        assert_eq!(tiers.remaining(5), 0);
        assert_eq!(tiers.remaining(9), 0);
        assert_eq!(tiers.to_string(), "10s,1m,10m,1h,6h");
        assert_eq!(tiers, RetryTiers::default());
    }

    #[test]
    fn labels_pick_the_largest_whole_unit() {
        assert_eq!(label(Duration::from_millis(250)), "250ms");
        assert_eq!(label(Duration::from_millis(1500)), "1500ms");
        assert_eq!(label(Duration::from_secs(90)), "90s");
        assert_eq!(label(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn refuses_bad_tiers() {
        for bad in ["", "10", "s", "10x", "0s", "25h", "1s,,2s", "-1s", "1.5s"] {
            assert!(bad.parse::<RetryTiers>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            " 200ms , 1s ".parse::<RetryTiers>().unwrap().delays(),
            &[Duration::from_millis(200), Duration::from_secs(1)]
        );
    }
}
