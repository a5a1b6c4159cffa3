//! The fake Google over real HTTP: certs (with the ingress verifier), OAuth tokens, and the
//! Gmail calls against the fixtures in `tests/fixtures/gmail/`.

use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_ingress::verify::google_oidc::{GoogleKeys, OidcError, PushAuthPolicy};
use switchyard_shared::payloads::pubsub::{PushMessage, decode_base64};

use super::*;
use crate::sandbox::google_signing::{PushClaims, push_request};

const MAILBOX: &str = "tenant.inbox@example.com";
const AUDIENCE: &str = "https://ingress.example.test/webhooks/gmail";
const PUSH_ACCOUNT: &str = "gmail-push@sandbox-project.iam.gserviceaccount.com";

macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!(
            "../../../tests/fixtures/gmail/",
            $name
        )))
        .unwrap()
    };
}

struct Harness {
    fake: FakeGoogle,
    http: reqwest::Client,
    grant: Grant,
    _shutdown: Shutdown,
}

async fn harness() -> Harness {
    let shutdown = Shutdown::new();
    let fake = FakeGoogle::start("127.0.0.1:0".parse().unwrap(), shutdown.clone())
        .await
        .unwrap();
    let grant = fake.grant(MAILBOX);
    Harness {
        fake,
        http: reqwest::Client::new(),
        grant,
        _shutdown: shutdown,
    }
}

impl Harness {
    fn gmail(&self, path: &str) -> String {
        format!("{}/gmail/v1/users/me/{path}", self.fake.gmail_base())
    }

