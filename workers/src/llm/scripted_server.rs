//! A local HTTP server for the client's tests: it answers requests with a script of canned
//! responses, one per request (the last one repeats), and keeps every request it received, so
//! retries are checked on the wire without Google.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One canned response.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub body: String,
    /// How long to wait before answering (to exceed the client's time-out).
    pub delay: Duration,
}

impl Scripted {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /path HTTP/1.1`
    pub request_line: String,
    /// The header block, lower-cased.
    pub headers: String,
    pub body: String,
}

/// A running server; it stops with the test's runtime.
pub struct ScriptedServer {
    pub base: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ScriptedServer {
    /// Serve `script` on a free local port.
    pub async fn start(script: Vec<Scripted>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            for n in 0.. {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let Some(response) = script.get(n).or(script.last()).cloned() else {
                    return;
                };
                let log = log.clone();
                tokio::spawn(answer(stream, response, log));
            }
        });
        Self { base, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn answer(mut stream: TcpStream, response: Scripted, log: Arc<Mutex<Vec<Received>>>) {
    let mut bytes = Vec::new();
    let mut chunk = [0; 4096];
    let (head, body) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        bytes.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        if body.len() >= length {
            break (head.to_owned(), body.to_owned());
        }
    };
    let (request_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    log.lock().unwrap().push(Received {
        request_line: request_line.to_owned(),
        headers: headers.to_ascii_lowercase(),
        body,
    });
    tokio::time::sleep(response.delay).await;
    let reply = format!(
        "HTTP/1.1 {} Scripted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{}",
        response.status,
        response.body.len(),
        response.body
    );
    // The client may have given up waiting; that is what a time-out test wants.
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}
