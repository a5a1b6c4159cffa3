//! A worker holds at most `WORKER_PREFETCH` events at once: on RabbitMQ the prefetch of each
//! partition queue it consumes, on Pub/Sub the flow control of its stream. With one partition
//! the two bounds are the same. Events of different conversations run side by side up to it.

use std::time::Duration;

use crate::helpers::*;

const PREFETCH: u16 = 2;
const CUSTOMERS: usize = 6;
/// An outbox relay poll interval no test lasts.
const RELAY_IDLE_MS: u64 = 600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_at_most_its_prefetch_of_events_at_once() {
    let app = spawn_app_with(|s| {
        s.queue.prefetch = PREFETCH;
        s.queue.partitions = 1;
        // Only the events' own dispatch sends: the outbox relay, which picks up pending sends
        // on its own, could otherwise send a welcome after its event was acknowledged.
        s.worker.outbox_poll_ms = RELAY_IDLE_MS;
    })
    .await;
    app.fixture_tenant().await;
    // Each welcome takes two and a half seconds at Meta, and the event is acknowledged after it:
    // the sends in flight at Meta are the events the worker holds.
    app.slow_welcomes_to_new_customers(CUSTOMERS, Duration::from_millis(2500), "FLOW")
        .await;
    eventually_within("every welcome sent", Duration::from_secs(40), || async {
        app.count("SELECT count(*) FROM outbox WHERE status = 'sent'")
            .await
            == i64::try_from(CUSTOMERS).unwrap()
    })
    .await;
    assert_eq!(
        app.graph.most_sends_in_flight(),
        usize::from(PREFETCH),
        "on {:?}",
        test_backend()
    );
}
