//! A TCP proxy a test puts between the application and a service it shares with other tests
//! (the broker, the database), to cause an outage of that one application: [`Proxy::cut`]
//! drops every open connection and refuses new ones, [`Proxy::restore`] accepts again.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use switchyard_shared::config::{QueueBackend, QueueConfig};
use switchyard_shared::secrets::SecretString;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

pub struct Proxy {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Stops accepting when the proxy is dropped.
    stop: CancellationToken,
}

struct State {
    open: bool,
    /// Cancelled by `cut`: ends every connection made since the last cut.
    connections: CancellationToken,
}

impl Proxy {
    /// Listen on a free local port and forward every connection to `upstream` (`host:port`).
    /// Needs a running Tokio runtime.
    pub fn start(upstream: String) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        listener.set_nonblocking(true).expect("non-blocking proxy");
        let address = listener.local_addr().expect("proxy address");
        let listener = TcpListener::from_std(listener).expect("proxy listener");
        let state = Arc::new(Mutex::new(State {
            open: true,
            connections: CancellationToken::new(),
        }));
        let stop = CancellationToken::new();
        tokio::spawn(accept(listener, upstream, state.clone(), stop.clone()));
        Self {
            address,
            state,
            stop,
        }
    }

    /// A proxy in front of the service `url` names (`postgres://…`, `amqp://…`), and `url`
    /// pointed at the proxy.
    pub fn in_front_of(url: &str) -> (Self, String) {
        let mut parsed = reqwest::Url::parse(url).expect("a service URL");
        let host = parsed.host_str().expect("the URL names a host").to_owned();
        let port = parsed.port().unwrap_or(match parsed.scheme() {
            "amqp" => 5672,
            _ => 5432,
        });
        let proxy = Self::start(format!("{host}:{port}"));
        parsed.set_host(Some("127.0.0.1")).expect("set host");
        parsed
            .set_port(Some(proxy.address.port()))
            .expect("set port");
        (proxy, parsed.to_string())
    }

    /// A proxy in front of the run's broker (RabbitMQ, or the Pub/Sub emulator), and `queue`
    /// pointed at it.
    pub fn in_front_of_broker(queue: &QueueConfig) -> (Self, QueueConfig) {
        let mut proxied = queue.clone();
        match queue.backend {
            QueueBackend::Rabbitmq => {
                let (proxy, url) = Self::in_front_of(queue.amqp_url.expose());
                proxied.amqp_url = SecretString::new(url);
                (proxy, proxied)
            }
            QueueBackend::Pubsub => {
                let host = queue
                    .pubsub
                    .emulator_host
                    .clone()
                    .expect("the suite runs Pub/Sub on the emulator");
                let proxy = Self::start(host);
                proxied.pubsub.emulator_host = Some(proxy.address.to_string());
                (proxy, proxied)
            }
        }
    }

    /// Drop every open connection and refuse new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        let mut state = self.state.lock().expect("proxy state");
        state.open = false;
        state.connections.cancel();
        state.connections = CancellationToken::new();
    }

    /// Accept and forward connections again.
    pub fn restore(&self) {
        self.state.lock().expect("proxy state").open = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
        self.cut();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: String,
    state: Arc<Mutex<State>>,
    stop: CancellationToken,
) {
    loop {
        let client = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => client,
                Err(_) => continue,
            },
        };
        let connection = {
            let state = state.lock().expect("proxy state");
            // Closed at once: the client sees its connection refused.
            state.open.then(|| state.connections.clone())
        };
        let Some(cut) = connection else {
            continue;
        };
        let upstream = upstream.clone();
        tokio::spawn(async move {
            let mut client = client;
            let Ok(mut server) = TcpStream::connect(&upstream).await else {
                return;
            };
            tokio::select! {
                _ = cut.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            }
        });
    }
}
