//! The LLM in the loop: asking Gemini for a business's next reply in a conversation.
//!
//! The conversation engine gathers what a reply depends on — the tenant's prompt sections
//! (already merged and ordered), its business profile, the conversation's recent turns and its
//! generation settings — and hands them to [`prompt::build_request`], which writes the
//! [`request::GenerateContentRequest`] Gemini receives. [`gemini::GeminiClient::generate`] sends
//! it, retrying what is passing, and returns either the reply ([`response::Generated`], with the
//! tokens it cost) or an [`error::LlmError`] saying why there is none; blocked prompts and
//! withheld replies still carry their token usage, since Google bills them.
//!
//! | file | concept |
//! |---|---|
//! | [`prompt`] | conversation → request: system instruction, alternating contents, history bounds |
//! | [`profile`] | the tenant's metadata object as readable text |
//! | [`request`] | the request's wire types (camelCase, protocols.md §10.2) |
//! | [`response`] | reading a 200: the reply, a blocked prompt or a withheld reply (§10.3) |
//! | [`error`] | refusals and which of them are retried (§10.4) |
//! | [`gemini`] | the HTTP call, attempts and waits between them |
//!
//! Everything but [`gemini`] is pure and tested on the documented shapes in
//! `tests/fixtures/gemini/`; the client is tested against a local scripted server, and the
//! sandbox's fake Gemini (`src/sandbox/gemini.rs`) answers it in local runs.

pub mod error;
pub mod gemini;
pub mod profile;
pub mod prompt;
pub mod request;
pub mod response;
#[cfg(test)]
mod scripted_server;

pub use error::LlmError;
pub use gemini::GeminiClient;
pub use profile::BusinessProfile;
pub use prompt::{GenerationSettings, HistoryLimits, PromptSection, Role, Turn, build_request};
pub use request::GenerateContentRequest;
pub use response::{FinishReason, Generated, TokenUsage};
