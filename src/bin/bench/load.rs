//! The load generator: a fixed number of HTTP/1.1 keep-alive connections, each sending one
//! signed webhook at a time (closed loop) and timing it from the first byte written to the
//! complete response read.
//!
//! The client is a minimal HTTP/1.1 implementation over `tokio::net::TcpStream` writing
//! pre-built request bytes, so that the generator, which shares the CPUs with the ingress and
//! the broker, spends as little as possible per request.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::setup;

/// Longest a single request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Latency histogram in microseconds, 1 µs .. 60 s, 3 significant digits.
pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| anyhow::anyhow!("histogram: {e:?}"))
}

/// Builds complete signed requests: a fresh body (unique message id) from the sandbox's
/// `whatsapp_text`, signed like Meta signs.
pub struct RequestFactory {
    pub app_secret: String,
    pub host: String,
}

impl RequestFactory {
    pub fn build(&self) -> Vec<u8> {
        let body = setup::webhook_body();
        let signature = switchyard_ingress::verify::meta::sign(self.app_secret.as_bytes(), &body);
        let mut request = Vec::with_capacity(body.len() + 256);
        // Writing into a Vec cannot fail.
        let _ = write!(
            request,
            "POST /webhooks/whatsapp HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             x-hub-signature-256: {signature}\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        request.extend_from_slice(&body);
        request
    }
}

/// Requests prepared before a phase, handed out once each; built on the spot (and counted)
/// when they run out.
pub struct RequestSource {
    prepared: Vec<Vec<u8>>,
    next: AtomicUsize,
    built_late: AtomicU64,
    factory: Arc<RequestFactory>,
}

impl RequestSource {
    pub fn prepared(factory: Arc<RequestFactory>, count: usize) -> Self {
        Self {
            prepared: (0..count).map(|_| factory.build()).collect(),
            next: AtomicUsize::new(0),
            built_late: AtomicU64::new(0),
            factory,
        }
    }

    fn take(&self) -> Cow<'_, [u8]> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match self.prepared.get(i) {
            Some(request) => Cow::Borrowed(request),
            None => {
                self.built_late.fetch_add(1, Ordering::Relaxed);
                Cow::Owned(self.factory.build())
            }
        }
    }

    /// Requests that had to be built during the phase.
    pub fn built_late(&self) -> u64 {
        self.built_late.load(Ordering::Relaxed)
    }
}

/// How the response body is delimited.
enum BodyLength {
    Exact(usize),
    Chunked,
    UntilClose,
}

struct Head {
    status: u16,
    len: usize,
    body: BodyLength,
    close: bool,
}

fn parse_head(buf: &[u8]) -> std::io::Result<Option<Head>> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| bad("non-UTF-8 response head"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("malformed status line"))?;
    let mut body = BodyLength::UntilClose;
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n = value.parse().map_err(|_| bad("malformed content-length"))?;
            body = BodyLength::Exact(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.to_ascii_lowercase().contains("chunked")
        {
            body = BodyLength::Chunked;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    if matches!(body, BodyLength::UntilClose) {
        close = true;
    }
    Ok(Some(Head {
        status,
        len: end + 4,
        body,
        close,
    }))
}

/// End of a complete chunked body in `buf` (which starts right after the head), if complete.
fn chunked_end(buf: &[u8]) -> std::io::Result<Option<usize>> {
    let mut at = 0;
    loop {
        let Some(line_len) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&buf[at..at + line_len]).unwrap_or_default();
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed chunk size")
        })?;
        at += line_len + 2;
        if size == 0 {
            // Trailers (none expected) end with an empty line.
            let Some(rest) = buf[at..].windows(2).position(|w| w == b"\r\n") else {
                return Ok(None);
            };
            return Ok(Some(at + rest + 2));
        }
        if buf.len() < at + size + 2 {
            return Ok(None);
        }
        at += size + 2;
    }
}

/// One keep-alive connection to the ingress (reopened after an error or `connection: close`).
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let mut conn = Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(8192),
        };
        conn.stream()
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        Ok(conn)
    }

    async fn stream(&mut self) -> std::io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.buf.clear();
            self.stream = Some(stream);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no connection"))
    }

    fn reset(&mut self) {
        self.stream = None;
        self.buf.clear();
    }

    /// Send one request and read its response; returns the status code.
    async fn round_trip(&mut self, request: &[u8]) -> std::io::Result<u16> {
        self.stream().await?;
        let (status, close) = {
            let Self { stream, buf, .. } = self;
            let stream = stream
                .as_mut()
                .ok_or_else(|| std::io::Error::other("no connection"))?;
            exchange(stream, buf, request).await?
        };
        if close {
            self.reset();
        }
        Ok(status)
    }
}

