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
mod calls;
mod channel_fields;
mod channels;
mod contacts;
mod conversations;
mod dead_letters;
mod embedded_signup;
mod extract;
mod flows;
pub mod gmail_connect;
mod llm;
mod modules;
pub mod openapi;
mod pagination;
mod prompts;
mod replays;
mod schema;
mod session;
mod tenants;
mod unroutable;
mod users;
mod validate;
mod vault;
mod whatsapp;

pub use extract::{JsonBody, QueryParams};

use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::startup::IngressState;

/// The admin API under `/api/v1`, and its OpenAPI document and reference page.
pub fn router() -> Router<IngressState> {
    let (api, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", routes())
        .split_for_parts();
    api.merge(openapi::routes(&openapi::finish(document)))
}

/// Every admin route, each documented by its handler's `#[utoipa::path]`. One `routes!` per
/// path.
fn routes() -> OpenApiRouter<IngressState> {
    OpenApiRouter::new()
        .routes(routes!(session::login))
        .routes(routes!(session::logout_everywhere))
        .routes(routes!(session::me))
        .routes(routes!(users::create, users::list))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(contacts::create, contacts::list))
        .routes(routes!(contacts::read, contacts::update, contacts::delete))
        .routes(routes!(conversations::list_conversations))
        .routes(routes!(conversations::list_messages))
        .routes(routes!(calls::list_calls))
        .routes(routes!(calls::list_leads))
        .routes(routes!(calls::update_lead))
        // Prompts and LLM settings: what the conversation engine's LLM calls are made of.
        .routes(routes!(prompts::read_global, prompts::put_global))
        .routes(routes!(prompts::read, prompts::put))
        .routes(routes!(prompts::effective))
        .routes(routes!(llm::read_settings, llm::put_settings))
        .routes(routes!(llm::usage))
        .routes(routes!(vault::create, vault::list))
        .routes(routes!(vault::read, vault::replace, vault::delete))
        .routes(routes!(vault::reveal))
        .routes(routes!(tenants::read_own, tenants::patch_own))
        .routes(routes!(
            whatsapp::read_own,
            whatsapp::put_own,
            channels::delete_whatsapp
        ))
        .routes(routes!(embedded_signup::finish))
        .routes(routes!(gmail_connect::start))
        .routes(routes!(gmail_connect::mailbox))
        .routes(routes!(
            channels::sms::read,
            channels::sms::put,
            channels::sms::delete
        ))
        .routes(routes!(
            channels::voice::read,
            channels::voice::put,
            channels::voice::delete
        ))
        .routes(routes!(
            channels::email::read,
            channels::email::put,
            channels::email::delete
        ))
        .routes(routes!(channels::reveal))
        .routes(routes!(channels::activate))
        .routes(routes!(channels::deactivate))
        .routes(routes!(channels::effective))
        .routes(routes!(channels::stats))
        .routes(routes!(tenants::create, tenants::list))
        .routes(routes!(tenants::ensure))
        .routes(routes!(tenants::read, tenants::patch, tenants::delete))
        .routes(routes!(tenants::suspend))
        .routes(routes!(tenants::reactivate))
        .routes(routes!(whatsapp::read, whatsapp::put))
        .routes(routes!(audit::list))
        // Modules and message flows.
        .routes(routes!(modules::catalogue))
        .routes(routes!(modules::list, modules::enable))
        .routes(routes!(modules::reorder))
        .routes(routes!(modules::update))
        .routes(routes!(flows::of_module))
        .routes(routes!(flows::create))
        .routes(routes!(flows::read, flows::update, flows::delete))
        .routes(routes!(flows::replace_steps))
        // Dead letters, their bulk replays, and unroutable events.
        .routes(routes!(dead_letters::list))
        .routes(routes!(dead_letters::read))
        .routes(routes!(dead_letters::replay))
        .routes(routes!(dead_letters::discard))
        .routes(routes!(replays::create, replays::list))
        .routes(routes!(replays::read))
        .routes(routes!(replays::cancel))
        .routes(routes!(unroutable::list))
        .routes(routes!(unroutable::replay))
        .routes(routes!(unroutable::replay_bulk))
}
