//! Reading what the ingress published, straight from the broker, for tests that run the
//! ingress without a worker.

use futures_util::TryFutureExt;
use lapin::options::BasicGetOptions;
use lapin::{Connection, ConnectionProperties};
use serde_json::Value;
use switchyard::app::Role;

use crate::helpers::*;

/// An ingress alone (no worker): what it publishes stays in the queues.
pub async fn spawn_ingress_with(
    customize: impl FnOnce(&mut switchyard::settings::Settings),
) -> TestApp {
    let env = TestEnv::with(customize).await;
    let running = env.start(Role::Ingress).await;
    let address = running.address.clone().expect("ingress address");
    TestApp {
        env,
        address,
        _running: Some(running),
    }
}

/// Every envelope now waiting in the queue of `channel` (`sms`, `voice`, …), taken off it.
pub async fn take_published(app: &TestApp, channel: &str) -> Vec<Value> {
    let queue = format!("{}.{channel}", app.settings.queue.prefix);
    let connection = Connection::connect(
        app.settings.queue.amqp_url.expose(),
        ConnectionProperties::default(),
    )
    .await
    .expect("AMQP connection");
    let amqp = connection.create_channel().await.expect("AMQP channel");
    let mut envelopes = Vec::new();
    while let Some(message) = amqp
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .unwrap_or_else(|e| panic!("basic.get {queue}: {e}"))
        .await
    {
        envelopes.push(serde_json::from_slice(&message.delivery.data).expect("envelope JSON"));
    }
    let _ = connection.close(200, "done".into()).await;
    envelopes
}
