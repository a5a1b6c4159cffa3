//! Serving a fake provider API: each fake binds its own listener (so it knows its address
//! before it builds its router), then hands both here to run until shutdown.

use std::net::SocketAddr;

use axum::Router;
use switchyard_shared::shutdown::Shutdown;
use tokio::net::TcpListener;

/// Bind `addr` (port 0 for any free port); the listener and its `http://addr` origin.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, String)> {
    let listener = TcpListener::bind(addr).await?;
    let origin = format!("http://{}", listener.local_addr()?);
    Ok((listener, origin))
}

/// Serve `app` on `listener` in the background until `shutdown`; `name` labels the log line
/// if serving fails.
pub fn spawn(listener: TcpListener, app: Router, shutdown: Shutdown, name: &'static str) {
    tokio::spawn(async move {
        let stopped = async move { shutdown.wait().await };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, fake = name, "fake provider API stopped");
        }
    });
}
