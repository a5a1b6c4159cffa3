//! Typed configuration, read from the environment (12-factor) or the command line.
//!
//! Every setting is a `clap` argument with an `env` name, so `switchyard serve --help` is the
//! complete reference and the README's configuration table mirrors it. Secrets are parsed into
//! [`SecretString`], whose `Debug` never shows them. Per-tenant provider settings live in the
//! database; what is here are process-wide defaults and endpoints.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::queue::retry::RetryTiers;
use crate::secrets::SecretString;

#[derive(Debug, Clone, Args)]
pub struct DatabaseConfig {
    /// Runtime connection: a role without BYPASSRLS that does not own the tables.
    #[arg(
        long = "database-url",
        env = "DATABASE_URL",
        default_value = "postgres://switchyard_app:switchyard_app@127.0.0.1:5432/switchyard"
    )]
    pub url: SecretString,

    /// Owner connection, used only by `switchyard migrate` (defaults to DATABASE_URL).
    #[arg(long = "database-owner-url", env = "DATABASE_OWNER_URL")]
    pub owner_url: Option<SecretString>,

    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 16)]
    pub max_connections: u32,
}

impl DatabaseConfig {
    pub fn owner_url(&self) -> &SecretString {
        self.owner_url.as_ref().unwrap_or(&self.url)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueBackend {
    Rabbitmq,
    Pubsub,
}

impl QueueBackend {
    /// The value of `QUEUE_BACKEND` that selects this backend.
    pub fn setting(self) -> &'static str {
        match self {
            QueueBackend::Rabbitmq => "rabbitmq",
            QueueBackend::Pubsub => "pubsub",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct QueueConfig {
    #[arg(long = "queue-backend", env = "QUEUE_BACKEND", value_enum, default_value_t = QueueBackend::Rabbitmq)]
    pub backend: QueueBackend,

    #[arg(
        long = "amqp-url",
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: SecretString,

    /// Prefix of every exchange and queue name; lets several deployments (or test runs) share
    /// one broker.
    #[arg(
        long = "queue-prefix",
        env = "QUEUE_PREFIX",
        default_value = "switchyard"
    )]
    pub prefix: String,

    /// Channels the ingress spreads publishes over; confirms are pipelined on each.
    #[arg(long, env = "QUEUE_PUBLISH_CHANNELS", default_value_t = 4)]
    pub publish_channels: usize,

    /// Events a worker holds unacknowledged at once: per partition queue it consumes on
    /// RabbitMQ (AMQP prefetch), per worker on Pub/Sub (the stream's flow control).
    #[arg(long, env = "WORKER_PREFETCH", default_value_t = 32)]
    pub prefetch: u16,

    /// Deliveries of one event before the broker dead-letters it (poison-message guard).
    #[arg(long, env = "QUEUE_DELIVERY_LIMIT", default_value_t = 20)]
    pub delivery_limit: u32,

    /// Partitions events are spread over by conversation: one conversation's events are
    /// applied in order, different partitions in parallel across workers. Publishers and
    /// workers must agree; change it only while the queues are drained.
    #[arg(long, env = "QUEUE_PARTITIONS", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub partitions: u16,

    /// Delete queues after this many idle seconds (for throw-away environments such as tests;
    /// unset in production).
    #[arg(long, env = "QUEUE_EXPIRES_SECS")]
    pub expires_secs: Option<u64>,

    /// Quick retries of a transiently failed event before it goes to a retry tier (they hold
    /// the conversation's place, so its later events cannot overtake it).
    #[arg(long, env = "QUEUE_IN_PLACE_RETRIES", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub in_place_retries: u32,

    /// Delays before each retry of an event that failed transiently (comma-separated, each a
    /// whole number with ms, s, m or h); after the last one the event is a dead letter.
    #[arg(long, env = "RETRY_TIERS", default_value = "10s,1m,10m,1h,6h")]
    pub retry_tiers: RetryTiers,

    /// How long the ingress waits for the broker to confirm a publish.
    #[arg(long, env = "QUEUE_CONFIRM_TIMEOUT_MS", default_value_t = 5000)]
    pub confirm_timeout_ms: u64,

    #[command(flatten)]
    pub pubsub: PubSubConfig,
}

/// Google Cloud Pub/Sub, when `QUEUE_BACKEND=pubsub`. Topic and subscription ids default to
/// names derived from `QUEUE_PREFIX`: `{prefix}-events`, `{prefix}-workers`,
/// `{prefix}-dead-letters` (topic and subscription) and `{prefix}-undecodable`.
#[derive(Debug, Clone, Default, Args)]
pub struct PubSubConfig {
    /// The Google Cloud project of the topics and subscriptions.
    #[arg(long = "pubsub-project", env = "PUBSUB_PROJECT_ID")]
    pub project: Option<String>,
    /// `host:port` of a Pub/Sub emulator: plain HTTP/2 and no credentials. Unset in
    /// production, where Application Default Credentials are used.
    #[arg(long = "pubsub-emulator-host", env = "PUBSUB_EMULATOR_HOST")]
    pub emulator_host: Option<String>,
    /// Create the topics and subscriptions that are missing at start (turn off where they are
    /// managed elsewhere, e.g. by Terraform, and the service account may not create them).
    #[arg(long = "pubsub-create-topology", env = "PUBSUB_CREATE_TOPOLOGY", default_value_t = true, action = clap::ArgAction::Set)]
    pub create_topology: bool,
    /// The events topic id (default `{prefix}-events`).
    #[arg(long = "pubsub-topic", env = "PUBSUB_TOPIC")]
    pub topic: Option<String>,
    /// The workers' subscription id (default `{prefix}-workers`).
    #[arg(long = "pubsub-subscription", env = "PUBSUB_SUBSCRIPTION")]
    pub subscription: Option<String>,
    /// The dead-letter topic id; its subscription has the same id (default
    /// `{prefix}-dead-letters`).
    #[arg(long = "pubsub-dead-letter-topic", env = "PUBSUB_DEAD_LETTER_TOPIC")]
    pub dead_letter_topic: Option<String>,
}

impl QueueConfig {
    pub fn confirm_timeout(&self) -> Duration {
        Duration::from_millis(self.confirm_timeout_ms)
    }
}

#[derive(Debug, Clone, Args)]
pub struct IngressConfig {
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "0.0.0.0:8080")]
    pub bind: SocketAddr,

