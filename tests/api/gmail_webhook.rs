//! The Gmail push endpoint: Google's OIDC token checked against a JWKS, the notification read,
//! the mailbox resolved to its tenant.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::google_signing::{GoogleSigner, PushClaims, push_body, push_request};
use switchyard_shared::payloads::pubsub::GmailNotification;

use crate::helpers::*;
use crate::published::{spawn_ingress_with, take_published};

pub(crate) const AUDIENCE: &str = "https://ingress.example.test/webhooks/pubsub/gmail";
pub(crate) const PUSH_ACCOUNT: &str = "pubsub-push@fake-project-123.iam.gserviceaccount.com";
pub(crate) const MAILBOX: &str = "tenant.inbox@example.com";
pub(crate) const SUBSCRIPTION: &str = "projects/fake-project-123/subscriptions/gmail-push-ingress";

/// Google's certs endpoint, serving the sandbox key's JWKS.
async fn jwks_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route(
        "/oauth2/v3/certs",
        axum::routing::get(|| async {
            (
                [
                    ("content-type", "application/json"),
                    ("cache-control", "public, max-age=3600"),
                ],
                GoogleSigner::jwks_json(),
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/oauth2/v3/certs")
}

pub(crate) async fn gmail_ingress() -> TestApp {
    let certs = jwks_server().await;
    spawn_ingress_with(move |s| {
        s.google.certs_url = certs;
        s.google.pubsub_push_audience = Some(AUDIENCE.into());
        s.google.pubsub_push_service_account = Some(PUSH_ACCOUNT.into());
    })
    .await
}

pub(crate) async fn connect_mailbox(app: &TestApp) -> String {
    let (tenant, key) = app.provision("Mail Shop").await;
    let put = app
        .call(
            Method::PUT,
            "/api/v1/channels/email",
            &key,
            Some(json!({ "address": MAILBOX, "access_token": "ya29.test", "refresh_token": "1//test" })),
        )
        .await;
    assert_eq!(put.status(), 200);
    tenant
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(crate) fn notification(history_id: u64) -> GmailNotification {
    GmailNotification {
        email_address: MAILBOX.into(),
        history_id,
    }
}

pub(crate) async fn push(
    app: &TestApp,
    authorization: Option<&str>,
    body: String,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/webhooks/gmail"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_for_a_connected_mailbox_is_published_and_acknowledged() {
    let app = gmail_ingress().await;
    let tenant = connect_mailbox(&app).await;
    // The fixture body, with a token Google would sign now.
    let body = String::from_utf8(fixture("pubsub/gmail_push.json")).unwrap();
    let token = GoogleSigner::sandbox()
        .id_token(&PushClaims::new(AUDIENCE, PUSH_ACCOUNT, now()))
        .unwrap();
    let response = push(&app, Some(&format!("Bearer {token}")), body).await;
    assert_eq!(response.status(), 204);

    let published = take_published(&app, "email").await;
    assert_eq!(published.len(), 1);
    let envelope = &published[0];
    assert_eq!(envelope["tenant_id"], tenant.as_str());
    assert_eq!(envelope["kind"], "mailbox_changed");
    assert_eq!(envelope["dedup_key"], "pubsub:17000000000000001");
    assert_eq!(envelope["payload"]["email_address"], MAILBOX);
    assert_eq!(envelope["payload"]["history_id"], 4_251_009);
    assert_eq!(
        envelope["conversation_key"],
        format!("{tenant}:email:{MAILBOX}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_and_change_nothing() {
    let app = gmail_ingress().await;
    connect_mailbox(&app).await;
    let signer = GoogleSigner::sandbox();
    let valid = PushClaims::new(AUDIENCE, PUSH_ACCOUNT, now());
    let cases: Vec<(&str, PushClaims)> = vec![
        (
            "wrong audience",
            PushClaims {
                aud: "https://elsewhere.test".into(),
                ..valid.clone()
            },
        ),
        (
            "wrong issuer",
            PushClaims {
                iss: "https://evil.example".into(),
                ..valid.clone()
            },
        ),
        (
            "wrong email",
            PushClaims {
                email: "someone@else.iam.gserviceaccount.com".into(),
                ..valid.clone()
            },
        ),
        (
            "unverified email",
            PushClaims {
                email_verified: false,
                ..valid.clone()
            },
        ),
        (
            "expired",
            PushClaims {
                iat: now() - 7200,
                exp: now() - 3600,
                ..valid.clone()
            },
        ),
    ];
    for (what, claims) in cases {
        let signed =
            push_request(&signer, &claims, &notification(10), "m-1", SUBSCRIPTION).unwrap();
        let response = push(&app, Some(&signed.authorization), signed.body).await;
        assert_eq!(response.status(), 401, "{what}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "unauthorized", "{what}");
    }
    let body = push_body(
        &notification(10),
        "m-2",
        SUBSCRIPTION,
        "2026-11-26T00:00:00Z",
    );
    // A key Google does not publish.
    let unknown = GoogleSigner::sandbox()
        .with_kid("not-a-google-key")
        .id_token(&valid)
        .unwrap();
    assert_eq!(
        push(&app, Some(&format!("Bearer {unknown}")), body.clone())
            .await
            .status(),
        401
    );
    // A token whose claims were changed after signing.
    let token = signer.id_token(&valid).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = PushClaims {
        email: "attacker@example.com".into(),
        ..valid.clone()
    };
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&forged).unwrap(),
    );
    assert_eq!(
        push(
            &app,
            Some(&format!("Bearer {}", parts.join("."))),
            body.clone()
        )
        .await
        .status(),
        401
    );
    assert_eq!(push(&app, None, body.clone()).await.status(), 401);
    assert_eq!(
        push(&app, Some(&format!("Basic {token}")), body)
            .await
            .status(),
        401
    );

    assert!(take_published(&app, "email").await.is_empty());
    assert_eq!(app.count("SELECT count(*) FROM unroutable_events").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_data_gets_400_and_unknown_mailboxes_are_recorded() {
    let app = gmail_ingress().await;
    let token = GoogleSigner::sandbox()
        .id_token(&PushClaims::new(AUDIENCE, PUSH_ACCOUNT, now()))
        .unwrap();
    let bearer = format!("Bearer {token}");
    for body in [
        json!({ "message": { "data": "%%%not base64", "messageId": "1" }, "subscription": SUBSCRIPTION }),
        json!({ "message": { "data": "eyJmb28iOjF9", "messageId": "2" }, "subscription": SUBSCRIPTION }),
        json!({ "subscription": SUBSCRIPTION }),
    ] {
        let response = push(&app, Some(&bearer), body.to_string()).await;
        assert_eq!(response.status(), 400, "{body}");
    }
    // No tenant has connected the mailbox yet: acknowledged, and kept for replay.
    let response = push(
        &app,
        Some(&bearer),
        push_body(
            &notification(7),
            "m-3",
            SUBSCRIPTION,
            "2026-11-26T00:00:00Z",
        ),
    )
    .await;
    assert_eq!(response.status(), 204);
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE provider = 'gmail' AND routing_key = 'email:tenant.inbox@example.com'")
            .await,
        1
    );
}
