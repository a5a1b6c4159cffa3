//! The test harness: every test gets its own PostgreSQL database (migrated, as the owner
//! role) and its own queue prefix on the real RabbitMQ, runs the real application built by
//! `switchyard::app::Application`, and talks to the fake Graph and Telnyx APIs from the
//! sandbox. Tests therefore run in parallel without seeing each other.
//!
//! Connection defaults match `deploy/local/services.sh`; override with `TEST_DATABASE_OWNER_URL`,
//! `TEST_DATABASE_APP_URL` (both without a database name) and `TEST_AMQP_URL`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use switchyard::app::{Application, Role};
use switchyard::sandbox::FakeGraph;
use switchyard::sandbox::graph::Failure;
use switchyard::sandbox::telnyx::FakeTelnyx;
use switchyard::settings::Settings;
use switchyard_ingress::verify::meta::sign;
use switchyard_ingress::webhooks::whatsapp::split;
use switchyard_shared::config::{
    DatabaseConfig, GeminiConfig, GoogleConfig, IngressConfig, PubSubConfig, QueueBackend,
    QueueConfig, SecretsConfig, WorkerConfig,
};
use switchyard_shared::domain::{Channel, ConversationKey, TenantId};
use switchyard_shared::envelope::{Envelope, new_traceparent};
use switchyard_shared::payloads::telnyx::{Routing, Webhook};
use switchyard_shared::payloads::whatsapp::WebhookBody;
use switchyard_shared::secrets::{SecretBox, SecretString};
use switchyard_shared::shutdown::Shutdown;
use tokio::task::JoinHandle;

/// The app secret of the signature vectors in `tests/fixtures/signature_vectors.json`; the
/// test apps use it as the platform's `WHATSAPP_APP_SECRET`.
pub const APP_SECRET: &str = "fake_app_secret_0123456789abcdef";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const ADMIN_TOKEN: &str = "test-admin-token";
/// The fixtures' business number and WABA.
pub const PHONE_NUMBER_ID: &str = "100000000000001";
pub const WABA_ID: &str = "200000000000002";
/// The platform's `TELNYX_API_KEY` in the test apps.
pub const TELNYX_PLATFORM_KEY: &str = "KEY_PLATFORM_DEFAULT_0001";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A fixture file's exact bytes.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

pub fn fixture_json(path: &str) -> Value {
    serde_json::from_slice(&fixture(path)).expect("fixture is JSON")
}

/// Poll `check` until it holds, or fail the test after 20 s.
pub async fn eventually<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    eventually_within(what, Duration::from_secs(20), check).await
}

/// [`eventually`], waiting up to `limit`.
pub async fn eventually_within<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A database, a queue prefix and a fake Graph API, shared by the apps a test starts.
pub struct TestEnv {
    pub settings: Settings,
    /// Runtime role: row-level security applies.
    pub pool: PgPool,
    /// Owner role: sees every row; for assertions.
    pub owner_pool: PgPool,
    pub graph: FakeGraph,
    pub telnyx: FakeTelnyx,
    pub client: reqwest::Client,
    shutdown: Shutdown,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// One running application (ingress, worker or both).
pub struct RunningApp {
    pub address: Option<String>,
    shutdown: Shutdown,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningApp {
    /// Graceful stop: the ingress finishes its requests, the worker its events.
    pub async fn stop(self) {
        self.shutdown.trigger();
        let result = self.task.await.expect("app task panicked");
        result.expect("app stopped with an error");
    }
}

/// The queue backend the suite runs against: RabbitMQ, or Pub/Sub with
/// `TEST_QUEUE_BACKEND=pubsub` (and `PUBSUB_EMULATOR_HOST` naming a running emulator;
/// `deploy/local/test.sh` runs the suite once on each).
pub fn test_backend() -> QueueBackend {
    match std::env::var("TEST_QUEUE_BACKEND").as_deref() {
        Ok("pubsub") => {
            assert!(
                std::env::var("PUBSUB_EMULATOR_HOST").is_ok(),
                "TEST_QUEUE_BACKEND=pubsub needs PUBSUB_EMULATOR_HOST (deploy/local/test.sh starts the emulator)"
            );
            QueueBackend::Pubsub
        }
        _ => QueueBackend::Rabbitmq,
    }
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(customize: impl FnOnce(&mut Settings)) -> Self {
        switchyard_shared::telemetry::init("warn");
        let owner_base = env_or(
            "TEST_DATABASE_OWNER_URL",
            "postgres://switchyard_owner:switchyard_owner@127.0.0.1:5432",
        );
        let app_base = env_or(
            "TEST_DATABASE_APP_URL",
            "postgres://switchyard_app:switchyard_app@127.0.0.1:5432",
        );
        let amqp = env_or("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("sy_test_{id}");

        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{owner_base}/postgres"))
            .await
            .expect("connect as the owner role (run deploy/local/services.sh)");
        sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{db_name}""#
        )))
        .execute(&admin)
        .await
        .expect("create test database");
        admin.close().await;
        let owner_url = format!("{owner_base}/{db_name}");
        switchyard_shared::db::migrate(&owner_url)
            .await
            .expect("migrate test database");

