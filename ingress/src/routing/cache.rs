//! The cache every route table shares: routing key → resolved route (or a remembered miss),
//! bounded in size, with misses kept for at most [`NEGATIVE_TTL`] — long enough that a flood
//! of webhooks for an unknown key is not a flood of queries, short enough that a freshly
//! configured tenant is found soon even if its change notification was missed. Concurrent
//! misses for one key share a single load.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use switchyard_shared::db::DbError;

/// How long a miss is remembered.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// A resolved route, or `None` for a key nobody owns.
pub type Entry<T> = Option<Arc<T>>;

struct RouteExpiry {
    ttl: Duration,
}

impl<T> Expiry<String, Entry<T>> for RouteExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Entry<T>,
        _now: Instant,
    ) -> Option<Duration> {
        Some(if value.is_some() {
            self.ttl
        } else {
            NEGATIVE_TTL.min(self.ttl)
        })
    }
}

pub struct RouteCache<T> {
    cache: Cache<String, Entry<T>>,
}

impl<T> Clone for RouteCache<T> {
    fn clone(&self) -> Self {
        Self {
            cache: self.cache.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> RouteCache<T> {
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        Self {
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(RouteExpiry { ttl })
                .build(),
        }
    }

    /// The cached route of `key`, or what `load` finds (then cached).
    pub async fn resolve(
        &self,
        key: &str,
        load: impl Future<Output = Result<Entry<T>, DbError>>,
    ) -> Result<Entry<T>, Arc<DbError>> {
        self.cache.try_get_with(key.to_owned(), load).await
    }

    /// Forget a key after its configuration changed.
    pub async fn invalidate(&self, key: &str) {
        self.cache.invalidate(key).await;
    }

    /// Forget everything (after missed notifications).
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }
}
