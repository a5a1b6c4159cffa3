//! A transaction that sees every tenant's rows of the few tables platform operators manage
//! across tenants (dead letters, replay jobs), and of the ingress's publish spool.
//!
//! Those tables' policy admits a row when it belongs to `app.tenant_id` *or* the transaction
//! set `app.scope` to `platform`; [`PlatformTx::begin`] is the only place that sets it. Every
//! other tenant-owned table ignores `app.scope`, so a platform transaction still sees none of
//! their rows. The publish spool admits rows *only* in the platform scope (see
//! [`publish_spool`](super::publish_spool)).
//!
//! [`ScopeTx`] is either kind, chosen at run time: what an admin request that may come from a
//! tenant admin or a platform admin begins.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::{DbError, TenantTx};
use crate::domain::TenantId;

pub struct PlatformTx {
    tx: Transaction<'static, Postgres>,
}

impl PlatformTx {
    pub async fn begin(pool: &PgPool) -> Result<Self, DbError> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config('app.scope', 'platform', true)")
            .execute(&mut *tx)
            .await?;
        Ok(Self { tx })
    }

    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.tx.commit().await?)
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        Ok(self.tx.rollback().await?)
    }
}

/// A transaction scoped to one tenant or to the platform: what repositories of the
/// cross-tenant operator tables take, so one query serves a tenant admin and a platform admin.
pub trait ScopedTx: Send {
    fn conn(&mut self) -> &mut PgConnection;
}

impl ScopedTx for PlatformTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

impl ScopedTx for TenantTx {
    fn conn(&mut self) -> &mut PgConnection {
        TenantTx::conn(self)
    }
}

/// A tenant's or the platform's transaction, whichever the caller may act in.
pub enum ScopeTx {
    Tenant(TenantTx),
    Platform(PlatformTx),
}

impl ScopeTx {
    /// A tenant transaction for `Some(tenant)`, a platform one for `None`.
    pub async fn begin(pool: &PgPool, tenant: Option<TenantId>) -> Result<Self, DbError> {
        Ok(match tenant {
            Some(tenant) => Self::Tenant(TenantTx::begin(pool, tenant).await?),
            None => Self::Platform(PlatformTx::begin(pool).await?),
        })
    }

    pub async fn commit(self) -> Result<(), DbError> {
        match self {
            Self::Tenant(tx) => tx.commit().await,
            Self::Platform(tx) => tx.commit().await,
        }
    }
}

impl ScopedTx for ScopeTx {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Self::Tenant(tx) => tx.conn(),
            Self::Platform(tx) => tx.conn(),
        }
    }
}