        let shutdown = Shutdown::new();
        let any_port: SocketAddr = "127.0.0.1:0".parse().expect("address");
        let graph = FakeGraph::start(any_port, shutdown.clone())
            .await
            .expect("start fake Graph API");
        let telnyx = FakeTelnyx::start(any_port, shutdown.clone())
            .await
            .expect("start fake Telnyx API");
        let mut settings = Settings {
            database: DatabaseConfig {
                url: SecretString::new(format!("{app_base}/{db_name}")),
                owner_url: Some(SecretString::new(owner_url.clone())),
                max_connections: 8,
            },
            queue: QueueConfig {
                backend: test_backend(),
                amqp_url: SecretString::new(amqp),
                prefix: format!("test-{id}"),
                publish_channels: 2,
                prefetch: 16,
                delivery_limit: 20,
                partitions: 4,
                // Idle queues go soon after the test, so their deletion does not pile up on the
                // broker while a later run starts.
                expires_secs: Some(20),
                in_place_retries: 1,
                retry_tiers: "500ms,1s,2s".parse().expect("retry tiers"),
                confirm_timeout_ms: 5000,
                pubsub: PubSubConfig {
                    project: Some("switchyard-test".into()),
                    emulator_host: std::env::var("PUBSUB_EMULATOR_HOST").ok(),
                    create_topology: true,
                    ..Default::default()
                },
            },
            ingress: IngressConfig {
                bind: any_port,
                body_limit_bytes: 4 * 1024 * 1024,
                whatsapp_app_secret: Some(SecretString::new(APP_SECRET)),
                whatsapp_verify_token: Some(SecretString::new(VERIFY_TOKEN)),
                meta_app_id: Some("500000000000005".into()),
                telnyx_api_key: Some(SecretString::new(TELNYX_PLATFORM_KEY)),
                telnyx_public_key: None,
                telnyx_messaging_profile_id: None,
                twilio_auth_token: None,
                public_base_url: None,
                admin_token: Some(SecretString::new(ADMIN_TOKEN)),
                jwt_secret: Some(SecretString::new("test-jwt-secret-0123456789abcdef0123")),
                jwt_ttl_secs: 600,
                login_attempts_per_minute: 5,
                route_cache_ttl_secs: 60,
                route_cache_capacity: 1000,
            },
            worker: WorkerConfig {
                whatsapp_api_base: graph.api_base(),
                telnyx_api_base: telnyx.api_base(),
                telnyx_api_key: Some(SecretString::new(TELNYX_PLATFORM_KEY)),
                telnyx_messaging_profile_id: None,
                provider_timeout_ms: 5000,
                outbox_max_attempts: 3,
                outbox_poll_ms: 100,
                outbox_retry_base_ms: 100,
                whatsapp_messages_per_second: 80,
                sms_messages_per_second: 10,
                reply_batch_window_ms: 300,
                reply_batch_max_ms: 1500,
                llm_turn_poll_ms: 100,
                tenant_events_per_second: 1000,
                tenant_events_burst: 1000,
            },
            google: GoogleConfig {
                oauth_client_id: Some("test-client.apps.googleusercontent.com".into()),
                oauth_client_secret: Some(SecretString::new("test-oauth-client-secret")),
                oauth_auth_url: "https://accounts.google.example/o/oauth2/v2/auth".into(),
                oauth_token_url: "http://127.0.0.1:9/token".into(),
                oauth_redirect_url: Some("https://hooks.example.test/oauth/google/callback".into()),
                gmail_api_base: "http://127.0.0.1:9/gmail/v1".into(),
                gmail_pubsub_topic: Some("projects/test/topics/gmail".into()),
                gmail_watch_check_secs: 3600,
                certs_url: "http://127.0.0.1:9/oauth2/v3/certs".into(),
                pubsub_push_audience: Some("https://hooks.example.test/webhooks/gmail".into()),
                pubsub_push_service_account: Some("push@test.iam.gserviceaccount.com".into()),
            },
            gemini: GeminiConfig {
                api_base: "http://127.0.0.1:9/v1beta".into(),
                api_key: None,
                model: "gemini-2.5-flash".into(),
                timeout_ms: 5000,
                max_attempts: 3,
                retry_base_ms: 50,
                max_retry_delay_ms: 1000,
            },
            secrets: SecretsConfig {
                encryption_keys: SecretString::new(SecretBox::generate_key_spec("test1")),
            },
            shutdown_grace_secs: 25,
        };
        customize(&mut settings);
        let pool = switchyard_shared::db::connect_lazy(&settings.database).expect("runtime pool");
        let owner_pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&owner_url)
            .await
            .expect("owner pool");
        Self {
            settings,
            pool,
            owner_pool,
            graph,
            telnyx,
            client: reqwest::Client::new(),
            shutdown,
        }
    }

    /// Build and run the application in this environment.
    pub async fn start(&self, role: Role) -> RunningApp {
        self.start_with(role, |_| {}).await
    }

    /// Build and run the application with this environment's settings changed, e.g. its
    /// broker or database URL pointed at a proxy the test can cut (`proxy.rs`).
    pub async fn start_with(
        &self,
        role: Role,
        customize: impl FnOnce(&mut Settings),
    ) -> RunningApp {
        let mut settings = self.settings.clone();
        customize(&mut settings);
        let app = Application::build(&settings, role)
            .await
            .expect("build application");
        let address = app.local_addr().map(|a| format!("http://{a}"));
        let shutdown = self.shutdown.child();
        let task = tokio::spawn(app.run(shutdown.clone()));
        RunningApp {
            address,
            shutdown,
            task,
        }
    }

    /// Publish envelopes as the ingress does, one after the other (a batch may spread over
    /// several broker channels, and then its order is not kept).
    pub async fn publish(&self, envelopes: &[Envelope]) {
        let queue = switchyard_shared::queue::connect(&self.settings.queue)
            .await
            .expect("connect to the queue");
        for envelope in envelopes {
            queue
                .publish(std::slice::from_ref(envelope))
                .await
                .expect("publish");
        }
    }

    /// Whether the Telnyx event `event_id` (`data.id`) has been applied.
    pub async fn telnyx_event_applied(&self, event_id: &str) -> bool {
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM processed_events WHERE dedup_key = $1")
                .bind(format!("telnyx:{event_id}"))
                .fetch_one(&self.owner_pool)
                .await
                .unwrap_or_else(|e| panic!("processed_events: {e}"));
        n == 1
    }

    /// `SELECT count(*) …` as the owner.
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.owner_pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// An all-in-one app (ingress + worker) with its environment: what most tests use.
pub struct TestApp {
    pub env: TestEnv,
    pub address: String,
    /// Kept so the app lives as long as the test; the environment stops it on drop.
    pub _running: Option<RunningApp>,
}

