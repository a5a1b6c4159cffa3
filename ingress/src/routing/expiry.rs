//! How long a cached route lives: resolved routes for the configured TTL, misses for at most
//! [`NEGATIVE_TTL`] — long enough that a flood of webhooks for an unknown key is not a flood of
//! queries, short enough that a freshly configured tenant is found soon even if its change
//! notification was missed.

use std::time::{Duration, Instant};

use moka::Expiry;

/// How long a miss is remembered.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(5);

pub struct RouteExpiry {
    ttl: Duration,
}

impl RouteExpiry {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl }
    }
}

impl<T> Expiry<String, Option<T>> for RouteExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Option<T>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            self.ttl
        } else {
            NEGATIVE_TTL.min(self.ttl)
        })
    }
}
