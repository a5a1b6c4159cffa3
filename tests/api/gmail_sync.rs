//! A Gmail mailbox synced end to end: a signed push reaches the ingress, the worker reads the
//! mailbox's history from the fake Gmail API and stores the new mail, and the welcome reply
//! leaves through `messages.send` in the customer's thread.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::google::NewMessage;

use crate::google::*;
use crate::helpers::*;

const FIXTURE_THREAD: &str = "19b7f0a1c2d3e4f5";
const FIXTURE_MESSAGE_ID: &str = "CAFAKE0000000000000000000000000000@mail.example.org";

async fn inbound_emails(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM messages WHERE channel = 'email' AND direction = 'inbound'")
        .await
}

async fn cursor(app: &TestApp) -> u64 {
    let cursor: i64 = sqlx::query_scalar("SELECT history_id FROM gmail_mailboxes")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    u64::try_from(cursor).unwrap()
}

async fn processed(app: &TestApp, message_id: &str) -> bool {
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events WHERE dedup_key = $1")
        .bind(format!("pubsub:{message_id}"))
        .fetch_one(&app.owner_pool)
        .await
        .unwrap();
    n == 1
}

async fn revealed(app: &TestApp, admin: &str) -> Value {
    app.call(Method::POST, "/api/v1/channels/email/reveal", admin, None)
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mail_is_stored_in_its_thread_and_welcomed_once_without_answering_our_own_reply() {
    let (app, fake) = app_and_google(3600).await;
    let admin = connected_tenant(
        &app,
        &fake,
        Some("Thanks for writing! We answer within a day."),
    )
    .await;
    let history = fake.add_fixture_message(MAILBOX);
    assert_eq!(push(&app, history, "m-1").await.status(), 204);
    eventually("the email stored", || async {
        inbound_emails(&app).await == 1
    })
    .await;

    let (email, name): (String, Option<String>) =
        sqlx::query_as("SELECT email, display_name FROM contacts")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(email, "alex.customer@example.org");
    assert_eq!(name.as_deref(), Some("Alex Customer"));
    let thread: Option<String> =
        sqlx::query_scalar("SELECT thread_key FROM conversations WHERE channel = 'email'")
            .fetch_one(&app.owner_pool)
            .await
            .unwrap();
    assert_eq!(thread.as_deref(), Some(FIXTURE_THREAD));
    let (gmail_id, body, raw): (String, Option<String>, Value) = sqlx::query_as(
        "SELECT provider_message_id, body, raw FROM messages WHERE direction = 'inbound'",
    )
    .fetch_one(&app.owner_pool)
    .await
    .unwrap();
    assert_eq!(gmail_id, "19b7f0a1c2d3e4f5");
    assert!(
        body.as_deref()
            .unwrap()
            .contains("Could you send me the invoice for order #1234?"),
        "{body:?}"
    );
    assert_eq!(raw["subject"], "Invoice for order #1234");
    assert_eq!(raw["message_id"], FIXTURE_MESSAGE_ID);
    assert_eq!(mailbox(&app, &admin).await["history_id"], json!(history));

    // The welcome leaves as a reply in the customer's thread.
    eventually("the welcome sent", || async {
        fake.sent(MAILBOX).len() == 1
    })
    .await;
    let sent = fake.sent(MAILBOX).remove(0);
    assert_eq!(sent.thread_id, FIXTURE_THREAD);
    for header in [
        "Subject: Re: Invoice for order #1234".to_owned(),
        format!("In-Reply-To: <{FIXTURE_MESSAGE_ID}>"),
        format!("References: <{FIXTURE_MESSAGE_ID}>"),
    ] {
        assert!(
            sent.message.contains(&header),
            "{header} in {}",
            sent.message
        );
    }
    assert!(sent.message.contains("<alex.customer@example.org>"));
    assert!(
        sent.message
            .contains("From: \"Mail Shop\" <owner@shop.example>")
    );
    assert!(
        sent.message
            .contains("Thanks for writing! We answer within a day.")
    );
    eventually("the reply recorded", || async {
        app.count(
            "SELECT count(*) FROM messages WHERE channel = 'email' AND direction = 'outbound' \
             AND status = 'sent' AND conversation_id IS NOT NULL",
        )
        .await
            == 1
    })
    .await;

    // Gmail files our reply in the mailbox as SENT: its notification stores and answers nothing.
    let after_reply = fake.history_id(MAILBOX).unwrap();
    assert!(after_reply > history);
    assert_eq!(push(&app, after_reply, "m-2").await.status(), 204);
    eventually("the reply's notification synced", || async {
        cursor(&app).await == after_reply
    })
    .await;
    assert_eq!(inbound_emails(&app).await, 1);

    // The customer answers in the thread: the same conversation, no second welcome.
    let (_, answered) = fake.add_message(
        MAILBOX,
        &NewMessage {
            thread_id: Some(FIXTURE_THREAD.into()),
            ..NewMessage::inbound(
                "Alex Customer <alex.customer@example.org>",
                "Re: Invoice for order #1234",
                "Thanks, found it!",
            )
        },
    );
    assert_eq!(push(&app, answered, "m-3").await.status(), 204);
    eventually("the answer stored", || async {
        inbound_emails(&app).await == 2
    })
    .await;
    assert_eq!(
        app.count("SELECT count(*) FROM conversations WHERE channel = 'email'")
            .await,
        1
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent(MAILBOX).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_push_is_applied_once() {
    let (app, fake) = app_and_google(3600).await;
    connected_tenant(&app, &fake, None).await;
    let start = fake.history_id(MAILBOX).unwrap();
    let history = fake.add_fixture_message(MAILBOX);
    assert_eq!(push(&app, history, "m-dup").await.status(), 204);
    eventually("the email stored", || async {
        inbound_emails(&app).await == 1
    })
    .await;

    // Were the same push applied again, a rewound cursor would make it store the mail again.
    sqlx::query("UPDATE gmail_mailboxes SET history_id = $1")
        .bind(i64::try_from(start).unwrap())
        .execute(&app.owner_pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM messages")
        .execute(&app.owner_pool)
        .await
        .unwrap();
    assert_eq!(push(&app, history, "m-dup").await.status(), 204);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(inbound_emails(&app).await, 0);
    assert_eq!(cursor(&app).await, start);
    assert_eq!(app.count("SELECT count(*) FROM processed_events").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_gap_resyncs_the_recent_inbox() {
    let (app, fake) = app_and_google(3600).await;
    let admin = connected_tenant(&app, &fake, None).await;
    fake.add_message(
        MAILBOX,
        &NewMessage::inbound("Bea <bea@example.org>", "Opening hours", "Open on Sunday?"),
    );
    let (_, history) = fake.add_message(
        MAILBOX,
        &NewMessage::inbound("Carl <carl@example.net>", "Parking", "Is there parking?"),
    );
    // Gmail no longer has the history from the stored cursor: history.list answers 404.
    fake.forget_history(MAILBOX);
    assert_eq!(push(&app, history, "m-gap").await.status(), 204);
    eventually("both emails stored", || async {
        inbound_emails(&app).await == 2
    })
    .await;
    eventually("the cursor at the notification", || async {
        cursor(&app).await == history
    })
    .await;
    let shown = mailbox(&app, &admin).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["last_error"], Value::Null);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM contacts WHERE email IN ('bea@example.org', 'carl@example.net')"
        )
        .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_refreshed_on_401_and_kept() {
    let (app, fake) = app_and_google(3600).await;
    let admin = connected_tenant(&app, &fake, None).await;
    let before = revealed(&app, &admin).await["access_token"].clone();
    // Google ended the token before the expiry it announced: Gmail answers 401.
    fake.expire_access_tokens();
    let history = fake.add_fixture_message(MAILBOX);
    assert_eq!(push(&app, history, "m-401").await.status(), 204);
    eventually("the email stored", || async {
        inbound_emails(&app).await == 1
    })
    .await;
    let after = revealed(&app, &admin).await["access_token"].clone();
    assert!(after.as_str().is_some_and(|t| !t.is_empty()));
    assert_ne!(
        after, before,
        "the refreshed token is stored for the next job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_notification_never_moves_the_cursor_back() {
    let (app, fake) = app_and_google(3600).await;
    connected_tenant(&app, &fake, None).await;
    let (_, older) = fake.add_message(
        MAILBOX,
        &NewMessage::inbound("bea@example.org", "First", "one"),
    );
    let (_, newer) = fake.add_message(
        MAILBOX,
        &NewMessage::inbound("bea@example.org", "Second", "two"),
    );
    assert_eq!(push(&app, newer, "m-newer").await.status(), 204);
    eventually("both emails stored", || async {
        inbound_emails(&app).await == 2
    })
    .await;
    eventually("the cursor at the newer", || async {
        cursor(&app).await == newer
    })
    .await;

    assert_eq!(push(&app, older, "m-older").await.status(), 204);
    eventually("the late push applied", || async {
        processed(&app, "m-older").await
    })
    .await;
    assert_eq!(cursor(&app).await, newer);
    assert_eq!(inbound_emails(&app).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_consent_marks_the_mailbox_instead_of_retrying() {
    let (app, fake) = app_and_google(3600).await;
    let admin = connected_tenant(&app, &fake, None).await;
    let refresh_token = revealed(&app, &admin).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.revoke(&refresh_token);
    let history = fake.add_fixture_message(MAILBOX);
    assert_eq!(push(&app, history, "m-revoked").await.status(), 204);
    eventually("the push applied", || async {
        processed(&app, "m-revoked").await
    })
    .await;
    let shown = mailbox(&app, &admin).await;
    assert_eq!(shown["status"], "needs_consent");
    assert!(shown["last_error"].as_str().unwrap().contains("revoked"));
    assert_eq!(inbound_emails(&app).await, 0);

    // The owner consents again: the cursor stays where the sync stopped, so the next
    // notification picks up the mail that came meanwhile.
    let state = consent_state(&app, &admin).await;
    let reconnected = callback(&app, &fake.authorize(MAILBOX), &state).await;
    assert_eq!(reconnected.status(), 200);
    let shown = mailbox(&app, &admin).await;
    assert_eq!(shown["status"], "active");
    assert!(shown["history_id"].as_u64().unwrap() < history);
    let (_, later) = fake.add_message(
        MAILBOX,
        &NewMessage::inbound("bea@example.org", "Later", "still there?"),
    );
    assert_eq!(push(&app, later, "m-after-consent").await.status(), 204);
    eventually("both emails stored", || async {
        inbound_emails(&app).await == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mail_a_notification_brings_gets_its_own_flow_answer() {
    let (app, fake) = app_and_google(3600).await;
    let admin = connected_tenant(&app, &fake, None).await;
    let enabled = app
        .call(
            Method::POST,
            "/api/v1/tenant-modules",
            &admin,
            Some(json!({ "module_key": "faq" })),
        )
        .await;
    assert_eq!(enabled.status(), 201);
    let module: Value = enabled.json().await.unwrap();
    let flow = json!({
        "tenant_module_id": module["id"],
        "name": "Hours",
        "trigger": {"kind": "keywords", "keywords": ["hours"]},
        "steps": [
            {"id": "answer", "kind": "text", "body": "We open at 9.", "next": "done"},
            {"id": "done", "kind": "end"}
        ]
    });
    let created = app
        .call(Method::POST, "/api/v1/flows", &admin, Some(flow))
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());

    // Two mails arrive before Gmail's push: one notification, one event, two messages.
    fake.add_message(
        MAILBOX,
        &NewMessage::inbound("Bea <bea@example.org>", "Question", "Your hours?"),
    );
    let (_, history) = fake.add_message(
        MAILBOX,
        &NewMessage::inbound("Carl <carl@example.net>", "Question", "hours on Sunday?"),
    );
    assert_eq!(push(&app, history, "m-two").await.status(), 204);
    eventually("both mails answered", || async {
        fake.sent(MAILBOX).len() == 2
    })
    .await;
    let sent = fake.sent(MAILBOX);
    for customer in ["bea@example.org", "carl@example.net"] {
        assert_eq!(
            sent.iter()
                .filter(|m| m.message.contains(customer) && m.message.contains("We open at 9."))
                .count(),
            1,
            "one answer to {customer}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent(MAILBOX).len(), 2);
}
