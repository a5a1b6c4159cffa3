//! End-to-end tests against the real PostgreSQL and RabbitMQ, with the sandbox's fake provider
//! APIs. Run through `bash deploy/local/test.sh`, which starts both services first.

mod admin;
mod assistant_tools;
mod auth;
mod channels;
mod contacts;
mod flow_conversations;
mod flow_states;
mod flows;
mod gmail_connect;
mod gmail_sync;
mod gmail_webhook;
mod google;
mod health;
mod helpers;
mod isolation;
mod llm_replies;
mod llm_settings;
mod llm_turns;
mod modules;
mod openapi;
mod ordering;
mod outbox;
mod prompts;
mod published;
mod redelivery;
mod sms_end_to_end;
mod sms_events;
mod telnyx_webhook;
mod throttle;
mod twilio_webhook;
mod vault;
mod voice_events;
mod whatsapp_events;
mod whatsapp_webhook;
