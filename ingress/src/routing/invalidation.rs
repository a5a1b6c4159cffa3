//! Keeping every replica's route cache honest: PostgreSQL notifies channel
//! `switchyard_routes` with `{channel}:{routing key}` whenever a routing row changes (a
//! trigger, see `migrations/`), and each ingress forgets that key at once.
//!
//! Notifications sent while a replica was not listening are lost, so after every (re)connect
//! the whole cache is dropped; the TTL bounds staleness if the listener cannot connect at all.

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use switchyard_shared::shutdown::Shutdown;

use super::{ChannelRoutes, WhatsAppRoutes};

/// Every route cache of this replica.
#[derive(Clone)]
pub struct RouteCaches {
    pub whatsapp: WhatsAppRoutes,
    pub channels: ChannelRoutes,
}

impl RouteCaches {
    fn invalidate_all(&self) {
        self.whatsapp.invalidate_all();
        self.channels.invalidate_all();
    }
}

pub const CHANNEL: &str = "switchyard_routes";

/// Listen until `shutdown`, reconnecting after failures.
pub async fn listen(pool: PgPool, routes: RouteCaches, shutdown: Shutdown) {
    let mut delay = Duration::from_millis(200);
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                delay = Duration::from_millis(200);
                routes.invalidate_all();
                loop {
                    tokio::select! {
                        _ = shutdown.wait() => return,
                        next = listener.try_recv() => match next {
                            Ok(Some(notification)) => apply(&routes, notification.payload()).await,
                            // The connection dropped and is re-established on the next call;
                            // whatever changed meanwhile is unknown.
                            Ok(None) => routes.invalidate_all(),
                            Err(e) => {
                                tracing::warn!(error = %e, "route notifications interrupted");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, ?delay, "cannot listen for route changes; retrying")
            }
        }
        tokio::select! {
            _ = shutdown.wait() => return,
            _ = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

async fn apply(routes: &RouteCaches, payload: &str) {
    match payload.split_once(':') {
        Some(("whatsapp", key)) => routes.whatsapp.invalidate(key).await,
        Some(("sms" | "voice" | "email", key)) => routes.channels.invalidate(key).await,
        _ => {
            tracing::debug!(
                payload,
                "unknown route notification; dropping the whole cache"
            );
            routes.invalidate_all();
        }
    }
}