/// Write `request`, read one response into `buf` (consuming it); the status code and whether
/// the server closes the connection.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> std::io::Result<(u16, bool)> {
    stream.write_all(request).await?;
    let mut head: Option<Head> = None;
    loop {
        if head.is_none() {
            head = parse_head(buf)?;
        }
        if let Some(h) = &head {
            let body = &buf[h.len..];
            let end = match h.body {
                BodyLength::Exact(n) => (body.len() >= n).then_some(n),
                BodyLength::Chunked => chunked_end(body)?,
                BodyLength::UntilClose => None,
            };
            if let Some(end) = end {
                buf.drain(..h.len + end);
                return Ok((h.status, h.close));
            }
        }
        buf.reserve(4096);
        if stream.read_buf(buf).await? == 0 {
            return match head {
                Some(h) if matches!(h.body, BodyLength::UntilClose) => Ok((h.status, true)),
                _ => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed before the response was complete",
                )),
            };
        }
    }
}

/// What one phase produced.
pub struct PhaseResult {
    /// Responses with status 200.
    pub ok: u64,
    /// Other statuses and how often each came.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that failed at the transport level (connection error, timeout, garbage).
    pub transport_errors: u64,
    pub first_transport_error: Option<String>,
    /// Ack latency of the 200 answers, microseconds.
    pub latency: Histogram<u64>,
    /// From the start of the phase until its last response.
    pub elapsed: Duration,
}

impl PhaseResult {
    pub fn errors(&self) -> u64 {
        self.transport_errors + self.statuses.values().sum::<u64>()
    }

    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

struct TaskResult {
    conn: Conn,
    ok: u64,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    first_transport_error: Option<String>,
    latency: Histogram<u64>,
}

async fn drive(
    mut conn: Conn,
    source: Arc<RequestSource>,
    deadline: Instant,
    mut latency: Histogram<u64>,
) -> TaskResult {
    let mut ok = 0;
    let mut statuses = BTreeMap::new();
    let mut transport_errors = 0;
    let mut first_transport_error = None;
    while Instant::now() < deadline {
        let request = source.take();
        let started = Instant::now();
        match tokio::time::timeout(REQUEST_TIMEOUT, conn.round_trip(&request)).await {
            Ok(Ok(200)) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(micros.max(1));
                ok += 1;
            }
            Ok(Ok(status)) => *statuses.entry(status).or_default() += 1,
            Ok(Err(e)) => {
                transport_errors += 1;
                first_transport_error.get_or_insert_with(|| e.to_string());
                conn.reset();
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => {
                transport_errors += 1;
                first_transport_error
                    .get_or_insert_with(|| format!("no response within {REQUEST_TIMEOUT:?}"));
                conn.reset();
            }
        }
    }
    TaskResult {
        conn,
        ok,
        statuses,
        transport_errors,
        first_transport_error,
        latency,
    }
}

/// Drive every connection for `duration`; requests still in flight at the end complete and
/// count. Returns the connections for the next phase.
pub async fn run_phase(
    conns: Vec<Conn>,
    source: Arc<RequestSource>,
    duration: Duration,
) -> anyhow::Result<(Vec<Conn>, PhaseResult)> {
    let mut total = PhaseResult {
        ok: 0,
        statuses: BTreeMap::new(),
        transport_errors: 0,
        first_transport_error: None,
        latency: histogram()?,
        elapsed: Duration::ZERO,
    };
    let empty = histogram()?;
    let started = Instant::now();
    let deadline = started + duration;
    let mut set = JoinSet::new();
    for conn in conns {
        set.spawn(drive(conn, source.clone(), deadline, empty.clone()));
    }
    let mut conns = Vec::new();
    while let Some(done) = set.join_next().await {
        let task = done.context("load task")?;
        total.ok += task.ok;
        for (status, n) in task.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        total.transport_errors += task.transport_errors;
        if total.first_transport_error.is_none() {
            total.first_transport_error = task.first_transport_error;
        }
        total
            .latency
            .add(&task.latency)
            .map_err(|e| anyhow::anyhow!("merging histograms: {e:?}"))?;
        conns.push(task.conn);
    }
    total.elapsed = started.elapsed();
    Ok((conns, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_chunks() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let head = parse_head(raw)
            .ok()
            .flatten()
            .map(|h| (h.status, h.len, h.close));
        assert_eq!(head, Some((200, raw.len() - 2, false)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").ok().flatten().is_none());
        let chunks = b"3\r\nabc\r\n0\r\n\r\n";
        assert_eq!(chunked_end(chunks).ok().flatten(), Some(chunks.len()));
        assert_eq!(chunked_end(&chunks[..6]).ok().flatten(), None);
    }
}
