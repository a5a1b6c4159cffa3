//! Health probes. `/healthz`: the process is up (liveness). `/readyz`: the database and the
//! broker answer now (readiness) — a load balancer stops sending webhooks to a replica that
//! could not accept them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::startup::IngressState;

pub async fn healthz() -> (StatusCode, Json<serde_json::Value>) {
    (StatusCode::OK, Json(json!({ "status": "ok" })))
}

pub async fn readyz(State(state): State<IngressState>) -> (StatusCode, Json<serde_json::Value>) {
    let (database, broker) = tokio::join!(
        switchyard_shared::db::ping(&state.pool),
        state.queue.ready()
    );
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let ready = database.is_ok() && broker.is_ok();
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness: database unavailable");
    }
    if let Err(e) = &broker {
        tracing::warn!(error = %e, "readiness: broker unavailable");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": word(ready),
            "database": word(database.is_ok()),
            "broker": word(broker.is_ok()),
        })),
    )
}
