//! The fields of the `sms`, `voice` and `email` channel configs, and parsing a request body
//! into settings, sealed-to-be secrets and routing keys.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchyard_shared::domain::{Channel, E164Number, TenantId};
use switchyard_shared::secrets::SecretString;

use super::validate::{self, Fields};
use crate::error::ApiError;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Phone,
    Email,
    Text,
}

pub(super) struct FieldSpec {
    pub name: &'static str,
    secret: bool,
    format: Format,
    /// Routes webhooks to the tenant; the prefix namespaces it.
    routing: Option<&'static str>,
}

const fn field(name: &'static str, format: Format) -> FieldSpec {
    FieldSpec {
        name,
        secret: false,
        format,
        routing: None,
    }
}
const fn secret(name: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        secret: true,
        format: Format::Text,
        routing: None,
    }
}
const fn route(name: &'static str, format: Format, prefix: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        secret: false,
        format,
        routing: Some(prefix),
    }
}

const SMS: &[FieldSpec] = &[
    route("telnyx_phone_number", Format::Phone, "phone"),
    secret("telnyx_api_key"),
    field("telnyx_messaging_profile_id", Format::Text),
    field("telnyx_public_key", Format::Text),
    route("twilio_phone_number", Format::Phone, "phone"),
    field("twilio_account_sid", Format::Text),
    secret("twilio_auth_token"),
];
const VOICE: &[FieldSpec] = &[
    route("telnyx_connection_id", Format::Text, "telnyx-connection"),
    field("telnyx_assistant_id", Format::Text),
    route("phone_number", Format::Phone, "phone"),
    secret("telnyx_api_key"),
];
const EMAIL: &[FieldSpec] = &[
    route("address", Format::Email, "email"),
    secret("access_token"),
    secret("refresh_token"),
];

/// The fields of a generic channel, and which of them are required.
pub(super) fn specs(
    channel: Channel,
) -> Option<(&'static [FieldSpec], &'static [&'static [&'static str]])> {
    match channel {
        // At least one number; a voice connection; a mailbox address.
        Channel::Sms => Some((SMS, &[&["telnyx_phone_number", "twilio_phone_number"]])),
        Channel::Voice => Some((VOICE, &[&["telnyx_connection_id"]])),
        Channel::Email => Some((EMAIL, &[&["address"]])),
        Channel::Whatsapp => None,
    }
}

pub(super) fn parse_channel(raw: &str) -> Result<Channel, ApiError> {
    Channel::parse(raw).map_err(|_| ApiError::NotFound("no such channel".into()))
}

pub(super) fn context(channel: Channel, tenant: TenantId) -> String {
    format!("channel.{channel}:{tenant}")
}

pub(super) struct ValidConfig {
    pub settings: Map<String, Value>,
    pub secrets: BTreeMap<String, SecretString>,
    pub routing_keys: Vec<String>,
    pub is_active: bool,
}

pub(super) fn parse_body(
    channel: Channel,
    body: Map<String, Value>,
) -> Result<ValidConfig, ApiError> {
    let (fields_of, required) =
        specs(channel).ok_or_else(|| ApiError::NotFound("no such channel".into()))?;
    let mut errors = Fields::default();
    let mut config = ValidConfig {
        settings: Map::new(),
        secrets: BTreeMap::new(),
        routing_keys: Vec::new(),
        is_active: true,
    };
    for (name, value) in body {
        if name == "is_active" {
            match value.as_bool() {
                Some(active) => config.is_active = active,
                None => {
                    errors.check::<(), _>("is_active", Err("must be true or false"));
                }
            }
            continue;
        }
        let Some(spec) = fields_of.iter().find(|s| s.name == name) else {
            errors.check::<(), _>(&name, Err(format!("not a field of the {channel} channel")));
            continue;
        };
        if value.is_null() {
            continue;
        }
        let Some(text) = value
            .as_str()
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 4096)
        else {
            errors.check::<(), _>(
                &name,
                Err("must be a non-empty string of at most 4096 characters"),
            );
            continue;
        };
        let normalized = match spec.format {
            Format::Phone => errors.check(
                &name,
                E164Number::parse(text)
                    .map(|p| p.as_str().to_owned())
                    .map_err(|e| e.reason),
            ),
            Format::Email => errors.check(&name, validate::email(text).map(|e| e.to_lowercase())),
            Format::Text => Some(text.to_owned()),
        };
        let Some(normalized) = normalized else {
            continue;
        };
        if let Some(prefix) = spec.routing {
            let key = format!("{prefix}:{normalized}");
            if !config.routing_keys.contains(&key) {
                config.routing_keys.push(key);
            }
        }
        if spec.secret {
            config.secrets.insert(name, SecretString::new(normalized));
        } else {
            config.settings.insert(name, Value::String(normalized));
        }
    }
    for group in required {
        let present = group
            .iter()
            .any(|f| config.settings.contains_key(*f) || config.secrets.contains_key(*f));
        if !present {
            errors.check::<(), _>(
                group[0],
                Err(format!("required (one of: {})", group.join(", "))),
            );
        }
    }
    errors.finish()?;
    config.routing_keys.sort();
    Ok(config)
}