    /// A Gmail call with `token`: the status and the JSON answer.
    async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> (StatusCode, Value) {
        let response = request.bearer_auth(token).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let request = self.http.get(self.gmail(path));
        self.call(request, &self.grant.access_token).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let request = self.http.post(self.gmail(path)).json(&body);
        self.call(request, &self.grant.access_token).await
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let client = [("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
        let form: Vec<_> = client.iter().chain(form).collect();
        self.post_form(&form).await
    }

    /// A form post to the token endpoint (the values here need no percent-encoding).
    async fn post_form(&self, form: &[&(&str, &str)]) -> (StatusCode, Value) {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = self
            .http
            .post(self.fake.token_url())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.join("&"))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn sandbox_push_tokens_verify_against_the_fake_certs() {
    let h = harness().await;
    let response = h.http.get(h.fake.certs_url()).send().await.unwrap();
    let cache_control = response.headers()[reqwest::header::CACHE_CONTROL].clone();
    assert_eq!(
        cache_control,
        "public, max-age=21600, must-revalidate, no-transform"
    );
    let keys = GoogleKeys::new(h.fake.certs_url(), h.http.clone(), Duration::from_secs(30));
    let policy = PushAuthPolicy::new(AUDIENCE, PUSH_ACCOUNT);
    let now = Utc::now();
    let notification = h.fake.notification(MAILBOX).unwrap();
    let verify = |signer: GoogleSigner, claims: PushClaims| {
        let push = push_request(
            &signer,
            &claims,
            &notification,
            "m-1",
            "projects/p/subscriptions/s",
        );
        let (keys, policy) = (keys.clone(), policy.clone());
        async move {
            let push = push.unwrap();
            let verified = policy
                .verify(&keys, Some(push.authorization.as_bytes()), now)
                .await;
            (verified, PushMessage::parse(push.body.as_bytes()).unwrap())
        }
    };
    let claims = PushClaims::new(AUDIENCE, PUSH_ACCOUNT, now.timestamp());
    let (verified, push) = verify(GoogleSigner::sandbox(), claims.clone()).await;
    assert_eq!(verified.unwrap().email, PUSH_ACCOUNT);
    assert_eq!(push.gmail_notification().unwrap().history_id, 1000);
    let wrong_audience = PushClaims::new("https://elsewhere.test/", PUSH_ACCOUNT, now.timestamp());
    let (refused, _) = verify(GoogleSigner::sandbox(), wrong_audience).await;
    assert_eq!(refused, Err(OidcError::WrongAudience));
    let (refused, _) = verify(GoogleSigner::sandbox().with_kid("rotated-away"), claims).await;
    assert_eq!(refused, Err(OidcError::UnknownKey));
    let expired = PushClaims::new(AUDIENCE, PUSH_ACCOUNT, now.timestamp() - 3700);
    let (refused, _) = verify(GoogleSigner::sandbox(), expired).await;
    assert_eq!(refused, Err(OidcError::Expired));
}

#[tokio::test]
async fn authorization_codes_and_refresh_tokens() {
    let h = harness().await;
    let code = h.fake.authorize("new.inbox@example.com");
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
    ];
    let (status, tokens) = h.token(&exchange).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], ACCESS_TOKEN_SECS);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let profile = h.http.get(h.gmail("profile"));
    let (status, profile) = h.call(profile, &access).await;
    assert_eq!(
        (status, &profile["emailAddress"]),
        (StatusCode::OK, &json!("new.inbox@example.com"))
    );
    // A code works once.
    let (status, error) = h.token(&exchange).await;
    assert_eq!(
        (status, &error["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );

    let renew = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, renewed) = h.token(&renew).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(renewed["access_token"], tokens["access_token"]);
    assert!(renewed.get("refresh_token").is_none());

    h.fake.revoke(&refresh);
    let (status, error) = h.token(&renew).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error,
        json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
    );
    let (status, _) = h.token(&[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, error) = h.post_form(&[&("client_id", "x")]).await;
    assert_eq!(
        (status, &error["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );
}

#[tokio::test]
async fn failures_can_be_injected() {
    let h = harness().await;
    let renew = [
        ("grant_type", "refresh_token"),
        ("refresh_token", h.grant.refresh_token.as_str()),
    ];
    h.fake.fail_next(Endpoint::Token, 1, 503);
    assert_eq!(h.token(&renew).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.token(&renew).await.0, StatusCode::OK);
    h.fake.fail_next(Endpoint::Gmail, 2, 429);
    let (status, error) = h.get("profile").await;
    assert_eq!(
        (status, &error["error"]["status"]),
        (StatusCode::TOO_MANY_REQUESTS, &json!("RESOURCE_EXHAUSTED"))
    );
    assert_eq!(h.get("profile").await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h.get("profile").await.0, StatusCode::OK);
}

#[tokio::test]
async fn expired_access_tokens_get_googles_401_until_refreshed() {
    let h = harness().await;
    assert_eq!(h.get("profile").await.0, StatusCode::OK);
    h.fake.expire_access_tokens();
    let (status, error) = h.get("profile").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error["error"]["code"], 401);
    assert_eq!(error["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(error["error"]["errors"][0]["reason"], "authError");
    let renew = [
        ("grant_type", "refresh_token"),
        ("refresh_token", h.grant.refresh_token.as_str()),
    ];
    let (_, renewed) = h.token(&renew).await;
    let profile = h.http.get(h.gmail("profile"));
    assert_eq!(
        h.call(profile, renewed["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
    // Another user's mailbox is not this token's.
    let other = format!(
        "{}/gmail/v1/users/other@example.com/profile",
        h.fake.gmail_base()
    );
    let (status, _) = h
        .call(h.http.get(other), renewed["access_token"].as_str().unwrap())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn watch_returns_the_history_id_and_a_week() {
    let h = harness().await;
    let (status, _) = h.post("watch", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let request = json!({ "topicName": "projects/p/topics/gmail", "labelIds": ["INBOX"] });
    let (status, watch) = h.post("watch", request.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(watch["historyId"], "1000");
    let expiration: i64 = watch["expiration"].as_str().unwrap().parse().unwrap();
    let week = (Utc::now() + chrono::Duration::days(7)).timestamp_millis();
    assert!((week - expiration).abs() < 60_000);
    assert_eq!(h.fake.watches(MAILBOX), vec![request]);
}

#[tokio::test]
async fn history_pages_and_404_when_too_old() {
    let h = harness().await;
    let start = h.fake.history_id(MAILBOX).unwrap();
    let mut added = Vec::new();
    for n in 0..3 {
        let new = NewMessage::inbound("Alex <alex@example.org>", "Hi", &format!("Message {n}"));
        added.push(h.fake.add_message(MAILBOX, &new));
    }
    let last = added[2].1;
    let path = |token: &str| {
        format!("history?startHistoryId={start}&historyTypes=messageAdded&maxResults=2{token}")
    };
    let (status, first) = h.get(&path("")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["history"].as_array().unwrap().len(), 2);
    assert_eq!(first["historyId"], last.to_string());
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = h.get(&path(&format!("&pageToken={token}"))).await;
    let records: Vec<&Value> = first["history"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["history"].as_array().unwrap())
        .collect();
    assert!(second.get("nextPageToken").is_none());
    for (record, (id, history_id)) in records.iter().zip(&added) {
        assert_eq!(record["id"], history_id.to_string());
        let message = &record["messagesAdded"][0]["message"];
        assert_eq!(message["id"], id.as_str());
        assert_eq!(message["labelIds"], json!(["UNREAD", "INBOX"]));
    }
    // Nothing after the last change; other history types are not recorded.
    let (_, none) = h.get(&format!("history?startHistoryId={last}")).await;
    assert_eq!(none, json!({ "historyId": last.to_string() }));
    let (_, labels) = h
        .get(&format!(
            "history?startHistoryId={start}&historyTypes=labelAdded"
        ))
        .await;
    assert!(labels.get("history").is_none());

    h.fake.forget_history(MAILBOX);
    let (status, error) = h.get(&path("")).await;
    assert_eq!(
        (status, error),
        (StatusCode::NOT_FOUND, fixture!("error_404_history.json"))
    );
    assert_eq!(
        h.get(&format!("history?startHistoryId={last}")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn messages_full_minimal_and_list() {
    let h = harness().await;
    let history_id = h.fake.add_fixture_message(MAILBOX);
    let mut expected = fixture!("message_full.json");
    expected["historyId"] = json!(history_id.to_string());
    let (status, message) = h.get("messages/19b7f0a1c2d3e4f5?format=full").await;
    assert_eq!((status, message), (StatusCode::OK, expected));

    let new = NewMessage::inbound("Sam <sam@example.org>", "Booking", "Table for 4?\nThanks");
    let (id, _) = h.fake.add_message(MAILBOX, &new);
    let (_, message) = h.get(&format!("messages/{id}")).await;
    let part = |n: usize| {
        decode_base64(
            message["payload"]["parts"][n]["body"]["data"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(part(0), b"Table for 4?\nThanks");
    assert_eq!(part(1), b"<div dir=\"ltr\">Table for 4?<br>Thanks</div>");
    let header = |name: &str| {
        message["payload"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"] == name)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(header("From"), "Sam <sam@example.org>");
    assert_eq!(header("Subject"), "Booking");
    assert_eq!(message["threadId"], id.as_str());
    let (_, minimal) = h.get(&format!("messages/{id}?format=minimal")).await;
    assert!(minimal.get("payload").is_none());
    assert_eq!(h.get("messages/nope").await.0, StatusCode::NOT_FOUND);

    let (_, list) = h.get("messages?maxResults=1&labelIds=INBOX").await;
    assert_eq!(list["messages"], json!([{ "id": id, "threadId": id }]));
    assert_eq!(list["resultSizeEstimate"], 2);
    assert_eq!(list["nextPageToken"], "1");
}

#[tokio::test]
async fn send_records_the_message_and_answers_like_gmail() {
    let h = harness().await;
    let (status, sent) = h.post("messages/send", fixture!("send_request.json")).await;
    assert_eq!(status, StatusCode::OK);
    let expected = fixture!("send_response.json");
    assert_eq!(
        (&sent["threadId"], &sent["labelIds"]),
        (&expected["threadId"], &expected["labelIds"])
    );
    let recorded = h.fake.sent(MAILBOX);
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, sent["id"].as_str().unwrap());
    assert!(
        recorded[0]
            .message
            .contains("Subject: Re: Invoice for order #1234\r\n")
    );
    assert!(recorded[0].message.contains("In-Reply-To: <CAFAKE"));
    // The sent message is in the mailbox's history, labelled SENT, and out of INBOX listings.
    let (_, history) = h.get("history?startHistoryId=1000").await;
    assert_eq!(
        history["history"][0]["messagesAdded"][0]["message"]["labelIds"],
        json!(["SENT"])
    );
    let (_, inbox) = h.get("history?startHistoryId=1000&labelId=INBOX").await;
    assert!(inbox.get("history").is_none());
    assert_eq!(
        h.post("messages/send", json!({ "raw": "%%%" })).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        h.post("messages/send", json!({})).await.0,
        StatusCode::BAD_REQUEST
    );
}

fn inbound(mailbox: &str) -> InboundMail {
    InboundMail {
        mailbox: mailbox.into(),
        from: "Alex <alex@example.org>".into(),
        subject: "Booking".into(),
        text: "A table for two?".into(),
        thread_id: None,
    }
}

#[tokio::test]
async fn control_endpoints_add_inbound_mail_and_list_what_was_sent() {
    let h = harness().await;
    let messages = format!("{}/messages", h.fake.sandbox_base());
    let response = h
        .http
        .post(&messages)
        .json(&inbound(MAILBOX))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let added: AddedMail = response.json().await.unwrap();
    assert_eq!(h.fake.history_id(MAILBOX), Some(added.history_id));
    assert!(added.history_id > 1000);
    // Gmail serves it as an unread inbox message in a thread of its own, listed in the history
    // a notification of `history_id` makes the worker read.
    let (status, message) = h.get(&format!("messages/{}", added.id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(message["labelIds"], json!(["UNREAD", "INBOX"]));
    assert_eq!(message["threadId"], added.id.as_str());
    assert_eq!(message["snippet"], "A table for two?");
    let from = message["payload"]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|header| header["name"] == "From")
        .unwrap();
    assert_eq!(from["value"], "Alex <alex@example.org>");
    let (_, history) = h.get("history?startHistoryId=1000&labelId=INBOX").await;
    assert_eq!(history["historyId"], added.history_id.to_string());
    assert_eq!(
        history["history"][0]["messages"][0]["id"],
        added.id.as_str()
    );

    let reply = InboundMail {
        thread_id: Some(added.id.clone()),
        ..inbound(MAILBOX)
    };
    let response = h.http.post(&messages).json(&reply).send().await.unwrap();
    let second: AddedMail = response.json().await.unwrap();
    assert!(second.history_id > added.history_id);
    let (_, message) = h.get(&format!("messages/{}", second.id)).await;
    assert_eq!(message["threadId"], added.id.as_str());

    let sent = format!("{}/sent", h.fake.sandbox_base());
    let (http, sent) = (&h.http, &sent);
    let list = || async move {
        let response = http
            .get(sent)
            .query(&[("mailbox", MAILBOX)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()
    };
    assert_eq!(list().await, json!([]));
    let (_, answer) = h.post("messages/send", fixture!("send_request.json")).await;
    let listed = list().await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], answer["id"]);
    assert_eq!(listed[0]["thread_id"], answer["threadId"]);
    assert!(
        listed[0]["message"]
            .as_str()
            .unwrap()
            .contains("Subject: Re: Invoice for order #1234\r\n")
    );
}

#[tokio::test]
async fn control_endpoints_refuse_bad_input_with_a_reason() {
    let h = harness().await;
    let messages = format!("{}/messages", h.fake.sandbox_base());
    let unknown = inbound("nobody@example.com");
    let empty_sender = InboundMail {
        from: " ".into(),
        ..inbound(MAILBOX)
    };
    let empty_thread = InboundMail {
        thread_id: Some(String::new()),
        ..inbound(MAILBOX)
    };
    let cases = [
        ("{", StatusCode::BAD_REQUEST),
        (r#"{"mailbox": "x@example.com"}"#, StatusCode::BAD_REQUEST),
        (r#"[1, 2]"#, StatusCode::BAD_REQUEST),
        (
            &serde_json::to_string(&unknown).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &serde_json::to_string(&empty_sender).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            &serde_json::to_string(&empty_thread).unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    let before = h.fake.history_id(MAILBOX);
    for (body, expected) in cases {
        let response = h
            .http
            .post(&messages)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{body}");
        let refusal: Value = response.json().await.unwrap();
        assert!(
            refusal["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{refusal}"
        );
    }
    assert_eq!(h.fake.history_id(MAILBOX), before);
    assert_eq!(h.fake.history_id("nobody@example.com"), None);

    let sent = format!("{}/sent", h.fake.sandbox_base());
    for (query, expected) in [
        ("", StatusCode::BAD_REQUEST),
        ("?mailbox=", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "?mailbox=nobody%40example.com",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let response = h.http.get(format!("{sent}{query}")).send().await.unwrap();
        assert_eq!(response.status(), expected, "{query}");
        let refusal: Value = response.json().await.unwrap();
        assert!(refusal["error"].is_string(), "{refusal}");
    }
}
