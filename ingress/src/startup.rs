//! Building the ingress application from configuration. `switchyard serve` and the test
//! harness both call [`router`] and [`serve`], so the tests run the real thing.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use sqlx::PgPool;
use switchyard_shared::config::{GoogleConfig, IngressConfig};
use switchyard_shared::queue::EventQueue;
use switchyard_shared::secrets::SecretBox;
use switchyard_shared::shutdown::Shutdown;
use tokio::net::TcpListener;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::jwt::JwtKeys;
use crate::auth::login_limiter::LoginLimiter;
use crate::error::ApiError;
use crate::publish::Publisher;
use crate::routing::invalidation::RouteCaches;
use crate::routing::{ChannelRoutes, WhatsAppRoutes};
use crate::verify::google_oidc::{DEFAULT_MIN_REFRESH_INTERVAL, GoogleKeys, PushAuthPolicy};
use crate::verify::telnyx::TelnyxPublicKey;
use crate::{admin, health, tools, webhooks};

/// Everything a handler may use; cheap to clone.
#[derive(Clone)]
pub struct IngressState {
    pub pool: PgPool,
    pub queue: Arc<dyn EventQueue>,
    /// What webhooks publish through: the broker, or the spool while it is unavailable.
    pub publisher: Publisher,
    pub secrets: Arc<SecretBox>,
    pub whatsapp_routes: WhatsAppRoutes,
    pub channel_routes: ChannelRoutes,
    /// `TELNYX_PUBLIC_KEY`, parsed once; an unusable one is logged and ignored.
    pub telnyx_public_key: Option<TelnyxPublicKey>,
    pub config: Arc<IngressConfig>,
    pub auth: Arc<AuthState>,
    pub graph: crate::graph::MetaGraph,
    pub google: Arc<GoogleConfig>,
    pub google_onboarding: crate::google::GoogleOnboarding,
    /// What a Gmail push must prove (`None` until the push subscription is configured).
    pub gmail_push: Option<PushAuthPolicy>,
    /// Google's signing keys for push tokens, cached.
    pub google_keys: GoogleKeys,
}

/// Keys and limits of the admin API's authentication.
pub struct AuthState {
    pub jwt: JwtKeys,
    pub login: LoginLimiter,
}

impl AuthState {
    fn new(config: &IngressConfig) -> Self {
        let secret = match &config.jwt_secret {
            Some(secret) => secret.expose().as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "JWT_SECRET is not set: login tokens are signed with a random \
                    per-process key (development only)"
                );
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        Self {
            jwt: JwtKeys::new(&secret, Duration::from_secs(config.jwt_ttl_secs)),
            login: LoginLimiter::new(config.login_attempts_per_minute),
        }
    }
}

impl IngressState {
    /// `graph_api_base` is the Graph API base with version (`WHATSAPP_API_BASE`), used by
    /// onboarding.
    pub fn new(
        config: IngressConfig,
        pool: PgPool,
        queue: Arc<dyn EventQueue>,
        secrets: Arc<SecretBox>,
        graph_api_base: &str,
        google: GoogleConfig,
    ) -> Self {
        let ttl = Duration::from_secs(config.route_cache_ttl_secs);
        let whatsapp_routes = WhatsAppRoutes::new(
            pool.clone(),
            secrets.clone(),
            ttl,
            config.route_cache_capacity,
        );
        let channel_routes = ChannelRoutes::new(
            pool.clone(),
            secrets.clone(),
            ttl,
            config.route_cache_capacity,
        );
        Self {
            publisher: Publisher::new(queue.clone(), pool.clone()),
            pool,
            queue,
            secrets,
            whatsapp_routes,
            channel_routes,
            telnyx_public_key: config.telnyx_public_key.as_deref().and_then(|text| {
                TelnyxPublicKey::parse(text)
                    .map_err(|e| tracing::error!(error = %e, "TELNYX_PUBLIC_KEY is ignored"))
                    .ok()
            }),
            auth: Arc::new(AuthState::new(&config)),
            graph: crate::graph::MetaGraph::new(graph_api_base),
            gmail_push: match (
                &google.pubsub_push_audience,
                &google.pubsub_push_service_account,
            ) {
                (Some(audience), Some(account)) => Some(PushAuthPolicy::new(audience, account)),
                _ => None,
            },
            google_keys: GoogleKeys::new(
                google.certs_url.clone(),
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
                DEFAULT_MIN_REFRESH_INTERVAL,
            ),
            google: Arc::new(google),
            google_onboarding: crate::google::GoogleOnboarding::new(Duration::from_secs(15)),
            config: Arc::new(config),
        }
    }
}

/// The whole HTTP surface of the ingress.
pub fn router(state: IngressState) -> Router {
    let body_limit = state.config.body_limit_bytes;
    Router::new()
        .route(
            "/webhooks/whatsapp",
            get(webhooks::whatsapp::verify_subscription).post(webhooks::whatsapp::receive),
        )
        // One handler: the event type says what it is. The sub-paths let a messaging profile
        // and a Call Control app point at URLs of their own.
        .route("/webhooks/telnyx", post(webhooks::telnyx::receive))
        .route(
            "/webhooks/telnyx/messaging",
            post(webhooks::telnyx::receive),
        )
        .route("/webhooks/telnyx/voice", post(webhooks::telnyx::receive))
        .route("/webhooks/twilio/sms", post(webhooks::twilio::receive_sms))
        .route("/webhooks/gmail", post(webhooks::gmail::receive))
        .route("/tools/{tenant}/send-sms", post(tools::send_sms))
        .route("/tools/{tenant}/business-info", post(tools::business_info))
        .route(
            "/oauth/google/callback",
            get(admin::gmail_connect::callback),
        )
        .merge(admin::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Serve until `shutdown`, then stop accepting and let in-flight requests finish; the spool
/// relay finishes its batch in flight and the replayer its batches, and both stop with it.
pub async fn serve(
    listener: TcpListener,
    state: IngressState,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    tokio::spawn(crate::routing::invalidation::listen(
        state.pool.clone(),
        RouteCaches {
            whatsapp: state.whatsapp_routes.clone(),
            channels: state.channel_routes.clone(),
        },
        shutdown.clone(),
    ));
    // Their own stops, so they also stop when serving fails before shutdown.
    let relay_stop = shutdown.child();
    let relay = tokio::spawn(crate::publish::relay::run(
        state.publisher.clone(),
        relay_stop.clone(),
    ));
    let replayer_stop = shutdown.child();
    let replayer = tokio::spawn(crate::replayer::run(
        state.pool.clone(),
        state.queue.clone(),
        replayer_stop.clone(),
    ));
    let app = router(state);
    tracing::info!(addr = ?listener.local_addr().ok(), "ingress listening");
    // Served through `into_make_service`, which resolves the routes once and hands each
    // connection a shared handle. Given the `Router` itself, axum rebuilds the whole route
    // table for every connection (about 200 KiB for the admin API's routes): 13 MiB at 64
    // connections, measured in BENCHMARKS.md.
    let served = axum::serve(listener, app.into_make_service())
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await;
    relay_stop.trigger();
    replayer_stop.trigger();
    if let Err(e) = relay.await {
        tracing::error!(error = %e, "the spool relay ended abnormally");
    }
    if let Err(e) = replayer.await {
        tracing::error!(error = %e, "the replayer ended abnormally");
    }
    served
}
