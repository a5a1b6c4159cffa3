//! Correctly signed sample webhooks, as the providers would send them.

use anyhow::Context;
use serde_json::json;
use switchyard_ingress::verify::meta::sign;
use switchyard_shared::payloads::pubsub::GmailNotification;
use switchyard_shared::payloads::twilio::FormParams;

use super::google::{AddedMail, InboundMail};
use super::google_signing::{
    GoogleSigner, PushClaims, SANDBOX_PUSH_SUBSCRIPTION, SignedPush, SigningError, push_request,
};

/// An inbound WhatsApp text message webhook from `from` (phone digits) to the business number
/// `phone_number_id`.
pub fn whatsapp_text(
    phone_number_id: &str,
    waba_id: &str,
    from: &str,
    name: &str,
    text: &str,
) -> Vec<u8> {
    let wamid = format!("wamid.SIM_{}", uuid::Uuid::new_v4().simple());
    let now = chrono::Utc::now().timestamp().to_string();
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": waba_id,
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": { "display_phone_number": "15550002222", "phone_number_id": phone_number_id },
                    "contacts": [{ "profile": { "name": name }, "wa_id": from }],
                    "messages": [{
                        "from": from, "id": wamid, "timestamp": now,
                        "type": "text", "text": { "body": text }
                    }]
                }
            }]
        }]
    })
    .to_string()
    .into_bytes()
}

/// POST a WhatsApp webhook body to the ingress, signed with `app_secret`. Returns the status
/// code and the response body.
pub async fn post_whatsapp(
    client: &reqwest::Client,
    ingress_base: &str,
    app_secret: &str,
    body: Vec<u8>,
) -> reqwest::Result<(u16, String)> {
    let signature = sign(app_secret.as_bytes(), &body);
    let response = client
        .post(format!(
            "{}/webhooks/whatsapp",
            ingress_base.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// An inbound Telnyx SMS webhook (`message.received`) from `from` to our number `to`, both
/// E.164, shaped like the documented v2 envelope.
pub fn telnyx_sms(from: &str, to: &str, text: &str) -> Vec<u8> {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "data": {
            "event_type": "message.received",
            "id": uuid::Uuid::new_v4(),
            "occurred_at": now,
            "record_type": "event",
            "payload": {
                "direction": "inbound",
                "id": uuid::Uuid::new_v4(),
                "type": "SMS",
                "record_type": "message",
                "from": { "phone_number": from, "carrier": "Sandbox", "line_type": "Wireless" },
                "to": [{ "phone_number": to, "status": "webhook_delivered" }],
                "text": text,
                "media": [],
                "errors": [],
                "received_at": now
            }
        },
        "meta": { "attempt": 1, "delivered_to": "http://127.0.0.1/webhooks/telnyx" }
    })
    .to_string()
    .into_bytes()
}

/// POST a Telnyx webhook body to the ingress, signed now with `signer`.
pub async fn post_telnyx(
    client: &reqwest::Client,
    ingress_base: &str,
    signer: &super::signing::TelnyxSigner,
    body: Vec<u8>,
) -> reqwest::Result<(u16, String)> {
    let headers = signer.sign(chrono::Utc::now().timestamp(), &body);
    let mut request = client
        .post(format!(
            "{}/webhooks/telnyx",
            ingress_base.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// An inbound Twilio SMS, as the form fields Twilio posts.
pub fn twilio_sms(from: &str, to: &str, text: &str) -> FormParams {
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    FormParams::from_pairs(
        [
            ("MessageSid", sid.as_str()),
            ("SmsSid", sid.as_str()),
            ("AccountSid", "ACsandbox0000000000000000000000000"),
            ("From", from),
            ("To", to),
            ("Body", text),
            ("NumMedia", "0"),
            ("ApiVersion", "2010-04-01"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
}

/// POST a Twilio form to the ingress, signed with `auth_token` for `public_url` (the URL
/// Twilio would have called: the ingress's `PUBLIC_BASE_URL` + path, or the ingress itself).
pub async fn post_twilio(
    client: &reqwest::Client,
    ingress_base: &str,
    public_base: Option<&str>,
    auth_token: &str,
    params: &FormParams,
) -> reqwest::Result<(u16, String)> {
    let path = "/webhooks/twilio/sms";
    let ingress = format!("{}{path}", ingress_base.trim_end_matches('/'));
    let signed_url = match public_base {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => ingress.clone(),
    };
    let (body, signature) = super::signing::twilio_form(&signed_url, params, auth_token);
    let response = client
        .post(ingress)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// Put `mail` in a mailbox of the fake Google at `google_base` (its origin), through its
/// `POST /_sandbox/gmail/messages`; the new message's id and the history id to notify. A
/// refusal is an error with the fake's reason.
pub async fn add_gmail_message(
    client: &reqwest::Client,
    google_base: &str,
    mail: &InboundMail,
) -> anyhow::Result<AddedMail> {
    let url = format!(
        "{}/_sandbox/gmail/messages",
        google_base.trim_end_matches('/')
    );
    let response = client
        .post(&url)
        .json(mail)
        .send()
        .await
        .with_context(|| format!("reaching the fake Google at {url}"))?;
    let status = response.status();
    let body = response.text().await?;
    anyhow::ensure!(
        status.is_success(),
        "the fake Google refused the message: {status} {body}"
    );
    serde_json::from_str(&body).with_context(|| format!("the fake Google answered {body}"))
}

/// The Pub/Sub push announcing `notification`, as the sandbox's subscription delivers it:
/// signed now by the sandbox key for `audience` and `service_account` (what the ingress has
/// as `PUBSUB_PUSH_AUDIENCE` and `PUBSUB_PUSH_SERVICE_ACCOUNT`), with a fresh message id.
pub fn gmail_push(
    notification: &GmailNotification,
    audience: &str,
    service_account: &str,
) -> Result<SignedPush, SigningError> {
    let claims = PushClaims::new(audience, service_account, chrono::Utc::now().timestamp());
    // Pub/Sub message ids are decimal numbers.
    let message_id = uuid::Uuid::new_v4().as_u64_pair().0.to_string();
    push_request(
        &GoogleSigner::sandbox(),
        &claims,
        notification,
        &message_id,
        SANDBOX_PUSH_SUBSCRIPTION,
    )
}

/// POST a signed push to the ingress's `/webhooks/gmail`. Returns the status code and the
/// response body.
pub async fn post_gmail(
    client: &reqwest::Client,
    ingress_base: &str,
    push: &SignedPush,
) -> reqwest::Result<(u16, String)> {
    let response = client
        .post(format!(
            "{}/webhooks/gmail",
            ingress_base.trim_end_matches('/')
        ))
        .header("content-type", "application/json")
        .header("authorization", &push.authorization)
        .body(push.body.clone())
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}
