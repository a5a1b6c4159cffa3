//! A one-request HTTP server for tests: it answers with a canned response and hands back the
//! request it received, so the Gmail and OAuth calls are checked on the wire (method, path,
//! query, headers, body) without Google.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The request the server received.
#[derive(Debug)]
pub struct Recorded {
    /// `GET /path?query HTTP/1.1`
    pub request_line: String,
    /// The header block, lower-cased.
    pub headers: String,
    pub body: String,
}

/// Serve one request on a local port with `status`, `extra_headers` (each ending in `\r\n`)
/// and `body`. Returns the server's base URL and the request once answered.
pub async fn serve_once(
    status: u16,
    extra_headers: &str,
    body: &str,
) -> (String, JoinHandle<Recorded>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 {status} Canned\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    let handle = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut chunk = [0; 4096];
        let (head, body) = loop {
            let n = stream.read(&mut chunk).await.unwrap();
            received.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&received).into_owned();
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
            if body.len() >= length || n == 0 {
                break (head.to_owned(), body.to_owned());
            }
        };
        stream.write_all(response.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        let (request_line, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
        Recorded {
            request_line: request_line.to_owned(),
            headers: headers.to_ascii_lowercase(),
            body,
        }
    });
    (base, handle)
}
