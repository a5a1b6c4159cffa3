//! Correctly signed sample webhooks, as the providers would send them.

use serde_json::json;
use switchyard_ingress::verify::meta::sign;

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
