//! SMS, voice and email channel configs; the verbs every channel shares (reveal, activate,
//! deactivate, delete, effective); routing keys owned by one tenant.

use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_config_is_masked_revealed_toggled_and_deleted() {
    let app = spawn_app().await;
    let key = app.provision("Acme").await.1;
    let put = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/sms",
            &key,
            Some(json!({
                "telnyx_phone_number": "+1 555 000 3333",
                "telnyx_api_key": "KEY0123456789ABCDEF_4242",
                "telnyx_messaging_profile_id": "40017f0d-profile",
                "twilio_phone_number": "+15550004444",
                "twilio_auth_token": "twilio-token-value-7777",
            })),
        )
        .await;
    assert_eq!(put.status(), 200);
    let shown: Value = put.json().await.unwrap();
    assert_eq!(shown["settings"]["telnyx_phone_number"], "+15550003333");
    assert_eq!(shown["secrets"]["telnyx_api_key"], "***4242");
    assert_eq!(shown["secrets"]["twilio_auth_token"], "***7777");
    assert_eq!(
        shown["routing_keys"],
        json!(["phone:+15550003333", "phone:+15550004444"])
    );
    let read = app
        .call(reqwest::Method::GET, "/api/v1/channels/sms", &key, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !read.contains("KEY0123456789") && !read.contains("twilio-token-value"),
        "{read}"
    );

    let revealed: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/channels/sms/reveal",
            &key,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(revealed["telnyx_api_key"], "KEY0123456789ABCDEF_4242");

    // The effective config says where each value comes from.
    let effective: Value = app
        .call(
            reqwest::Method::GET,
            "/api/v1/channels/sms/effective",
            &key,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(effective["telnyx_api_key"]["source"], "tenant");
    assert_eq!(effective["telnyx_public_key"]["source"], "unset");
    app.call(
        reqwest::Method::PUT,
        "/api/v1/channels/sms",
        &key,
        Some(json!({ "twilio_phone_number": "+15550004444" })),
    )
    .await;
    let effective: Value = app
        .call(
            reqwest::Method::GET,
            "/api/v1/channels/sms/effective",
            &key,
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(effective["telnyx_api_key"]["source"], "environment");
    assert_eq!(effective["telnyx_api_key"]["value"], "***0001");

    assert_eq!(
        app.call(
            reqwest::Method::POST,
            "/api/v1/channels/sms/deactivate",
            &key,
            None
        )
        .await
        .status(),
        204
    );
    let read: Value = app
        .call(reqwest::Method::GET, "/api/v1/channels/sms", &key, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["is_active"], false);
    assert_eq!(
        app.call(
            reqwest::Method::POST,
            "/api/v1/channels/sms/activate",
            &key,
            None
        )
        .await
        .status(),
        204
    );
    let stats: Value = app
        .admin_get("/api/v1/platform/channel-stats")
        .await
        .json()
        .await
        .unwrap();
    let sms = stats
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(
        (sms["active"].as_i64(), sms["inactive"].as_i64()),
        (Some(1), Some(0))
    );

    assert_eq!(
        app.call(reqwest::Method::DELETE, "/api/v1/channels/sms", &key, None)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/channels/sms", &key, None)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.call(reqwest::Method::DELETE, "/api/v1/channels/sms", &key, None)
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configs_get_422_per_field_and_taken_keys_409() {
    let app = spawn_app().await;
    let a = app.provision("Alpha").await.1;
    let b = app.provision("Beta").await.1;
    let bad = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/sms",
            &a,
            Some(json!({
                "telnyx_phone_number": "555", "fax_number": "+15550001", "is_active": "yes"
            })),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let error: Value = bad.json().await.unwrap();
    for field in ["telnyx_phone_number", "fax_number", "is_active"] {
        assert!(
            error["error"]["fields"][field].is_string(),
            "{field}: {error}"
        );
    }
    let missing = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/voice",
            &a,
            Some(json!({ "telnyx_assistant_id": "x" })),
        )
        .await;
    assert_eq!(missing.status(), 422);
    assert_eq!(
        app.call(
            reqwest::Method::PUT,
            "/api/v1/channels/fax",
            &a,
            Some(json!({}))
        )
        .await
        .status(),
        404
    );

    let email =
        json!({ "address": "Front.Desk@Acme.example", "refresh_token": "1//refresh-token-abcd" });
    let claimed = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/email",
            &a,
            Some(email.clone()),
        )
        .await;
    assert_eq!(claimed.status(), 200);
    assert_eq!(
        claimed.json::<Value>().await.unwrap()["routing_keys"],
        json!(["email:front.desk@acme.example"])
    );
    // Another tenant cannot claim the same mailbox (in any letter case)...
    let taken = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/email",
            &b,
            Some(json!({ "address": "front.desk@acme.example" })),
        )
        .await;
    assert_eq!(taken.status(), 409);
    // ...but one tenant may use its number for SMS and voice.
    let sms = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/sms",
            &a,
            Some(json!({ "telnyx_phone_number": "+15550005555" })),
        )
        .await;
    assert_eq!(sms.status(), 200);
    let voice = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/voice",
            &a,
            Some(json!({
                "telnyx_connection_id": "1494404757140276705", "phone_number": "+15550005555"
            })),
        )
        .await;
    assert_eq!(voice.status(), 200);
    let voice_b = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/channels/voice",
            &b,
            Some(json!({
                "telnyx_connection_id": "2000", "phone_number": "+15550005555"
            })),
        )
        .await;
    assert_eq!(voice_b.status(), 409);

    // Agents read masked but cannot reveal or change.
    let agent: Value = app
        .call(
            reqwest::Method::POST,
            "/api/v1/api-keys",
            &a,
            Some(json!({ "name": "desk", "role": "agent" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let agent = agent["key"].as_str().unwrap();
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/channels/email", agent, None)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.call(
            reqwest::Method::POST,
            "/api/v1/channels/email/reveal",
            agent,
            None
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        app.call(
            reqwest::Method::PUT,
            "/api/v1/channels/email",
            agent,
            Some(email)
        )
        .await
        .status(),
        403
    );
    // Tenant B sees none of A's configs.
    assert_eq!(
        app.call(reqwest::Method::GET, "/api/v1/channels/email", &b, None)
            .await
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_shares_the_channel_verbs() {
    let app = spawn_app().await;
    let tenant = app.create_tenant("acme", None).await;
    app.put_whatsapp(tenant, PHONE_NUMBER_ID, WABA_ID, None)
        .await;
    let acting = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .header("X-Tenant-Id", tenant.to_string())
            .send()
    };
    let revealed: Value = acting(reqwest::Method::POST, "/api/v1/channels/whatsapp/reveal")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revealed["access_token"], format!("token-of-{tenant}"));
    let effective: Value = acting(reqwest::Method::GET, "/api/v1/channels/whatsapp/effective")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(effective["app_secret"]["source"], "environment");
    assert_eq!(effective["phone_number_id"]["value"], PHONE_NUMBER_ID);

    // Deactivated: its webhooks are kept as unroutable, not processed.
    assert_eq!(
        acting(
            reqwest::Method::POST,
            "/api/v1/channels/whatsapp/deactivate"
        )
        .await
        .unwrap()
        .status(),
        204
    );
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count("SELECT count(*) FROM unroutable_events WHERE reason LIKE '%inactive%'")
            .await,
        1
    );
    assert_eq!(
        acting(reqwest::Method::DELETE, "/api/v1/channels/whatsapp")
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(app.count("SELECT count(*) FROM whatsapp_channels").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_signup_binds_the_granted_number_or_changes_nothing() {
    let app = spawn_app().await;
    let body: Value = app
        .admin_post(
            "/api/v1/tenants",
            &json!({ "name": "Bakery", "welcome_text": "Hi!" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = body["api_key"]["key"].as_str().unwrap().to_owned();
    let path = "/api/v1/channels/whatsapp/embedded-signup";

    // Meta refuses: surfaced with Meta's code, nothing stored.
    for (code, meta_code) in [("bad-code", 100), ("fail-subscribe-1", 200)] {
        let response = app
            .call(
                reqwest::Method::POST,
                path,
                &key,
                Some(json!({ "code": code })),
            )
            .await;
        assert_eq!(response.status(), 502, "{code}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "provider_error");
        assert_eq!(error["error"]["provider_code"], meta_code);
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Meta refused")
        );
    }
    // Browser-supplied ids must match what Meta granted.
    for (extra, field) in [
        (json!({ "waba_id": "999999999999999" }), "waba_id"),
        (json!({ "phone_number_id": "111" }), "phone_number_id"),
    ] {
        let mut request = json!({ "code": "ok-1" });
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let response = app
            .call(reqwest::Method::POST, path, &key, Some(request))
            .await;
        assert_eq!(response.status(), 422, "{field}");
        assert!(response.json::<Value>().await.unwrap()["error"]["fields"][field].is_string());
    }
    let empty = app
        .call(
            reqwest::Method::POST,
            path,
            &key,
            Some(json!({ "code": "no-numbers-1" })),
        )
        .await;
    assert_eq!(empty.status(), 422);
    assert_eq!(app.count("SELECT count(*) FROM whatsapp_channels").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM tenants WHERE onboarding_completed_at IS NOT NULL")
            .await,
        0
    );

    // The happy path: stored sealed, onboarding complete, webhooks routed.
    let done = app
        .call(
            reqwest::Method::POST,
            path,
            &key,
            Some(json!({
                "code": "ok-2", "waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID
            })),
        )
        .await;
    assert_eq!(done.status(), 200);
    let shown: Value = done.json().await.unwrap();
    assert_eq!(shown["phone_number_id"], PHONE_NUMBER_ID);
    assert!(shown["access_token"].as_str().unwrap().starts_with("***"));
    assert_eq!(
        app.count("SELECT count(*) FROM tenants WHERE onboarding_completed_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.post_whatsapp(fixture("whatsapp/inbound_text.json"))
            .await
            .status(),
        200
    );
    eventually("the welcome sent with the exchanged token", || async {
        app.graph.sent().len() == 1
    })
    .await;
    assert_eq!(app.graph.sent()[0].bearer_token, "EAAFAKE_ok-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_signup_needs_the_meta_app_configured() {
    let app = spawn_app_with(|s| s.ingress.meta_app_id = None).await;
    let tenant = app.create_tenant("acme", None).await;
    let response = app
        .client
        .post(app.url("/api/v1/channels/whatsapp/embedded-signup"))
        .bearer_auth(ADMIN_TOKEN)
        .header("X-Tenant-Id", tenant.to_string())
        .json(&json!({ "code": "ok" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
}
