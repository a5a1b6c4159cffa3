//! # switchyard
//!
//! The `switchyard` binary wires the crates together: [`settings`] reads the configuration,
//! [`app`] builds the ingress and/or the worker from it (the tests build the very same thing),
//! and [`sandbox`] runs fake provider APIs so the whole system works offline. [`dlq`] is the
//! `switchyard dlq` client of the admin API's dead-letter endpoints.
//!
//! ```text
//! provider ──► ingress (verify · split · route · publish+confirm) ──► RabbitMQ
//!                                                                      │
//!              PostgreSQL (RLS) ◄── worker (dedup · apply · outbox) ◄──┘
//!                                        └──► provider APIs (or the sandbox)
//! ```

pub mod app;
pub mod demo;
pub mod dlq;
pub mod sandbox;
pub mod settings;