    /// Largest webhook body accepted; Meta sends up to 3 MB.
    #[arg(long, env = "WEBHOOK_BODY_LIMIT_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// App secret of the platform's Meta app (tenants may configure their own).
    #[arg(long, env = "WHATSAPP_APP_SECRET")]
    pub whatsapp_app_secret: Option<SecretString>,

    /// Platform-wide Telnyx API key, used for tenants that configure none.
    #[arg(long, env = "TELNYX_API_KEY")]
    pub telnyx_api_key: Option<SecretString>,

    /// Platform-wide Telnyx webhook public key (base64 Ed25519), for tenants that configure none.
    #[arg(long, env = "TELNYX_PUBLIC_KEY")]
    pub telnyx_public_key: Option<String>,

    /// Platform-wide Telnyx messaging profile, for tenants that configure none.
    #[arg(long, env = "TELNYX_MESSAGING_PROFILE_ID")]
    pub telnyx_messaging_profile_id: Option<String>,

    /// The platform's Twilio auth token, for tenants on the platform's Twilio account; a
    /// tenant's own `twilio_auth_token` verifies that tenant's webhooks.
    #[arg(long, env = "TWILIO_AUTH_TOKEN")]
    pub twilio_auth_token: Option<SecretString>,

    /// The public base URL providers call (e.g. `https://hooks.example.com`), for signatures
    /// over the URL (Twilio); when unset it is rebuilt from `X-Forwarded-Proto` and `Host`.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,

