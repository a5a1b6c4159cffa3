//! SMS rows of the outbox: what a handler queues ([`SmsRequest`]: recipient, text, media) and
//! who it is sent as ([`credentials`]), decided when it is sent rather than when it is
//! queued, so a tenant that fixes its SMS config also fixes the retries of its pending sends.
//!
//! Credentials come from the tenant's SMS channel config first and the platform's defaults
//! second: the API key is the tenant's sealed `telnyx_api_key`, else `TELNYX_API_KEY`; the
//! sender is the tenant's `telnyx_phone_number` (as `from`), else its
//! `telnyx_messaging_profile_id`, else `TELNYX_MESSAGING_PROFILE_ID`. A tenant with neither
//! an API key nor a sender cannot send SMS: its rows fail for good, saying what is missing.

use serde::{Deserialize, Serialize};
use switchyard_shared::config::WorkerConfig;
use switchyard_shared::secrets::SecretString;
use switchyard_shared::tenancy::OpenChannelConfig;

use crate::senders::SendError;
use crate::senders::telnyx::{OutboundSms, SmsSender};

/// An SMS (or MMS, with `media_urls`) to one customer, as the outbox stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsRequest {
    /// The customer's number (E.164).
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_urls: Vec<String>,
}

impl SmsRequest {
    /// A text message to `to`.
    pub fn text(to: &str, text: String) -> Self {
        Self {
            to: to.to_owned(),
            text: Some(text),
            media_urls: Vec::new(),
        }
    }

    /// The JSON the outbox row stores.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!(self)
    }

    /// `mms` when it carries media, else `sms` (the stored message's type).
    pub fn message_type(&self) -> &'static str {
        if self.media_urls.is_empty() {
            "sms"
        } else {
            "mms"
        }
    }

    /// The Telnyx request body, sent as `sender`.
    pub fn outbound(&self, sender: SmsSender) -> OutboundSms {
        OutboundSms {
            sender,
            to: self.to.clone(),
            text: self.text.clone(),
            media_urls: self.media_urls.clone(),
        }
    }
}

/// What a tenant's SMS are sent with.
#[derive(Debug, Clone)]
pub struct TelnyxCredentials {
    pub api_key: SecretString,
    pub sender: SmsSender,
}

/// The tenant's Telnyx credentials from its SMS config (`None`: it has none), falling back to
/// the platform's.
pub fn credentials(
    config: Option<&OpenChannelConfig>,
    platform: &WorkerConfig,
) -> Result<TelnyxCredentials, SendError> {
    if config.is_some_and(|c| !c.is_active) {
        return Err(SendError::Permanent("the SMS channel is inactive".into()));
    }
    let api_key = config
        .and_then(|c| c.secret("telnyx_api_key"))
        .or(platform.telnyx_api_key.as_ref())
        .cloned()
        .ok_or_else(|| {
            SendError::Permanent(
                "no Telnyx API key: set telnyx_api_key on the SMS channel, or TELNYX_API_KEY"
                    .into(),
            )
        })?;
    let setting = |name| config.and_then(|c| c.setting(name)).map(str::to_owned);
    let sender = if let Some(from) = setting("telnyx_phone_number") {
        SmsSender::Number { from }
    } else if let Some(profile) = setting("telnyx_messaging_profile_id")
        .or_else(|| platform.telnyx_messaging_profile_id.clone())
        .filter(|p| !p.is_empty())
    {
        SmsSender::Profile {
            messaging_profile_id: profile,
        }
    } else {
        return Err(SendError::Permanent(
            "no Telnyx sender: set telnyx_phone_number or telnyx_messaging_profile_id on the \
             SMS channel, or TELNYX_MESSAGING_PROFILE_ID"
                .into(),
        ));
    };
    Ok(TelnyxCredentials { api_key, sender })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn platform(key: Option<&str>, profile: Option<&str>) -> WorkerConfig {
        WorkerConfig {
            whatsapp_api_base: String::new(),
            telnyx_api_base: String::new(),
            telnyx_api_key: key.map(SecretString::new),
            telnyx_messaging_profile_id: profile.map(str::to_owned),
            provider_timeout_ms: 1000,
            outbox_max_attempts: 1,
            outbox_poll_ms: 1000,
            outbox_retry_base_ms: 1000,
            whatsapp_messages_per_second: 80,
            sms_messages_per_second: 10,
            reply_batch_window_ms: 300,
            reply_batch_max_ms: 1500,
            llm_turn_poll_ms: 100,
            tenant_events_per_second: 50,
            tenant_events_burst: 100,
        }
    }

    fn tenant(settings: serde_json::Value, key: Option<&str>) -> OpenChannelConfig {
        OpenChannelConfig {
            settings,
            secrets: key
                .map(|k| ("telnyx_api_key".to_owned(), SecretString::new(k)))
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            is_active: true,
        }
    }

    #[test]
    fn the_tenant_comes_first() {
        let config = tenant(
            json!({"telnyx_phone_number": "+15550003333", "telnyx_messaging_profile_id": "p-t"}),
            Some("KEY_TENANT"),
        );
        let c = credentials(Some(&config), &platform(Some("KEY_PLATFORM"), Some("p-p"))).unwrap();
        assert_eq!(c.api_key.expose(), "KEY_TENANT");
        assert_eq!(
            c.sender,
            SmsSender::Number {
                from: "+15550003333".into()
            }
        );
    }

    #[test]
    fn the_platform_fills_what_the_tenant_lacks() {
        let config = tenant(json!({"twilio_phone_number": "+15550004444"}), None);
        let c = credentials(Some(&config), &platform(Some("KEY_PLATFORM"), Some("p-p"))).unwrap();
        assert_eq!(c.api_key.expose(), "KEY_PLATFORM");
        assert_eq!(
            c.sender,
            SmsSender::Profile {
                messaging_profile_id: "p-p".into()
            }
        );
        let c = credentials(None, &platform(Some("KEY_PLATFORM"), Some("p-p"))).unwrap();
        assert_eq!(c.api_key.expose(), "KEY_PLATFORM");
    }

    #[test]
    fn missing_credentials_fail_for_good_with_the_reason() {
        let no_key = credentials(None, &platform(None, Some("p-p"))).unwrap_err();
        assert!(matches!(&no_key, SendError::Permanent(r) if r.contains("no Telnyx API key")));
        let no_sender = credentials(None, &platform(Some("KEY"), None)).unwrap_err();
        assert!(matches!(&no_sender, SendError::Permanent(r) if r.contains("no Telnyx sender")));
        let mut inactive = tenant(json!({"telnyx_phone_number": "+15550003333"}), Some("K"));
        inactive.is_active = false;
        assert!(matches!(
            credentials(Some(&inactive), &platform(Some("K"), None)),
            Err(SendError::Permanent(r)) if r.contains("inactive")
        ));
    }

    #[test]
    fn requests_round_trip_and_become_telnyx_bodies() {
        let request = SmsRequest::text("+15550001111", "Welcome!".into());
        let json = request.to_json();
        assert_eq!(json, json!({"to": "+15550001111", "text": "Welcome!"}));
        assert_eq!(serde_json::from_value::<SmsRequest>(json).unwrap(), request);
        assert_eq!(request.message_type(), "sms");
        let body = request.outbound(SmsSender::Number {
            from: "+15550003333".into(),
        });
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({"from": "+15550003333", "to": "+15550001111", "text": "Welcome!"})
        );
    }
}
