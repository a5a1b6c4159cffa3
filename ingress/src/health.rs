//! Health probes. `/healthz`: the process is up (liveness). `/readyz`: whether this replica
//! can accept webhooks safely now (readiness) — a load balancer stops sending webhooks to one
//! that could not store them.
//!
//! The database decides readiness: with it, an accepted event is either published or spooled
//! ([`crate::publish`]), so a replica whose broker is down is still ready, only "degraded".
//! Without the database the replica is not ready, whatever the broker says (it cannot spool,
//! resolve uncached tenants or record unroutable events).
//!
//! | database | broker | answer |
//! |---|---|---|
//! | ok | ok | 200 `{"status":"ok", …, "spooled":N}` |
//! | ok | unavailable | 200 `{"status":"degraded", …, "spooled":N}` |
//! | unavailable | any | 503 `{"status":"unavailable", …, "spooled":null}` |

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use serde_json::json;

use crate::startup::IngressState;

pub async fn healthz() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::OK, Json(json!({ "status": "ok" })))
}

/// The body of `/readyz`.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// `ok`, `degraded` (the broker is down; accepted events are spooled) or `unavailable`.
    pub status: &'static str,
    pub database: &'static str,
    pub broker: &'static str,
    /// Events waiting in the publish spool (all replicas); `null` when the database is down.
    pub spooled: Option<i64>,
}

pub async fn readyz(State(state): State<IngressState>) -> (StatusCode, Json<Readiness>) {
    // Counting the spool is the database probe: it needs what spooling needs.
    let (spooled, broker) = tokio::join!(state.publisher.spooled(), state.queue.ready());
    if let Err(e) = &spooled {
        tracing::warn!(error = %e, "readiness: database unavailable");
    }
    if let Err(e) = &broker {
        tracing::warn!(error = %e, "readiness: broker unavailable");
    }
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let (code, status) = match (&spooled, &broker) {
        (Ok(_), Ok(())) => (StatusCode::OK, "ok"),
        (Ok(_), Err(_)) => (StatusCode::OK, "degraded"),
        (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
    };
    (
        code,
        Json(Readiness {
            status,
            database: word(spooled.is_ok()),
            broker: word(broker.is_ok()),
            spooled: spooled.ok(),
        }),
    )
}