    /// The platform Meta app's id (embedded signup exchanges codes as this app, with
    /// WHATSAPP_APP_SECRET).
    #[arg(long, env = "META_APP_ID")]
    pub meta_app_id: Option<String>,

    /// The "Verify Token" typed into the Meta App Dashboard.
    #[arg(long, env = "WHATSAPP_VERIFY_TOKEN")]
    pub whatsapp_verify_token: Option<SecretString>,

    /// Bearer token of the bootstrap admin; the admin API answers 401 to everything when unset.
    #[arg(long, env = "ADMIN_TOKEN")]
    pub admin_token: Option<SecretString>,

    /// HS256 key of login tokens (at least 32 bytes). Unset: a random key per process, so
    /// tokens die with the process and do not work across replicas (development only).
    #[arg(long, env = "JWT_SECRET")]
    pub jwt_secret: Option<SecretString>,

    /// Lifetime of a login token.
    #[arg(long, env = "JWT_TTL_SECS", default_value_t = 3600)]
    pub jwt_ttl_secs: u64,

    /// Login attempts allowed per email address per minute (then 429).
    #[arg(long, env = "LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,

    #[arg(long, env = "ROUTE_CACHE_TTL_SECS", default_value_t = 60)]
    pub route_cache_ttl_secs: u64,

    #[arg(long, env = "ROUTE_CACHE_CAPACITY", default_value_t = 100_000)]
    pub route_cache_capacity: u64,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerConfig {
    /// Graph API base including the version; point it at the sandbox for local runs.
    #[arg(
        long,
        env = "WHATSAPP_API_BASE",
        default_value = "https://graph.facebook.com/v25.0"
    )]
    pub whatsapp_api_base: String,

    /// Telnyx API base including the version; point it at the sandbox for local runs.
    #[arg(
        long,
        env = "TELNYX_API_BASE",
        default_value = "https://api.telnyx.com/v2"
    )]
    pub telnyx_api_base: String,

    /// Platform-wide Telnyx API key for sending SMS, used for tenants that configure none (the
    /// same variable as the ingress setting; its own flag, because the ingress has one too).
    #[arg(
        id = "worker_telnyx_api_key",
        long = "sms-telnyx-api-key",
        env = "TELNYX_API_KEY",
        value_name = "TELNYX_API_KEY"
    )]
    pub telnyx_api_key: Option<SecretString>,

    /// Platform-wide Telnyx messaging profile to send SMS from, for tenants that configure
    /// neither a number nor a profile (the same variable as the ingress setting).
    #[arg(
        id = "worker_telnyx_messaging_profile_id",
        long = "sms-telnyx-messaging-profile-id",
        env = "TELNYX_MESSAGING_PROFILE_ID",
        value_name = "TELNYX_MESSAGING_PROFILE_ID"
    )]
    pub telnyx_messaging_profile_id: Option<String>,

    /// Timeout of one call to a provider API.
    #[arg(long, env = "PROVIDER_HTTP_TIMEOUT_MS", default_value_t = 10_000)]
    pub provider_timeout_ms: u64,

    /// Attempts of one outbound send before it is marked failed.
    #[arg(long, env = "OUTBOX_MAX_ATTEMPTS", default_value_t = 5)]
    pub outbox_max_attempts: i32,

    /// How often the outbox relay looks for sends that are due (retries, or rows a stopped
    /// worker left behind).
    #[arg(long, env = "OUTBOX_POLL_MS", default_value_t = 1000)]
    pub outbox_poll_ms: u64,

    /// First retry delay of a failed send; doubles per attempt.
    #[arg(long, env = "OUTBOX_RETRY_BASE_MS", default_value_t = 2000)]
    pub outbox_retry_base_ms: u64,

    /// Sends per second from one WhatsApp number unless its config says otherwise (Meta's
    /// default throughput tier is 80); bursts of as many.
    #[arg(long, env = "WHATSAPP_MESSAGES_PER_SECOND", default_value_t = 80, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub whatsapp_messages_per_second: u32,

    /// Sends per second from one SMS number or messaging profile unless the SMS channel's
    /// `messages_per_second` says otherwise; bursts of as many.
    #[arg(long, env = "SMS_MESSAGES_PER_SECOND", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sms_messages_per_second: u32,

    /// An LLM answer waits this long after the customer's latest message, so messages sent in
    /// pieces get one answer.
    #[arg(long, env = "REPLY_BATCH_WINDOW_MS", default_value_t = 2000)]
    pub reply_batch_window_ms: u64,

    /// …but no longer than this after the first of them.
    #[arg(long, env = "REPLY_BATCH_MAX_MS", default_value_t = 8000)]
    pub reply_batch_max_ms: u64,

    /// How often the worker looks for LLM answers that are due.
    #[arg(long, env = "LLM_TURN_POLL_MS", default_value_t = 250)]
    pub llm_turn_poll_ms: u64,

    /// Each tenant's fair share of the workers: events per second processed straight from
    /// the queue (after a burst of `TENANT_EVENTS_BURST`). A tenant's events beyond it are
    /// parked in PostgreSQL and drained round-robin across tenants, so a flood from one tenant
    /// does not queue up in front of everyone else's events.
    #[arg(long, env = "TENANT_EVENTS_PER_SECOND", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenant_events_per_second: u32,

    /// Events a tenant may send at once above its rate before they are parked.
    #[arg(long, env = "TENANT_EVENTS_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub tenant_events_burst: u32,
}

