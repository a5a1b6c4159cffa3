//! # switchyard-ingress
//!
//! The HTTP front door. For every webhook it does four things, in this order, and answers the
//! provider only when all four are done:
//!
//! 1. **verify** the signature over the raw body bytes ([`verify`]) — nothing is parsed before;
//! 2. **split** the provider's batch into one envelope per event ([`webhooks`]);
//! 3. **resolve** each event to its tenant through a bounded in-process cache ([`routing`]);
//! 4. **publish** the envelopes and wait for the broker's confirms, or store them in the
//!    publish spool while the broker is unavailable ([`publish`]); events that match no tenant
//!    are recorded as unroutable instead.
//!
//! The same router serves the admin API ([`admin`], authenticated by [`auth`]), the voice
//! assistant's tool endpoints ([`tools`]) and the health probes ([`health`]). In the
//! background, the [`replayer`] runs the bulk dead-letter replays admins start.
//! [`startup`] builds the whole application from configuration; `main.rs` of the CLI and the
//! tests both call it.

pub mod admin;
pub mod auth;
pub mod error;
pub mod google;
pub mod graph;
pub mod health;
pub mod publish;
pub mod replayer;
pub mod routing;
pub mod startup;
pub mod tools;
pub mod verify;
pub mod webhooks;

pub use startup::{IngressState, router, serve};