impl TestEnv {
    /// A [`TestApp`] over this environment that keeps `running` (started from it, e.g. an
    /// ingress alone, so that nothing consumes the queue until the test starts a worker).
    pub fn into_app(self, running: RunningApp) -> TestApp {
        TestApp {
            address: running.address.clone().expect("the app serves HTTP"),
            env: self,
            _running: Some(running),
        }
    }
}

impl TestApp {
    /// Stop the app this one keeps running, gracefully.
    pub async fn stop(&mut self) {
        self._running.take().expect("a running app").stop().await;
    }
}

impl std::ops::Deref for TestApp {
    type Target = TestEnv;

    fn deref(&self) -> &TestEnv {
        &self.env
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut Settings)) -> TestApp {
    let env = TestEnv::with(customize).await;
    let app = env.start(Role::All).await;
    let address = app.address.clone().expect("ingress address");
    TestApp {
        env,
        address,
        _running: Some(app),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn admin_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn admin_put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("request")
    }

    /// Any API call with a bearer token.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request")
    }

    /// Provision a tenant as the platform admin; returns its id and its first API key.
    pub async fn provision(&self, name: &str) -> (String, String) {
        let response = self
            .admin_post("/api/v1/tenants", &json!({ "name": name }))
            .await;
        assert_eq!(response.status(), 201, "provision tenant");
        let body: Value = response.json().await.expect("tenant JSON");
        let key = body["api_key"]["key"]
            .as_str()
            .expect("first API key")
            .to_owned();
        assert!(key.starts_with("sk_live_"));
        (body["id"].as_str().expect("id").to_owned(), key)
    }

    /// A tenant-admin key and an agent key of a new tenant.
    pub async fn admin_and_agent_keys(&self, name: &str) -> (String, String) {
        let (_, admin) = self.provision(name).await;
        let agent: Value = self
            .call(
                reqwest::Method::POST,
                "/api/v1/api-keys",
                &admin,
                Some(json!({ "name": "desk", "role": "agent" })),
            )
            .await
            .json()
            .await
            .expect("API key JSON");
        (admin, agent["key"].as_str().expect("agent key").to_owned())
    }

    /// Create a tenant through the admin API; returns its id.
    pub async fn create_tenant(&self, slug: &str, welcome_text: Option<&str>) -> TenantId {
        let response = self
            .admin_post(
                "/api/v1/tenants",
                &json!({ "name": format!("Tenant {slug}"), "slug": slug, "welcome_text": welcome_text }),
            )
            .await;
        assert_eq!(response.status(), 201, "create tenant");
        let body: Value = response.json().await.expect("tenant JSON");
        body["id"].as_str().expect("id").parse().expect("uuid")
    }

    /// Put a WhatsApp config through the admin API.
    pub async fn put_whatsapp(
        &self,
        tenant: TenantId,
        phone_number_id: &str,
        waba_id: &str,
        app_secret: Option<&str>,
    ) {
        let response = self
            .admin_put(
                &format!("/api/v1/tenants/{tenant}/channels/whatsapp"),
                &json!({
                    "phone_number_id": phone_number_id,
                    "waba_id": waba_id,
                    "access_token": format!("token-of-{tenant}"),
                    "app_secret": app_secret,
                }),
            )
            .await;
        assert_eq!(response.status(), 200, "put WhatsApp config");
    }

    /// The fixtures' tenant: phone_number_id 100000000000001 with a welcome text.
    pub async fn fixture_tenant(&self) -> TenantId {
        let tenant = self
            .create_tenant("fixture", Some("Welcome to the fixture shop!"))
            .await;
        self.put_whatsapp(tenant, PHONE_NUMBER_ID, WABA_ID, None)
            .await;
        tenant
    }

    /// POST to the WhatsApp webhook with the given signature header (or none).
    pub async fn post_whatsapp_raw(
        &self,
        body: Vec<u8>,
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/whatsapp"))
            .header("content-type", "application/json");
        if let Some(signature) = signature {
            request = request.header("X-Hub-Signature-256", signature);
        }
        request.body(body).send().await.expect("request")
    }

    /// POST signed with `secret`.
    pub async fn post_whatsapp_signed_with(
        &self,
        secret: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let signature = sign(secret.as_bytes(), &body);
        self.post_whatsapp_raw(body, Some(&signature)).await
    }

    /// POST signed with the platform's app secret.
    pub async fn post_whatsapp(&self, body: Vec<u8>) -> reqwest::Response {
        self.post_whatsapp_signed_with(APP_SECRET, body).await
    }

    /// The fixture tenant's welcome to each of `customers` new customers, each slow at Meta:
    /// the next `customers` sends are answered (200) only after `delay`. Then one "hello" from
    /// each customer (`1555000{i:04}`, wamid `wamid.{tag}{i}`), every webhook accepted.
    pub async fn slow_welcomes_to_new_customers(
        &self,
        customers: usize,
        delay: Duration,
        tag: &str,
    ) {
        self.graph.fail_next(Failure {
            count: u32::try_from(customers).expect("a handful of customers"),
            status: 200,
            code: 0,
            delay_ms: u64::try_from(delay.as_millis()).expect("a delay in milliseconds"),
        });
        for i in 0..customers {
            let body = inbound_text(
                PHONE_NUMBER_ID,
                WABA_ID,
                &format!("1555000{i:04}"),
                &format!("wamid.{tag}{i}"),
                "hello",
            );
            assert_eq!(self.post_whatsapp(bytes(&body)).await.status(), 200);
        }
    }
}

