//! The fields of the `sms`, `voice` and `email` channel configs, and parsing a request body
//! into settings, sealed-to-be secrets and routing keys.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use switchyard_shared::domain::{Channel, E164Number, TenantId};
use switchyard_shared::secrets::SecretString;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType,
    Type,
};
use utoipa::{PartialSchema, ToSchema};

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
    // What the voice assistant's tool calls present (`/tools/{tenant}/…`).
    secret("tool_secret"),
    // Sent by SMS to the caller once the assistant's conversation ended (optional).
    field("follow_up_sms_text", Format::Text),
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

/// The longest value a field may hold.
const MAX_VALUE_CHARS: usize = 4096;

/// The JSON schema of a channel's body, built from the same field table the parser uses, so
/// the documented contract and the validation cannot drift apart.
fn body_schema(channel: Channel) -> RefOr<Schema> {
    let Some((fields, required)) = specs(channel) else {
        return RefOr::T(Schema::Object(Object::new()));
    };
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .property(
            "is_active",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .description(Some("Whether webhooks route to this config (default true)")),
        );
    for spec in fields {
        // `null` leaves the field unset.
        let text = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .min_length(Some(1))
            .max_length(Some(MAX_VALUE_CHARS));
        let typed = match spec.format {
            Format::Phone => text
                .pattern(Some(r"^\+[1-9][0-9]{6,14}$"))
                .description(Some("E.164")),
            Format::Email => text
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                .max_length(Some(254)),
            Format::Text => text.pattern(Some(r"\S")),
        };
        let typed = if spec.secret {
            typed.description(Some("Secret: sealed at rest, read back masked"))
        } else {
            typed
        };
        object = object.property(spec.name, typed);
    }
    let mut description = String::from("Fields not sent are unset.");
    for group in required {
        if let [only] = group {
            object = object.required(*only);
        } else {
            description.push_str(&format!(" Requires one of: {}.", group.join(", ")));
        }
    }
    RefOr::T(Schema::Object(
        object.description(Some(description)).build(),
    ))
}

/// Documentation types of the three generic channel bodies.
macro_rules! channel_body {
    ($name:ident, $channel:expr) => {
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                body_schema($channel)
            }
        }
        impl ToSchema for $name {}
    };
}
channel_body!(SmsConfigBody, Channel::Sms);
channel_body!(VoiceConfigBody, Channel::Voice);
channel_body!(EmailConfigBody, Channel::Email);

pub(super) fn parse_channel(raw: &str) -> Result<Channel, ApiError> {
    Channel::parse(raw).map_err(|_| ApiError::NotFound("no such channel".into()))
}

pub(super) fn context(channel: Channel, tenant: TenantId) -> String {
    switchyard_shared::tenancy::channel_secrets_context(channel, tenant)
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
            .filter(|t| !t.is_empty() && t.chars().count() <= MAX_VALUE_CHARS)
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
