//! Twilio inbound SMS webhooks (legacy SMS channel).
//!
//! Twilio posts `application/x-www-form-urlencoded` fields, PascalCase:
//!
//! ```text
//! MessageSid=SM…&AccountSid=AC…&MessagingServiceSid=MG…&From=%2B15550001111&To=%2B15550003333
//! &Body=Hello&NumMedia=1&MediaUrl0=https%3A%2F%2F…&MediaContentType0=image%2Fjpeg&…
//! ```
//!
//! Twilio's signature covers the decoded fields, not the body bytes, so reading happens in two
//! steps with the check in between:
//!
//! 1. [`FormParams::parse`] decodes every field, in a canonical order (sorted by name, then
//!    value) — what `switchyard_ingress::verify::twilio` needs. Nothing is checked yet.
//! 2. [`InboundSms::from_params`] reads the fields Switchyard uses, once the signature held.
//!
//! Every field is kept, so the envelope can carry all of them. Twilio adds fields without
//! notice; unknown ones are never an error.

use crate::domain::DedupKey;

/// Why a verified Twilio body cannot be taken; the message is fit for a 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TwilioPayloadError {
    #[error("missing form field {0}")]
    Missing(&'static str),
    #[error("form field {0} is given more than once")]
    Repeated(String),
    #[error("missing form field MediaUrl{0} (NumMedia counts more)")]
    MissingMedia(usize),
    #[error("form field NumMedia is not a count: {0:?}")]
    NumMedia(String),
    #[error("form field MessageSid is not a message id: {0}")]
    MessageSid(String),
}

/// The decoded fields of a form body, sorted by name and then value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams(Vec<(String, String)>);

impl FormParams {
    /// Decode a form body (`+` is a space, `%XX` a byte). Bytes that are not UTF-8 after
    /// decoding become U+FFFD; Twilio always sends UTF-8.
    pub fn parse(body: &[u8]) -> Self {
        Self::from_pairs(form_urlencoded::parse(body).into_owned())
    }

    /// From decoded name/value pairs, in any order.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut pairs: Vec<_> = pairs.into_iter().collect();
        pairs.sort_unstable();
        Self(pairs)
    }

    /// Every field, sorted by name and then value: the order Twilio signs them in.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The form body again (for tests and the sandbox).
    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.0)
            .finish()
    }

    /// Every value of `name`.
    pub fn all<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        let start = self.0.partition_point(|(n, _)| n.as_str() < name);
        let len = self.0[start..].partition_point(|(n, _)| n == name);
        self.0[start..start + len].iter().map(|(_, v)| v.as_str())
    }

    /// The value of `name`, if the field is there exactly once.
    pub fn single(&self, name: &str) -> Result<Option<&str>, TwilioPayloadError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(TwilioPayloadError::Repeated(name.to_owned()));
        }
        Ok(first)
    }

    fn required(&self, name: &'static str) -> Result<&str, TwilioPayloadError> {
        self.single(name)?
            .filter(|v| !v.is_empty())
            .ok_or(TwilioPayloadError::Missing(name))
    }
}

/// An inbound SMS or MMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundSms {
    /// `SM…` (or `MM…` for MMS): Twilio's id of the message.
    pub message_sid: String,
    /// `AC…`: the Twilio account the number belongs to.
    pub account_sid: String,
    /// `MG…`, when the number is in a Messaging Service.
    pub messaging_service_sid: Option<String>,
    /// The customer.
    pub from: String,
    /// Our number: the key of the tenant's SMS config.
    pub to: String,
    /// Empty for a picture-only MMS.
    pub body: String,
    /// `MediaUrl0…` with `MediaContentType0…`, `NumMedia` of them.
    pub media: Vec<TwilioMedia>,
    dedup_key: DedupKey,
    params: FormParams,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioMedia {
    pub url: String,
    pub content_type: Option<String>,
}