/// An inbound text message webhook for one business number.
pub fn inbound_text(
    phone_number_id: &str,
    waba_id: &str,
    from: &str,
    wamid: &str,
    text: &str,
) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": waba_id, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550002222", "phone_number_id": phone_number_id },
            "contacts": [{ "profile": { "name": "Customer" }, "wa_id": from }],
            "messages": [{ "from": from, "id": wamid, "timestamp": "1767225600", "type": "text",
                           "text": { "body": text } }]
        }}]}]
    })
}

/// A delivery receipt webhook.
pub fn status_event(wamid: &str, status: &str, timestamp: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA_ID, "changes": [{ "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550002222", "phone_number_id": PHONE_NUMBER_ID },
            "statuses": [{ "id": wamid, "status": status, "timestamp": timestamp, "recipient_id": "15550001111" }]
        }}]}]
    })
}

pub fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serialize")
}

/// The envelope the ingress publishes for a verified Telnyx webhook of `tenant`: channel and
/// kind by event type, `telnyx:<data.id>` as dedup key, the customer's number as the
/// conversation's contact (the caller, for call events without a direction).
pub fn telnyx_envelope(tenant: TenantId, webhook: &Value) -> Envelope {
    let body = bytes(webhook);
    let parsed = Webhook::parse(&body).expect("a Telnyx webhook");
    let channel = parsed.event_type().channel().expect("messaging or voice");
    let contact = match parsed.routing().expect("routing keys") {
        Some(Routing::Messaging { contact, .. }) => contact,
        Some(Routing::Voice { contact, .. }) => contact.unwrap_or_else(|| {
            webhook["data"]["payload"]["from"]
                .as_str()
                .expect("caller")
                .to_owned()
        }),
        None => panic!("no routing"),
    };
    Envelope::new(
        tenant,
        channel,
        parsed.envelope_kind(),
        parsed.dedup_key().clone(),
        ConversationKey::new(tenant, channel, &contact),
        new_traceparent(),
        webhook.clone(),
    )
}

