//! Signature verification, one file per scheme. Every verifier works on the raw body bytes as
//! received, before any parsing: re-serialised JSON would not match the provider's signature.

pub mod google_oidc;
pub mod meta;
pub mod telnyx;
pub mod twilio;
