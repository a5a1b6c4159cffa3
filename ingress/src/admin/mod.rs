//! The admin API under `/api/v1`, grouped by resource (one file each, request and response
//! types beside the handlers).
//!
//! Every endpoint authenticates with a [`Principal`](crate::auth::Principal) and checks its
//! role. Tenant-scoped endpoints act for the caller's tenant (platform admins name one with
//! `X-Tenant-Id`) and read through row-level security, so another tenant's ids are simply
//! not found (404). Secrets go in; only masked forms (`***1234`) come out. Every mutation is
//! written to the audit log.

mod api_keys;
mod audit;
mod body;
mod channel_fields;
mod channels;
mod contacts;
mod conversations;
mod embedded_signup;
mod pagination;
mod session;
mod tenants;
mod users;
mod validate;
mod vault;
mod whatsapp;

pub use body::JsonBody;

use axum::Router;
use axum::routing::{delete, get, post};

use crate::startup::IngressState;

pub fn routes() -> Router<IngressState> {
    Router::new()
        .route("/auth/login", post(session::login))
        .route("/auth/logout-everywhere", post(session::logout_everywhere))
        .route("/me", get(session::me))
        .route("/users", post(users::create).get(users::list))
        .route("/api-keys", post(api_keys::create).get(api_keys::list))
        .route("/api-keys/{id}", delete(api_keys::revoke))
        .route("/contacts", post(contacts::create).get(contacts::list))
        .route(
            "/contacts/{id}",
            get(contacts::read)
                .patch(contacts::update)
                .delete(contacts::delete),
        )
        .route("/conversations", get(conversations::list_conversations))
        .route("/messages", get(conversations::list_messages))
        .route("/vault", post(vault::create).get(vault::list))
        .route(
            "/vault/{id}",
            get(vault::read).put(vault::replace).delete(vault::delete),
        )
        .route("/vault/{id}/reveal", post(vault::reveal))
        .route("/tenant", get(tenants::read_own).patch(tenants::patch_own))
        .route(
            "/channels/whatsapp",
            get(whatsapp::read_own)
                .put(whatsapp::put_own)
                .delete(channels::delete_whatsapp),
        )
        .route(
            "/channels/{channel}",
            get(channels::read)
                .put(channels::put)
                .delete(channels::delete),
        )
        .route(
            "/channels/whatsapp/embedded-signup",
            post(embedded_signup::finish),
        )
        .route("/channels/{channel}/reveal", post(channels::reveal))
        .route("/channels/{channel}/activate", post(channels::activate))
        .route("/channels/{channel}/deactivate", post(channels::deactivate))
        .route("/channels/{channel}/effective", get(channels::effective))
        .route("/platform/channel-stats", get(channels::stats))
        .route("/tenants", post(tenants::create).get(tenants::list))
        .route("/tenants/ensure", post(tenants::ensure))
        .route(
            "/tenants/{tenant_id}",
            get(tenants::read)
                .patch(tenants::patch)
                .delete(tenants::delete),
        )
        .route("/tenants/{tenant_id}/suspend", post(tenants::suspend))
        .route("/tenants/{tenant_id}/reactivate", post(tenants::reactivate))
        .route(
            "/tenants/{tenant_id}/channels/whatsapp",
            get(whatsapp::read).put(whatsapp::put),
        )
        .route("/platform/audit-log", get(audit::list))
}
