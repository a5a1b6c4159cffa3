//! End-to-end tests against the real PostgreSQL and RabbitMQ (or, with
//! `TEST_QUEUE_BACKEND=pubsub`, the Pub/Sub emulator), with the sandbox's fake provider APIs.
//! Run through `bash deploy/local/test.sh`, which starts the services first and runs this suite
//! on each queue backend.

mod admin;
mod assistant_tools;
mod auth;
mod channels;
mod contacts;
mod dead_letters;
mod emulator;
mod fairness;
mod flow_control;
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
mod leases;
mod llm_replies;
mod llm_settings;
mod llm_turns;
mod modules;
mod openapi;
mod ordering;
mod outbox;
mod prompts;
mod proxy;
mod published;
mod redelivery;
mod retries;
mod shutdown;
mod sms_end_to_end;
mod sms_events;
mod spool;
mod telnyx_webhook;
mod throttle;
mod twilio_webhook;
mod unroutable_replay;
mod vault;
mod voice_events;
mod whatsapp_events;
mod whatsapp_webhook;
