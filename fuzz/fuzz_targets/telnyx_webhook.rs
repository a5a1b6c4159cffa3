//! A Telnyx v2 webhook as `POST /webhooks/telnyx` reads it (the envelope, then where it
//! routes) and as the worker reads it (the typed event and everything the handlers ask of
//! it).

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_shared::payloads::telnyx::{Event, Routing, Webhook};

fuzz_target!(|body: &[u8]| {
    let Ok(webhook) = Webhook::parse(body) else {
        return;
    };
    assert_eq!(
        webhook.dedup_key().as_str(),
        format!("telnyx:{}", webhook.event_id())
    );
    let _ = (
        webhook.envelope_kind(),
        webhook.occurred_at(),
        webhook.attempt(),
    );
    let _ = webhook.event_type().to_string();
    if let Ok(Some(routing)) = webhook.routing() {
        match routing {
            Routing::Messaging {
                our_number,
                contact,
                ..
            } => assert!(!our_number.is_empty() && !contact.is_empty()),
            Routing::Voice {
                connection_id,
                our_number,
                ..
            } => assert!(connection_id.is_some() || our_number.is_some()),
        }
    }
    let Ok(event) = webhook.event() else {
        return;
    };
    match event {
        Event::MessageReceived(message)
        | Event::MessageSent(message)
        | Event::MessageFinalized(message) => {
            let _ = (message.first_recipient(), message.sender());
            let _ = message.media_urls().count();
            for recipient in &message.to {
                let _ = recipient.delivery_status();
            }
            for error in &message.errors {
                let _ = error.to_string();
            }
        }
        Event::CallInitiated(leg, _) | Event::CallAnswered(leg, _) | Event::CallHangup(leg, _) => {
            let _ = (leg.our_number(), leg.remote_party());
            if let Some(to) = leg.to.as_deref() {
                let _ = leg.remote_party_given(to);
            }
        }
        Event::ConversationEnded(leg, _ended) => {
            let _ = leg.remote_party();
        }
        Event::InsightsGenerated(_, insights) => {
            for result in &insights.results {
                let _ = result.text();
            }
        }
        Event::Other => {}
    }
});
