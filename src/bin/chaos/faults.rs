//! The faults the run injects while the traffic flows, each timed from the moment it starts
//! (`injected`) to the moment the part it broke is back (`healed`):
//!
//! - **broker**: RabbitMQ restarted (the `--broker-restart` command);
//! - **database**: PostgreSQL restarted (`--database-restart`);
//! - **worker**: a worker killed with SIGKILL, started again after a pause;
//! - **ingress**: the ingress killed with SIGKILL while requests are in flight, one of them
//!   provably half received, then started again.

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio::io::AsyncWriteExt;

use crate::system::{Service, wait_ready};
use crate::traffic::Traffic;

/// How long a killed process stays down before it is started again.
const DOWN_FOR: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fault {
    Broker,
    Database,
    Worker,
    Ingress,
}

impl Fault {
    pub fn label(self) -> &'static str {
        match self {
            Fault::Broker => "RabbitMQ restart",
            Fault::Database => "PostgreSQL restart",
            Fault::Worker => "worker SIGKILL",
            Fault::Ingress => "ingress SIGKILL mid-request",
        }
    }
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct Injected {
    pub fault: Fault,
    pub injected: DateTime<Utc>,
    pub healed: DateTime<Utc>,
    pub detail: String,
}

/// What the faults act on.
pub struct Target<'a> {
    pub ingress: &'a mut Service,
    pub ingress_addr: SocketAddr,
    pub workers: &'a mut [Service],
    pub traffic: &'a Arc<Traffic>,
    pub broker_restart: &'a str,
    pub broker_port: u16,
    pub database_restart: &'a str,
    pub database_port: u16,
}

/// Inject `fault` (the `nth` of the run) and wait until what it broke is back.
pub async fn inject(fault: Fault, nth: usize, target: &mut Target<'_>) -> anyhow::Result<Injected> {
    let injected = Utc::now();
    let detail = match fault {
        Fault::Broker => {
            let took = restart_service(target.broker_restart, target.broker_port).await?;
            format!(
                "restart command and port back in {:.1} s",
                took.as_secs_f64()
            )
        }
        Fault::Database => {
            let took = restart_service(target.database_restart, target.database_port).await?;
            format!(
                "restart command and port back in {:.1} s",
                took.as_secs_f64()
            )
        }
        Fault::Worker => {
            let count = target.workers.len();
            let worker = target
                .workers
                .get_mut(nth % count.max(1))
                .context("no worker to kill")?;
            worker.kill()?;
            tokio::time::sleep(DOWN_FOR).await;
            worker.start()?;
            format!("{} killed, started again after {DOWN_FOR:?}", worker.name())
        }
        Fault::Ingress => {
            let (in_flight, half) = kill_ingress_mid_request(target).await?;
            tokio::time::sleep(DOWN_FOR).await;
            target.ingress.start()?;
            let ready = wait_ready(target.ingress, target.ingress_addr).await?;
            format!(
                "killed with {in_flight} requests in flight, one of them half sent (event #{half}); \
                 ready {:.1} s after its start",
                ready.as_secs_f64()
            )
        }
    };
    Ok(Injected {
        fault,
        injected,
        healed: Utc::now(),
        detail,
    })
}

/// Send the head and half the body of a signed WhatsApp webhook, wait until other requests
/// are in flight too, then SIGKILL the ingress; the number in flight and the half-sent
/// event's sequence number.
async fn kill_ingress_mid_request(target: &mut Target<'_>) -> anyhow::Result<(usize, u64)> {
    let (event, head, body) = target.traffic.whatsapp_event()?;
    let mut stream = tokio::net::TcpStream::connect(target.ingress_addr)
        .await
        .context("connecting to the ingress")?;
    stream.write_all(&head).await?;
    stream.write_all(&body[..body.len() / 2]).await?;
    stream.flush().await?;
    let waited = Instant::now();
    while target.traffic.in_flight() == 0 && waited.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // The half-sent request counts too.
    let in_flight = target.traffic.in_flight() + 1;
    target.ingress.kill()?;
    drop(stream);
    Ok((in_flight, event.seq))
}

/// Run `command` with `sh -c` and wait until `port` on 127.0.0.1 accepts connections; how
/// long both took.
async fn restart_service(command: &str, port: u16) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let command = command.to_owned();
    let status = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .args(["-c", &command])
            .stdin(Stdio::null())
            .status()
    })
    .await
    .context("running a restart command")?
    .context("running a restart command")?;
    anyhow::ensure!(status.success(), "the restart command failed: {status}");
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "port {port} did not open within 5 minutes of the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(started.elapsed())
}
