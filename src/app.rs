//! Building and running Switchyard from [`Settings`]: the ingress, the worker, or both in one
//! process (`--role all`). `main.rs` and the integration tests both use [`Application`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use sqlx::PgPool;
use switchyard_ingress::IngressState;
use switchyard_shared::queue::{self, EventQueue};
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;
use switchyard_workers::Worker;
use tokio::net::TcpListener;

use crate::settings::Settings;

/// Which halves of Switchyard a process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Ingress and worker in one process.
    All,
    Ingress,
    Worker,
}

pub struct Application {
    /// `SHUTDOWN_GRACE_SECS`.
    grace: Duration,
    ingress: Option<(TcpListener, IngressState)>,
    worker: Option<Worker>,
    pool: PgPool,
    queue: Arc<dyn EventQueue>,
}

impl Application {
    /// Connect to the database and the broker, declare the queue topology, and bind the HTTP
    /// listener (for roles that serve HTTP). Nothing runs until [`Application::run`]. Neither
    /// an unreachable database nor an unreachable broker stops the start: both are connected
    /// on first use, an ingress without its broker spools what it accepts, and `/readyz` tells.
    pub async fn build(settings: &Settings, role: Role) -> anyhow::Result<Self> {
        let secrets = Arc::new(
            SecretBox::from_config(settings.secrets.encryption_keys.expose())
                .context("ENCRYPTION_KEYS")?,
        );
        let pool = switchyard_shared::db::connect_lazy(&settings.database)?;
        let queue = queue::connect(&settings.queue)
            .await
            .context("connecting to the queue")?;
        let ingress = if role != Role::Worker {
            let listener = TcpListener::bind(settings.ingress.bind)
                .await
                .with_context(|| format!("binding {}", settings.ingress.bind))?;
            let state = IngressState::new(
                settings.ingress.clone(),
                pool.clone(),
                queue.clone(),
                secrets.clone(),
                &settings.worker.whatsapp_api_base,
                settings.google.clone(),
            );
            Some((listener, state))
        } else {
            None
        };
        let worker = if role != Role::Ingress {
            Some(Worker::new(
                settings.worker.clone(),
                &settings.google,
                &settings.gemini,
                pool.clone(),
                queue.clone(),
                secrets,
            )?)
        } else {
            None
        };
        Ok(Self {
            grace: Duration::from_secs(settings.shutdown_grace_secs),
            ingress,
            worker,
            pool,
            queue,
        })
    }

    /// The address the ingress listens on (with the real port when configured as port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.ingress
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn queue(&self) -> Arc<dyn EventQueue> {
        self.queue.clone()
    }

    /// Run until `shutdown` fires; then the ingress stops accepting and finishes its requests,
    /// and the worker stops taking events, finishes the ones in flight and closes its
    /// channels — all within the grace period, after which it returns anyway (the broker
    /// redelivers whatever was not acknowledged, and dedup keeps that harmless).
    pub async fn run(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let ingress = self.ingress.map(|(listener, state)| {
            let shutdown = shutdown.clone();
            tokio::spawn(async move { switchyard_ingress::serve(listener, state, shutdown).await })
        });
        let worker = self.worker.map(|worker| {
            let shutdown = shutdown.clone();
            tokio::spawn(async move { worker.run(shutdown).await })
        });
        let finished = async {
            if let Some(task) = ingress {
                task.await?.context("ingress")?;
            }
            if let Some(task) = worker {
                task.await?.context("worker")?;
            }
            anyhow::Ok(())
        };
        let grace = self.grace;
        let grace_elapsed = async {
            shutdown.wait().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = finished => result?,
            _ = grace_elapsed => {
                tracing::warn!(?grace, "shutdown grace elapsed with work unfinished; exiting (the broker redelivers unacknowledged events)");
                return Ok(());
            }
        }
        self.pool.close().await;
        tracing::info!("stopped cleanly");
        Ok(())
    }
}
