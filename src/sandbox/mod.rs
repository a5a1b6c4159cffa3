//! The local provider sandbox: fake provider APIs that speak the documented wire formats, and
//! a simulator that sends correctly signed sample webhooks.
//!
//! The integration tests and `switchyard sandbox` / `switchyard serve --sandbox` use the same
//! code, so what the tests check is what a local run shows.

pub mod gemini;
pub mod google;
pub mod google_settings;
pub mod google_signing;
pub mod graph;
pub mod server;
pub mod signing;
pub mod simulate;
pub mod telnyx;

pub use graph::{FakeGraph, SentMessage};
