//! The fake Telnyx API as the Telnyx sender sees it, over real HTTP.

use std::time::Duration;

use switchyard_shared::secrets::SecretString;
use switchyard_workers::senders::SendError;
use switchyard_workers::senders::telnyx::{OutboundSms, SmsSender, TelnyxSendError, TelnyxSender};
use uuid::Uuid;

use super::*;

struct Harness {
    fake: FakeTelnyx,
    sender: TelnyxSender,
    key: SecretString,
    _shutdown: Shutdown,
}

async fn harness(timeout: Duration) -> Harness {
    let shutdown = Shutdown::new();
    let fake = FakeTelnyx::start("127.0.0.1:0".parse().unwrap(), shutdown.clone())
        .await
        .unwrap();
    let http = reqwest::Client::builder().timeout(timeout).build().unwrap();
    Harness {
        sender: TelnyxSender::new(http, &fake.api_base()),
        fake,
        key: SecretString::new("KEYSANDBOX"),
        _shutdown: shutdown,
    }
}

fn sms(from: &str) -> OutboundSms {
    OutboundSms {
        sender: SmsSender::Number { from: from.into() },
        to: "+15550001111".into(),
        text: Some("Yes! Table for 4 at 7pm is booked.".into()),
        media_urls: Vec::new(),
    }
}

fn failure(count: u32, status: u16, delay_ms: u64) -> TelnyxFailure {
    TelnyxFailure {
        count,
        status,
        code: "10011".into(),
        retry_after_secs: Some(7),
        delay_ms,
    }
}

impl Harness {
    async fn send(&self, key: Uuid, message: &OutboundSms) -> Result<String, TelnyxSendError> {
        self.sender.send(&self.key, key, message).await
    }

    /// Send a text from `from` that must be refused; the refusal's class.
    async fn refused(&self, from: &str) -> SendError {
        match self.send(Uuid::now_v7(), &sms(from)).await {
            Ok(id) => panic!("accepted as {id}"),
            Err(e) => e.error,
        }
    }
}

#[tokio::test]
async fn accepts_records_and_answers_like_telnyx() {
    let h = harness(Duration::from_secs(5)).await;
    let key = Uuid::now_v7();
    let id = h.send(key, &sms("+15550003333")).await.unwrap();
    let sent = h.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message_id, id);
    assert_eq!(sent[0].api_key, "KEYSANDBOX");
    assert_eq!(sent[0].idempotency_key, Some(key.to_string()));
    assert_eq!(sent[0].body["text"], "Yes! Table for 4 at 7pm is booked.");

    // The answer is the documented shape, read back with the webhook types.
    let answer = reqwest::Client::new()
        .post(format!("{}/messages", h.fake.api_base()))
        .bearer_auth("KEYSANDBOX")
        .header("idempotency-key", key.to_string())
        .json(&sms("+15550003333"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    #[derive(Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        data: switchyard_shared::payloads::telnyx::Message<'a>,
    }
    let answer: Answer = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer.data.id, id);
    assert_eq!(answer.data.sender(), Some("+15550003333"));
    assert_eq!(answer.data.to[0].status.as_deref(), Some("queued"));
}

#[tokio::test]
async fn a_repeated_idempotency_key_sends_once() {
    let h = harness(Duration::from_secs(5)).await;
    let key = Uuid::now_v7();
    let first = h.send(key, &sms("+15550003333")).await.unwrap();
    let again = h.send(key, &sms("+15550003333")).await.unwrap();
    assert_eq!(first, again);
    let other = h.send(Uuid::now_v7(), &sms("+15550003333")).await.unwrap();
    assert_ne!(first, other);
    assert_eq!(h.fake.sent().len(), 2);
}

#[tokio::test]
async fn refusals_are_classified() {
    let h = harness(Duration::from_secs(5)).await;
    let same_number = h.refused("+15550001111").await;
    assert!(
        matches!(&same_number, SendError::Permanent(r) if r.contains("40310")),
        "{same_number}"
    );
    let mut profile = sms("unused");
    profile.sender = SmsSender::Profile {
        messaging_profile_id: "40000000-0000-4000-8000-000000000001".into(),
    };
    profile.text = None;
    profile.media_urls = vec!["https://media.example.test/menu.jpg".into()];
    h.send(Uuid::now_v7(), &profile).await.unwrap();
    assert_eq!(
        h.fake.sent()[0].body["messaging_profile_id"],
        "40000000-0000-4000-8000-000000000001"
    );

    let anonymous = TelnyxSender::new(reqwest::Client::new(), &h.fake.api_base())
        .send(&SecretString::new(""), Uuid::now_v7(), &sms("+15550003333"))
        .await
        .unwrap_err();
    assert!(
        matches!(&anonymous.error, SendError::Permanent(r) if r.contains("10009")),
        "{anonymous}"
    );
    assert_eq!(h.fake.sent().len(), 1);
}

#[tokio::test]
async fn injected_rate_limits_and_server_errors_are_retryable() {
    let h = harness(Duration::from_secs(5)).await;
    h.fake.fail_next(failure(1, 429, 0));
    h.fake.fail_next(failure(1, 503, 0));
    let key = Uuid::now_v7();
    let limited = h.send(key, &sms("+15550003333")).await.unwrap_err();
    assert!(
        matches!(limited.error, SendError::Retryable(_)),
        "{limited}"
    );
    assert_eq!(limited.retry_after, Some(Duration::from_secs(7)));
    let unavailable = h.send(key, &sms("+15550003333")).await.unwrap_err();
    assert!(
        matches!(unavailable.error, SendError::Retryable(_)),
        "{unavailable}"
    );
    assert!(h.fake.sent().is_empty());
    // A refused key is not remembered: the retry goes through.
    h.send(key, &sms("+15550003333")).await.unwrap();
    assert_eq!(h.fake.sent().len(), 1);
}

#[tokio::test]
async fn a_late_answer_is_retried_and_the_retry_is_deduplicated() {
    let h = harness(Duration::from_millis(300)).await;
    h.fake.fail_next(failure(1, 200, 1_500));
    let key = Uuid::now_v7();
    let late = h.send(key, &sms("+15550003333")).await.unwrap_err();
    assert!(matches!(late.error, SendError::Retryable(_)), "{late}");
    // Telnyx took it anyway; sending again with the same key does not send twice.
    assert_eq!(h.fake.sent().len(), 1);
    let id = h.send(key, &sms("+15550003333")).await.unwrap();
    assert_eq!(h.fake.sent()[0].message_id, id);
    assert_eq!(h.fake.sent().len(), 1);
}

#[tokio::test]
async fn sandbox_endpoints_inject_and_list() {
    let h = harness(Duration::from_secs(5)).await;
    let http = reqwest::Client::new();
    let base = h.fake.sandbox_base();
    let injected = http
        .post(format!("{base}/fail"))
        .json(&json!({ "count": 1, "status": 500, "code": "10007" }))
        .send()
        .await
        .unwrap();
    assert_eq!(injected.status(), StatusCode::NO_CONTENT);
    let failed = h.refused("+15550003333").await;
    assert!(
        matches!(&failed, SendError::Retryable(r) if r.contains("10007")),
        "{failed}"
    );
    let id = h.send(Uuid::now_v7(), &sms("+15550003333")).await.unwrap();
    let listed: Vec<Value> = http
        .get(format!("{base}/sent"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["message_id"], id);
}
