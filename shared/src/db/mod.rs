//! PostgreSQL: the connection pool, tenant-scoped transactions, and one repository module per
//! table.
//!
//! The rule that keeps tenants apart: every query on a tenant-owned table runs inside a
//! [`TenantTx`], which sets `app.tenant_id` for the transaction before anything else. The
//! runtime role is subject to row-level security, so a query that forgot the tenant sees no
//! rows at all rather than someone else's. Cross-tenant reads the system needs (routing a
//! webhook, finding due outbox rows) go through narrow SECURITY DEFINER functions that return
//! ids and routing keys only.
//!
//! SQL lives here and in `migrations/`; handlers never build SQL.

mod error;
mod platform_tx;
mod tenant_tx;

pub mod api_keys;
pub mod audit;
pub mod calls;
pub mod channel_configs;
pub mod contacts;
pub mod conversation_states;
pub mod conversations;
pub mod dead_letters;
mod flow_steps;
pub mod flows;
pub mod held_events;
pub mod leads;
pub mod llm_settings;
pub mod llm_turns;
pub mod llm_usage;
pub mod mailboxes;
pub mod messages;
pub mod modules;
pub mod outbox;
pub mod parked_events;
pub mod processed_events;
pub mod prompts;
pub mod publish_spool;
pub mod replay_jobs;
pub mod send_rate;
pub mod tenant_modules;
pub mod tenants;
pub mod unroutable;
pub mod users;
pub mod vault;
pub mod whatsapp_channels;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use error::DbError;
pub use platform_tx::{PlatformTx, ScopeTx, ScopedTx};
pub use tenant_tx::TenantTx;

use crate::config::DatabaseConfig;

/// Connect the runtime pool (lazily: the process starts even while the database is down, and
/// `/readyz` reports it).
pub fn connect_lazy(config: &DatabaseConfig) -> Result<PgPool, DbError> {
    Ok(PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy(config.url.expose())?)
}

/// Apply every migration in `migrations/`, connected as the owner role.
pub async fn migrate(owner_url: &str) -> Result<(), DbError> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(owner_url)
        .await?;
    sqlx::migrate!("../migrations")
        .run(&pool)
        .await
        .map_err(|e| DbError::Migrate(e.to_string()))?;
    pool.close().await;
    Ok(())
}

/// An `ILIKE` pattern matching text that contains `text` literally: `\`, `%` and `_` are
/// escaped (with PostgreSQL's default escape character, the backslash), so a search for `50%`
/// finds "50%" and not "500".
pub(crate) fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// `SELECT 1`, for readiness checks.
pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    sqlx::query("SELECT 1").execute(pool).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn contains_patterns_take_wildcards_literally() {
        assert_eq!(super::contains_pattern("timeout"), "%timeout%");
        assert_eq!(super::contains_pattern("50%_a\\b"), r"%50\%\_a\\b%");
    }
}
