//! Serving a fake provider API: each fake binds its own listener (so it knows its address
//! before it builds its router), then hands both here to run until shutdown.

use axum::Router;
use switchyard_shared::shutdown::Shutdown;
use tokio::net::TcpListener;

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
