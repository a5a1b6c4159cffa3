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
}
