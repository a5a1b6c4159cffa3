//! Graceful shutdown with work in flight: the ingress finishes the request it is reading, the
//! worker finishes the events it started (their replies included) and leaves the rest in the
//! broker; the next worker applies the rest. Nothing is lost, nothing is done twice.

use std::time::{Duration, Instant};

use switchyard::app::Role;
use switchyard_ingress::verify::meta::sign;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const CUSTOMERS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_finishes_the_events_in_flight_and_leaves_the_rest_to_the_next_worker() {
    let mut app = spawn_app().await;
    app.fixture_tenant().await;
    // Every welcome takes a second at Meta, so the stop comes while replies are being sent.
    app.slow_welcomes_to_new_customers(CUSTOMERS, Duration::from_secs(1), "STOP")
        .await;
    eventually("a welcome being sent", || async {
        app.count("SELECT count(*) FROM outbox WHERE status IN ('sending', 'sent')")
            .await
            > 0
    })
    .await;

    let stopping = Instant::now();
    app.stop().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(25),
        "the stop took {:?}, longer than the grace period",
        stopping.elapsed()
    );
    // What the stopped worker started, it finished: no send was left half-done.
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE status IN ('sending', 'unknown')")
            .await,
        0
    );

    let _next = app.env.start(Role::Worker).await;
    eventually("every message applied by the next worker", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == i64::try_from(CUSTOMERS).unwrap()
    })
    .await;
    eventually("every welcome sent", || async {
        app.count("SELECT count(*) FROM outbox WHERE status = 'sent'")
            .await
            == i64::try_from(CUSTOMERS).unwrap()
    })
    .await;
    // Exactly one welcome per customer reached Meta.
    let mut recipients: Vec<String> = app
        .graph
        .sent()
        .iter()
        .map(|m| m.body["to"].as_str().unwrap_or_default().to_owned())
        .collect();
    recipients.sort();
    let before = recipients.len();
    recipients.dedup();
    assert_eq!(before, CUSTOMERS, "sends: {recipients:?}");
    assert_eq!(recipients.len(), CUSTOMERS);
    assert_eq!(
        app.count("SELECT count(*) FROM processed_events").await,
        i64::try_from(CUSTOMERS).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_being_read_when_the_stop_comes_is_finished_and_published() {
    let env = TestEnv::new().await;
    let running = env.start(Role::Ingress).await;
    let mut app = env.into_app(running);
    let address = app.address.clone();
    app.fixture_tenant().await;

    let body = bytes(&inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550009999",
        "wamid.INFLIGHT",
        "sent as the ingress stops",
    ));
    let signature = sign(APP_SECRET.as_bytes(), &body);
    let host = address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).await.expect("connect");
    let head = format!(
        "POST /webhooks/whatsapp HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         x-hub-signature-256: {signature}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(first).await.expect("write half the body");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The stop comes while the body is half read.
    let running = app._running.take().expect("the ingress");
    let stop = tokio::spawn(running.stop());
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(rest).await.expect("write the rest");
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stop.await.expect("stop");

    // A new connection is refused now; the accepted event is in the broker for a worker.
    assert!(TcpStream::connect(host).await.is_err());
    let _worker = app.env.start(Role::Worker).await;
    eventually("the in-flight request's message applied", || async {
        app.count("SELECT count(*) FROM messages WHERE provider_message_id = 'wamid.INFLIGHT'")
            .await
            == 1
    })
    .await;
}
