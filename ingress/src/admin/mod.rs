//! The admin API under `/api/v1`, grouped by resource (one file each).
//!
//! This is the bootstrap subset: create and read tenants, put and read their WhatsApp
//! configuration. Every call needs `Authorization: Bearer $ADMIN_TOKEN`; with no token
//! configured, the API refuses everything. Secrets go in; only masked forms (`***1234`) come out.

mod auth;
mod body;
pub mod tenants;
pub mod whatsapp;

pub use auth::AdminAuth;
pub use body::JsonBody;

use axum::Router;
use axum::routing::{get, post};

use crate::startup::IngressState;

pub fn routes() -> Router<IngressState> {
    Router::new()
        .route("/tenants", post(tenants::create))
        .route(
            "/tenants/{tenant_id}",
            get(tenants::read).delete(tenants::delete),
        )
        .route(
            "/tenants/{tenant_id}/channels/whatsapp",
            get(whatsapp::read).put(whatsapp::put),
        )
}