/// The envelope the ingress publishes for a single-event WhatsApp webhook of `tenant` (e.g.
/// [`inbound_text`]): split as the webhook splits it.
pub fn whatsapp_envelope(tenant: TenantId, webhook: &Value) -> Envelope {
    let body: WebhookBody = serde_json::from_value(webhook.clone()).expect("a WhatsApp webhook");
    let mut events = split(&body).expect("a valid batch");
    assert_eq!(events.len(), 1, "one event");
    let event = events.remove(0);
    Envelope::new(
        tenant,
        Channel::Whatsapp,
        event.kind,
        event.dedup_key,
        ConversationKey::new(tenant, Channel::Whatsapp, &event.contact),
        new_traceparent(),
        event.payload,
    )
}

/// A Telnyx fixture with its event id (`data.id`) replaced.
pub fn telnyx_fixture(name: &str, event_id: &str) -> Value {
    let mut webhook = fixture_json(&format!("telnyx/{name}.json"));
    webhook["data"]["id"] = json!(event_id);
    webhook
}

/// Our Telnyx number in the fixtures, and the customer's.
pub const TELNYX_NUMBER: &str = "+15550003333";
pub const CUSTOMER_NUMBER: &str = "+15550001111";
/// The tenant's own Telnyx API key in [`TestApp::telnyx_tenant`].
pub const TELNYX_TENANT_KEY: &str = "KEY_TENANT_SMS_0123456789";

impl TestApp {
    /// A new tenant with `welcome_text` and `metadata` set; returns its id and API key.
    pub async fn tenant_with(
        &self,
        name: &str,
        welcome_text: Option<&str>,
        metadata: Value,
    ) -> (TenantId, String) {
        let (id, key) = self.provision(name).await;
        let response = self
            .call(
                reqwest::Method::PATCH,
                "/api/v1/tenant",
                &key,
                Some(json!({ "welcome_text": welcome_text, "metadata": metadata })),
            )
            .await;
        assert_eq!(response.status(), 200, "patch tenant");
        (id.parse().expect("uuid"), key)
    }

    /// Put the acting tenant's config of `channel` (`sms`, `voice`, …).
    pub async fn put_channel(&self, key: &str, channel: &str, body: Value) {
        let response = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/channels/{channel}"),
                key,
                Some(body),
            )
            .await;
        assert_eq!(response.status(), 200, "put {channel} config");
    }

    /// A tenant with a welcome text whose SMS channel is the fixtures' Telnyx number, with
    /// its own API key.
    pub async fn telnyx_tenant(&self) -> TenantId {
        let (tenant, key) = self
            .tenant_with("Telnyx shop", Some("Welcome to the shop!"), json!({}))
            .await;
        self.put_telnyx_sms(&key).await;
        tenant
    }

    /// Put the acting tenant's SMS channel: the fixtures' Telnyx number, its own API key.
    pub async fn put_telnyx_sms(&self, key: &str) {
        self.put_channel(
            key,
            "sms",
            json!({ "telnyx_phone_number": TELNYX_NUMBER, "telnyx_api_key": TELNYX_TENANT_KEY }),
        )
        .await;
    }
}
