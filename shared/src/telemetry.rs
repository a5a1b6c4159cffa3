//! Logging set-up, done once per process.
//!
//! `LOG_FORMAT=json` (the production default in `deploy/`) writes one JSON object per line;
//! anything else writes human-readable lines. The filter comes from `RUST_LOG`
//! (default `info`). Every log line about an event carries `tenant_id`, `event_id` and
//! `channel` as span fields; secrets are never fields.

use tracing_subscriber::EnvFilter;

/// Install the global subscriber. Calling it twice is harmless (the second call is ignored),
/// which lets tests call it from every test.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
