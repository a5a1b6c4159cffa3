//! The pause between a consumer's attempts to reach its queue again: a RabbitMQ consumer that
//! lost the broker, a Pub/Sub stream that broke. 200 ms, doubling up to a low ceiling, for as
//! long as it takes. The ceiling is low on purpose: the pause after the last refused attempt is
//! how long events sit unconsumed once the service is back, and a refused attempt costs
//! nothing.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

use crate::shutdown::Shutdown;

pub struct Reconnect {
    backoff: ExponentialBackoff,
    ceiling: Duration,
}

impl Reconnect {
    pub fn up_to(ceiling: Duration) -> Self {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200).min(ceiling))
            .with_max_delay(ceiling)
            .without_max_times()
            .build();
        Self { backoff, ceiling }
    }

    /// How long to wait before the next attempt.
    pub fn next_pause(&mut self) -> Duration {
        self.backoff.next().unwrap_or(self.ceiling)
    }

    /// Wait `pause`; `false` when `shutdown` came first (do not try again).
    pub async fn wait(pause: Duration, shutdown: &Shutdown) -> bool {
        tokio::select! {
            _ = shutdown.wait() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_200_ms_and_stay_at_the_ceiling() {
        let mut reconnect = Reconnect::up_to(Duration::from_secs(2));
        let pauses: Vec<Duration> = (0..8).map(|_| reconnect.next_pause()).collect();
        let about =
            |pause: Duration, ms: u64| pause.abs_diff(Duration::from_millis(ms)).as_millis() < 1;
        assert!(about(pauses[0], 200), "{pauses:?}");
        assert!(about(pauses[1], 400), "{pauses:?}");
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "{pauses:?}");
        assert!(about(pauses[7], 2_000), "{pauses:?}");
    }

    #[tokio::test]
    async fn a_shutdown_cuts_the_wait_short() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let started = std::time::Instant::now();
        assert!(!Reconnect::wait(Duration::from_secs(30), &shutdown).await);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(Reconnect::wait(Duration::from_millis(1), &Shutdown::new()).await);
    }
}