impl WorkerConfig {
    pub fn provider_timeout(&self) -> Duration {
        Duration::from_millis(self.provider_timeout_ms)
    }
}

/// Google: the OAuth client tenants connect their Gmail mailboxes through, the Gmail API, and
/// the Pub/Sub push subscription that carries Gmail's notifications. Every base URL is
/// configurable so tests and the sandbox point at fakes.
#[derive(Debug, Clone, Args)]
pub struct GoogleConfig {
    /// The OAuth client's id (Google Cloud console → Credentials).
    #[arg(long, env = "GOOGLE_OAUTH_CLIENT_ID")]
    pub oauth_client_id: Option<String>,

    #[arg(long, env = "GOOGLE_OAUTH_CLIENT_SECRET")]
    pub oauth_client_secret: Option<SecretString>,

    /// Where the consent screen is.
    #[arg(
        long,
        env = "GOOGLE_OAUTH_AUTH_URL",
        default_value = "https://accounts.google.com/o/oauth2/v2/auth"
    )]
    pub oauth_auth_url: String,

    /// Where codes and refresh tokens are exchanged for access tokens.
    #[arg(
        long,
        env = "GOOGLE_OAUTH_TOKEN_URL",
        default_value = "https://oauth2.googleapis.com/token"
    )]
    pub oauth_token_url: String,

    /// The callback registered with the OAuth client:
    /// `https://<your ingress>/oauth/google/callback`.
    #[arg(long, env = "GOOGLE_OAUTH_REDIRECT_URL")]
    pub oauth_redirect_url: Option<String>,

    /// Gmail API base, version included.
    #[arg(
        long,
        env = "GMAIL_API_BASE",
        default_value = "https://gmail.googleapis.com/gmail/v1"
    )]
    pub gmail_api_base: String,

    /// The Pub/Sub topic Gmail publishes mailbox changes to (`projects/<p>/topics/<t>`).
    #[arg(long, env = "GMAIL_PUBSUB_TOPIC")]
    pub gmail_pubsub_topic: Option<String>,

    /// Google's signing keys for the push subscription's OIDC tokens (JWKS).
    #[arg(
        long,
        env = "GOOGLE_CERTS_URL",
        default_value = "https://www.googleapis.com/oauth2/v3/certs"
    )]
    pub certs_url: String,

    /// How often the worker looks for Gmail watches to renew (each lapses after 7 days;
    /// those lapsing within a day are renewed).
    #[arg(long, env = "GMAIL_WATCH_CHECK_SECS", default_value_t = 3600)]
    pub gmail_watch_check_secs: u64,

    /// The audience the push subscription puts in its tokens.
    #[arg(long, env = "PUBSUB_PUSH_AUDIENCE")]
    pub pubsub_push_audience: Option<String>,

    /// The service account the push subscription signs as.
    #[arg(long, env = "PUBSUB_PUSH_SERVICE_ACCOUNT")]
    pub pubsub_push_service_account: Option<String>,
}

