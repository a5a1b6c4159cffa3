//! Connecting a Gmail mailbox: the consent URL, and the callback's refusals. (The full
//! exchange runs against the fake Google endpoints.)

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consent_url_asks_for_offline_gmail_access_with_a_signed_state() {
    let app = spawn_app().await;
    let (admin, _) = app.admin_and_agent_keys("Mail Shop").await;
    let response = app
        .call(Method::POST, "/api/v1/channels/email/connect", &admin, None)
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let url = reqwest::Url::parse(body["authorization_url"].as_str().unwrap()).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], "test-client.apps.googleusercontent.com");
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["response_type"], "code");
    assert!(query["scope"].contains("gmail.modify"));
    assert_eq!(
        query["redirect_uri"],
        "https://hooks.example.test/oauth/google/callback"
    );
    assert!(!query["state"].is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tenant_admins_start_a_connection() {
    let app = spawn_app().await;
    let (_, agent) = app.admin_and_agent_keys("Agents Only").await;
    let refused = app
        .call(Method::POST, "/api/v1/channels/email/connect", &agent, None)
        .await;
    assert_eq!(refused.status(), 403);
    let anonymous = app
        .client
        .post(app.url("/api/v1/channels/email/connect"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_refuses_forged_states_and_declined_consents() {
    let app = spawn_app().await;
    for query in [
        "code=4/abc&state=not-a-state",
        "code=4/abc",
        "error=access_denied&state=x",
        // A login token is no consent state.
        "code=4/abc&state=eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/oauth/google/callback?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "bad_request", "{query}");
    }
    assert_eq!(app.count("SELECT count(*) FROM gmail_mailboxes").await, 0);
}

mod against_fake_google {
    use reqwest::Method;
    use serde_json::Value;
    use switchyard::sandbox::google::FakeGoogle;

    use crate::google::*;
    use crate::helpers::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_consent_connects_the_mailbox_watches_it_and_seals_the_tokens() {
        let (app, fake) = app_and_google(3600).await;
        let (admin, _) = app.admin_and_agent_keys("Mail Shop").await;
        let state = consent_state(&app, &admin).await;
        let response = callback(&app, &fake.authorize(MAILBOX), &state).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

        let mailbox: Value = app
            .call(Method::GET, "/api/v1/channels/email/mailbox", &admin, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(mailbox["address"], MAILBOX);
        assert_eq!(mailbox["status"], "active");
        assert_eq!(
            mailbox["history_id"].as_u64(),
            fake.history_id(MAILBOX),
            "the cursor starts where the watch began"
        );
        let watches = fake.watches(MAILBOX);
        assert_eq!(watches.len(), 1);
        assert_eq!(watches[0]["topicName"], "projects/test/topics/gmail");

        // The tokens are sealed at rest and shown masked; the address routes to the tenant.
        let config: Value = app
            .call(Method::GET, "/api/v1/channels/email", &admin, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(config["routing_keys"][0], format!("email:{MAILBOX}"));
        assert!(
            config["secrets"]["refresh_token"]
                .as_str()
                .unwrap()
                .starts_with("***")
        );
        let stored: String =
            sqlx::query_scalar("SELECT secrets::text FROM channel_configs WHERE channel = 'email'")
                .fetch_one(&app.owner_pool)
                .await
                .unwrap();
        let revealed: Value = app
            .call(Method::POST, "/api/v1/channels/email/reveal", &admin, None)
            .await
            .json()
            .await
            .unwrap();
        let refresh_token = revealed["refresh_token"].as_str().unwrap();
        assert!(!refresh_token.is_empty());
        assert!(!stored.contains(refresh_token));

        // A code is good once: replaying the callback is Google's refusal, nothing changes.
        let replay = callback(&app, "4/used-or-unknown", &state).await;
        assert_eq!(replay.status(), 502);
        let error: Value = replay.json().await.unwrap();
        assert_eq!(error["error"]["code"], "provider_error");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("invalid_grant")
        );

        // Another tenant cannot take over the mailbox.
        let (other, _) = app.admin_and_agent_keys("Other Shop").await;
        let state = consent_state(&app, &other).await;
        let taken = callback(&app, &fake.authorize(MAILBOX), &state).await;
        assert_eq!(taken.status(), 409);
        assert_eq!(app.count("SELECT count(*) FROM gmail_mailboxes").await, 1);
    }

    async fn connected(app: &TestApp, fake: &FakeGoogle) -> String {
        connected_tenant(app, fake, None).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn watches_about_to_lapse_are_renewed_with_a_fresh_token() {
        let (app, fake) = app_and_google(1).await;
        let admin = connected(&app, &fake).await;
        let before: Value = mailbox(&app, &admin).await;
        // Not due yet: the watch runs for days.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(fake.watches(MAILBOX).len(), 1);

        sqlx::query("UPDATE gmail_mailboxes SET watch_expires_at = now() + interval '1 hour'")
            .execute(&app.owner_pool)
            .await
            .unwrap();
        eventually("the watch renewed", || async {
            fake.watches(MAILBOX).len() == 2
        })
        .await;
        eventually("the new expiry stored", || async {
            app.count("SELECT count(*) FROM gmail_mailboxes WHERE watch_expires_at > now() + interval '2 days'")
                .await
                == 1
        })
        .await;
        let after = mailbox(&app, &admin).await;
        assert_eq!(after["status"], "active");
        assert_eq!(
            after["history_id"], before["history_id"],
            "renewal leaves the cursor alone"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoked_refresh_token_marks_the_mailbox_for_consent_and_is_not_retried() {
        let (app, fake) = app_and_google(1).await;
        let admin = connected(&app, &fake).await;
        let revealed: Value = app
            .call(Method::POST, "/api/v1/channels/email/reveal", &admin, None)
            .await
            .json()
            .await
            .unwrap();
        fake.revoke(revealed["refresh_token"].as_str().unwrap());
        sqlx::query("UPDATE gmail_mailboxes SET watch_expires_at = now()")
            .execute(&app.owner_pool)
            .await
            .unwrap();
        eventually("the mailbox needs consent", || async {
            app.count("SELECT count(*) FROM gmail_mailboxes WHERE status = 'needs_consent'")
                .await
                == 1
        })
        .await;
        let shown = mailbox(&app, &admin).await;
        assert_eq!(shown["status"], "needs_consent");
        assert!(shown["last_error"].as_str().unwrap().contains("revoked"));
        // Not due any more: no further attempts.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert_eq!(fake.watches(MAILBOX).len(), 1);
    }
}
