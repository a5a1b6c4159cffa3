//! Tenant resolution: from a provider's routing key to the tenant that owns it — WhatsApp by
//! `phone_number_id` ([`WhatsAppRoutes`]), SMS and voice by phone number or Telnyx connection
//! ([`ChannelRoutes`]).
//!
//! Lookups go through a bounded in-process cache (TTL `ROUTE_CACHE_TTL_SECS`, at most
//! `ROUTE_CACHE_CAPACITY` keys). Misses are cached too, for a shorter time, so a flood of
//! webhooks for an unknown number does not become a flood of queries. Every replica forgets
//! a key as soon as its row changes ([`invalidation`], PostgreSQL LISTEN/NOTIFY). Concurrent misses for one key share a single query.

mod cache;
mod channels;
pub mod invalidation;
mod whatsapp;

pub use channels::{ChannelRoutes, ChannelTenant, phone_key};
pub use whatsapp::{WhatsAppRoutes, WhatsAppTenant};