impl InboundSms {
    /// Read the fields of a verified form.
    pub fn from_params(params: FormParams) -> Result<Self, TwilioPayloadError> {
        // Older webhooks name the id SmsMessageSid or SmsSid; current ones send all three.
        let message_sid = ["MessageSid", "SmsMessageSid", "SmsSid"]
            .into_iter()
            .find_map(|name| params.required(name).ok())
            .ok_or(TwilioPayloadError::Missing("MessageSid"))?
            .to_owned();
        if !message_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TwilioPayloadError::MessageSid(message_sid));
        }
        let dedup_key = DedupKey::from_parts(&["twilio", &message_sid])
            .map_err(|e| TwilioPayloadError::MessageSid(e.to_string()))?;
        let num_media = match params.single("NumMedia")? {
            None | Some("") => 0,
            Some(n) => n
                .parse::<usize>()
                .map_err(|_| TwilioPayloadError::NumMedia(n.to_owned()))?,
        };
        let media = (0..num_media)
            .map(|i| {
                let url = params
                    .single(&format!("MediaUrl{i}"))?
                    .filter(|u| !u.is_empty());
                let content_type = params.single(&format!("MediaContentType{i}"))?;
                Ok(TwilioMedia {
                    url: url.ok_or(TwilioPayloadError::MissingMedia(i))?.to_owned(),
                    content_type: content_type.map(str::to_owned),
                })
            })
            .collect::<Result<Vec<_>, TwilioPayloadError>>()?;
        Ok(Self {
            account_sid: params.required("AccountSid")?.to_owned(),
            messaging_service_sid: params.single("MessagingServiceSid")?.map(str::to_owned),
            from: params.required("From")?.to_owned(),
            to: params.required("To")?.to_owned(),
            body: params.single("Body")?.unwrap_or_default().to_owned(),
            message_sid,
            media,
            dedup_key,
            params,
        })
    }

    /// `twilio:<MessageSid>`, the idempotency key of the message.
    pub fn dedup_key(&self) -> &DedupKey {
        &self.dedup_key
    }

    /// Every field as received, for the envelope.
    pub fn params(&self) -> &FormParams {
        &self.params
    }

    /// What the envelope carries: `{"provider": "twilio", "params": {<field>: <value>, …}}`.
    /// The fields Switchyard reads are single-valued once [`InboundSms::from_params`] accepted
    /// them; any other field given more than once carries its values as a list, in order.
    pub fn envelope_payload(&self) -> serde_json::Value {
        use serde_json::Value;
        use serde_json::map::Entry;

        let mut params = serde_json::Map::new();
        for (name, value) in self.params.pairs() {
            let value = Value::String(value.clone());
            match params.entry(name.clone()) {
                Entry::Vacant(entry) => {
                    entry.insert(value);
                }
                Entry::Occupied(mut entry) => match entry.get_mut() {
                    Value::Array(values) => values.push(value),
                    single => {
                        let first = single.take();
                        *single = Value::Array(vec![first, value]);
                    }
                },
            }
        }
        serde_json::json!({ "provider": "twilio", "params": params })
    }

    /// Read an envelope's payload back (the worker side of [`InboundSms::envelope_payload`]).
    pub fn from_envelope_payload(payload: &serde_json::Value) -> Result<Self, TwilioPayloadError> {
        let params = payload
            .get("params")
            .and_then(serde_json::Value::as_object)
            .ok_or(TwilioPayloadError::Missing("params"))?;
        /// The text values of one field: a string, or a list of them.
        fn texts(value: &serde_json::Value) -> Vec<&str> {
            match value {
                serde_json::Value::Array(values) => values
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .collect(),
                single => single.as_str().into_iter().collect(),
            }
        }
        Self::from_params(FormParams::from_pairs(params.iter().flat_map(
            |(name, value)| {
                texts(value)
                    .into_iter()
                    .map(|text| (name.clone(), text.to_owned()))
            },
        )))
    }

    /// Whether an SMS envelope's payload came from Twilio (else it is a Telnyx webhook).
    pub fn is_envelope_payload(payload: &serde_json::Value) -> bool {
        payload.get("provider").and_then(serde_json::Value::as_str) == Some("twilio")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INBOUND: &[u8] =
        b"ToCountry=US&ToState=CA&SmsMessageSid=SM0123456789abcdef0123456789abcdef\
        &NumMedia=2&ToCity=&FromZip=&SmsSid=SM0123456789abcdef0123456789abcdef&FromState=CA\
        &SmsStatus=received&FromCity=&Body=Table+for+4%3F+%F0%9F%8D%BD&FromCountry=US\
        &To=%2B15550003333&MessagingServiceSid=MG0123456789abcdef0123456789abcdef\
        &ToZip=&NumSegments=1&MessageSid=SM0123456789abcdef0123456789abcdef\
        &AccountSid=AC0123456789abcdef0123456789abcdef&From=%2B15550001111&ApiVersion=2010-04-01\
        &MediaUrl0=https%3A%2F%2Fapi.twilio.example%2Fm%2F0&MediaContentType0=image%2Fjpeg\
        &MediaUrl1=https%3A%2F%2Fapi.twilio.example%2Fm%2F1";

    fn inbound(body: &[u8]) -> Result<InboundSms, TwilioPayloadError> {
        InboundSms::from_params(FormParams::parse(body))
    }

    #[test]
    fn the_envelope_payload_reads_back_the_same_message() {
        let sms = inbound(INBOUND).unwrap();
        let payload = sms.envelope_payload();
        assert!(InboundSms::is_envelope_payload(&payload));
        assert_eq!(payload["params"]["Body"], "Table for 4? 🍽");
        let back = InboundSms::from_envelope_payload(&payload).unwrap();
        assert_eq!(back, sms);
        assert!(!InboundSms::is_envelope_payload(
            &serde_json::json!({ "data": {} })
        ));
        assert!(
            InboundSms::from_envelope_payload(&serde_json::json!({ "provider": "twilio" }))
                .is_err()
        );
    }

    #[test]
    fn a_repeated_field_reads_back_from_the_envelope_payload() {
        // Found by the twilio_form fuzz target: the second `X` used to be lost on the way.
        let sms =
            inbound(b"MessageSid=SM1&AccountSid=AC1&From=%2B1&To=%2B2&X=2&X=1&Y=only").unwrap();
        let payload = sms.envelope_payload();
        assert_eq!(payload["params"]["X"], serde_json::json!(["1", "2"]));
        assert_eq!(payload["params"]["Y"], "only");
        assert_eq!(InboundSms::from_envelope_payload(&payload), Ok(sms));
    }

    #[test]
    fn reads_an_inbound_mms() {
        let sms = inbound(INBOUND).unwrap();
        assert_eq!(sms.message_sid, "SM0123456789abcdef0123456789abcdef");
        assert_eq!(sms.account_sid, "AC0123456789abcdef0123456789abcdef");
        assert_eq!(
            sms.messaging_service_sid.as_deref(),
            Some("MG0123456789abcdef0123456789abcdef")
        );
        assert_eq!(
            (sms.from.as_str(), sms.to.as_str()),
            ("+15550001111", "+15550003333")
        );
        assert_eq!(sms.body, "Table for 4? 🍽");
        assert_eq!(
            sms.media,
            [
                TwilioMedia {
                    url: "https://api.twilio.example/m/0".into(),
                    content_type: Some("image/jpeg".into()),
                },
                TwilioMedia {
                    url: "https://api.twilio.example/m/1".into(),
                    content_type: None,
                },
            ]
        );
        assert_eq!(
            sms.dedup_key().as_str(),
            "twilio:SM0123456789abcdef0123456789abcdef"
        );
        // Every field is kept, unknown ones included, sorted for the signature.
        let names: Vec<&str> = sms
            .params()
            .pairs()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names.len(), 23);
        assert!(names.is_sorted());
        assert_eq!(sms.params().single("ToCity"), Ok(Some("")));
    }

    #[test]
    fn minimal_sms_and_legacy_ids() {
        let sms =
            inbound(b"SmsSid=SM1&AccountSid=AC1&From=%2B15550001111&To=%2B15550003333").unwrap();
        assert_eq!(sms.message_sid, "SM1");
        assert_eq!(sms.body, "");
        assert!(sms.media.is_empty());
        assert_eq!(sms.messaging_service_sid, None);
    }

    #[test]
    fn params_are_canonical_and_round_trip() {
        let params = FormParams::parse(b"b=2&a=z&a=y&c=%26%3D+");
        assert_eq!(
            params.pairs(),
            [
                ("a".to_owned(), "y".to_owned()),
                ("a".to_owned(), "z".to_owned()),
                ("b".to_owned(), "2".to_owned()),
                ("c".to_owned(), "&= ".to_owned()),
            ]
        );
        assert_eq!(params.all("a").collect::<Vec<_>>(), ["y", "z"]);
        assert_eq!(params.all("d").count(), 0);
        assert_eq!(
            params.single("a"),
            Err(TwilioPayloadError::Repeated("a".into()))
        );
        assert_eq!(FormParams::parse(params.encode().as_bytes()), params);
        assert_eq!(FormParams::parse(b""), FormParams::default());
    }

    #[test]
    fn missing_and_malformed_fields() {
        let base = "MessageSid=SM1&AccountSid=AC1&From=%2B15550001111&To=%2B15550003333";
        for (body, expected) in [
            (
                "AccountSid=AC1&From=%2B1&To=%2B2".to_owned(),
                TwilioPayloadError::Missing("MessageSid"),
            ),
            (
                "MessageSid=SM1&From=%2B1&To=%2B2".to_owned(),
                TwilioPayloadError::Missing("AccountSid"),
            ),
            (
                "MessageSid=SM1&AccountSid=AC1&To=%2B2".to_owned(),
                TwilioPayloadError::Missing("From"),
            ),
            (
                "MessageSid=SM1&AccountSid=AC1&From=&To=%2B2".to_owned(),
                TwilioPayloadError::Missing("From"),
            ),
            (
                "MessageSid=SM1&AccountSid=AC1&From=%2B1".to_owned(),
                TwilioPayloadError::Missing("To"),
            ),
            (
                format!("{base}&To=%2B15550004444"),
                TwilioPayloadError::Repeated("To".into()),
            ),
            (
                format!("{base}&NumMedia=two"),
                TwilioPayloadError::NumMedia("two".into()),
            ),
            (
                format!("{base}&NumMedia=-1"),
                TwilioPayloadError::NumMedia("-1".into()),
            ),
            (
                format!("{base}&NumMedia=1"),
                TwilioPayloadError::MissingMedia(0),
            ),
            (
                format!("{base}&NumMedia=2&MediaUrl0=u&MediaUrl1="),
                TwilioPayloadError::MissingMedia(1),
            ),
            (
                base.replace("SM1", "SM%3A1"),
                TwilioPayloadError::MessageSid("SM:1".into()),
            ),
            (
                r#"{"MessageSid":"SM1"}"#.to_owned(),
                TwilioPayloadError::Missing("MessageSid"),
            ),
        ] {
            assert_eq!(inbound(body.as_bytes()), Err(expected), "{body}");
        }
        assert_eq!(
            TwilioPayloadError::Missing("To").to_string(),
            "missing form field To"
        );
    }
}
