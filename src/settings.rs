//! All configuration of a `switchyard serve` process in one value.

use clap::Args;
use switchyard_shared::config::{
    DatabaseConfig, GeminiConfig, GoogleConfig, IngressConfig, QueueConfig, SecretsConfig,
    WorkerConfig,
};

#[derive(Debug, Clone, Args)]
pub struct Settings {
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub queue: QueueConfig,
    #[command(flatten)]
    pub ingress: IngressConfig,
    #[command(flatten)]
    pub worker: WorkerConfig,
    #[command(flatten)]
    pub google: GoogleConfig,
    #[command(flatten)]
    pub gemini: GeminiConfig,
    #[command(flatten)]
    pub secrets: SecretsConfig,
    /// After SIGTERM/SIGINT: how long the process may take to finish its in-flight requests
    /// and events before it exits anyway (what it leaves unfinished, the broker redelivers).
    /// Keep it under the orchestrator's kill timeout (Kubernetes: 30 s) and above the
    /// consumer's own drain bound (20 s).
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 25)]
    pub shutdown_grace_secs: u64,
}
