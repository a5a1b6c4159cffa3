//! A transaction that is known to be scoped to one tenant.
//!
//! Holding a `TenantTx` proves `app.tenant_id` was set for this transaction, so the
//! repository functions take it instead of a bare connection.

use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::DbError;
use crate::domain::TenantId;

pub struct TenantTx {
    tenant: TenantId,
    tx: Transaction<'static, Postgres>,
}

impl TenantTx {
    /// Begin a transaction and scope it to `tenant` (`set_config(…, is_local => true)`, so the
    /// setting ends with the transaction and never leaks to the next user of the connection).
    pub async fn begin(pool: &PgPool, tenant: TenantId) -> Result<Self, DbError> {
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await?;
        Ok(Self { tenant, tx })
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.tx.commit().await?)
    }

    pub async fn rollback(self) -> Result<(), DbError> {
        Ok(self.tx.rollback().await?)
    }
}
