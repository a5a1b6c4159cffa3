//! # switchyard-shared
//!
//! Everything the ingress and the workers agree on. Neither of them imports the other; both
//! import this crate, and the `switchyard` binary wires them together.
//!
//! A tour, in the order an event meets it:
//!
//! - [`domain`]: parsed types (`TenantId`, `Channel`, `PhoneNumberId`, `DedupKey`, …). Once a
//!   value has one of these types it has been checked; nobody checks it again.
//! - [`envelope`]: the versioned JSON document that travels on the queue — one per provider
//!   event, already resolved to its tenant.
//! - [`queue`]: the [`queue::EventQueue`] trait (publish with confirms, consume with a bounded
//!   number of events in flight) and its backends. Nothing outside `queue/` names a backend.
//! - [`db`]: the PostgreSQL pool, tenant-scoped transactions (row-level security is keyed on
//!   `app.tenant_id`), and one repository module per table.
//! - [`payloads`]: the provider payload fields both sides read.
//! - [`prompts`]: prompt bundles (global and per tenant) and how they merge into what the LLM
//!   is told.
//! - [`flows`]: message flows — modules, triggers, steps — parsed into a [`flows::Flow`] that
//!   is safe to run (references resolve, no cycle spins without waiting for the customer).
//! - [`tenancy`]: creating tenants and sealing their credentials (admin API and CLI), and
//!   opening a tenant's channel config where the workers need its provider credentials.
//! - [`secrets`]: AES-256-GCM encryption of provider credentials at rest, and masking.
//! - [`config`], [`telemetry`], [`shutdown`]: process plumbing.

pub mod config;
pub mod db;
pub mod domain;
pub mod envelope;
pub mod flows;
pub mod payloads;
pub mod prompts;
pub mod queue;
pub mod secrets;
pub mod shutdown;
pub mod telemetry;
pub mod tenancy;