/// Gemini (the Gemini Developer API's `generateContent`): where it is, the platform's API key
/// and model, and how patiently a reply is waited for. Tenants' prompt settings may name
/// another model; this is the default.
#[derive(Debug, Clone, Args)]
pub struct GeminiConfig {
    /// API base, version included (`…/v1beta` or `…/v1`); point it at the sandbox for local
    /// runs.
    #[arg(
        id = "gemini_api_base",
        long = "gemini-api-base",
        env = "GEMINI_API_BASE",
        default_value = "https://generativelanguage.googleapis.com/v1beta"
    )]
    pub api_base: String,

    /// The platform's API key (Google AI Studio), sent as `x-goog-api-key`.
    #[arg(id = "gemini_api_key", long = "gemini-api-key", env = "GEMINI_API_KEY")]
    pub api_key: Option<SecretString>,

    /// The model asked when a tenant names none.
    #[arg(
        id = "gemini_model",
        long = "gemini-model",
        env = "GEMINI_MODEL",
        default_value = "gemini-2.5-flash"
    )]
    pub model: String,

    /// Timeout of one `generateContent` call (a timed-out call is tried again).
    #[arg(
        id = "gemini_timeout_ms",
        long = "gemini-timeout-ms",
        env = "GEMINI_TIMEOUT_MS",
        default_value_t = 20_000
    )]
    pub timeout_ms: u64,

    /// Calls of one generation at most, the first included (overload, 5xx, time-outs and
    /// per-minute quotas are tried again).
    #[arg(
        id = "gemini_max_attempts",
        long = "gemini-max-attempts",
        env = "GEMINI_MAX_ATTEMPTS",
        default_value_t = 3
    )]
    pub max_attempts: u32,

    /// First delay before calling again after an overload, 5xx or time-out; doubles per
    /// attempt, with jitter.
    #[arg(
        id = "gemini_retry_base_ms",
        long = "gemini-retry-base-ms",
        env = "GEMINI_RETRY_BASE_MS",
        default_value_t = 1000
    )]
    pub retry_base_ms: u64,

    /// The longest wait a 429's `retryDelay` may impose before the call is tried again.
    #[arg(
        id = "gemini_max_retry_delay_ms",
        long = "gemini-max-retry-delay-ms",
        env = "GEMINI_MAX_RETRY_DELAY_MS",
        default_value_t = 30_000
    )]
    pub max_retry_delay_ms: u64,
}

impl GeminiConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn retry_base(&self) -> Duration {
        Duration::from_millis(self.retry_base_ms)
    }

    pub fn max_retry_delay(&self) -> Duration {
        Duration::from_millis(self.max_retry_delay_ms)
    }
}

#[derive(Debug, Clone, Args)]
pub struct SecretsConfig {
    /// `id:base64(32 bytes)[,…]`, active key first; `switchyard keygen` prints one.
    #[arg(long = "encryption-keys", env = "ENCRYPTION_KEYS")]
    pub encryption_keys: SecretString,
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::QueueBackend;

    #[test]
    fn each_backends_setting_selects_it() {
        for backend in QueueBackend::value_variants() {
            assert_eq!(
                QueueBackend::from_str(backend.setting(), false),
                Ok(*backend)
            );
        }
    }
}
