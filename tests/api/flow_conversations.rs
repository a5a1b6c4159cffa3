//! Message flows walked end to end: a customer's messages through the real ingress and worker,
//! the flow's buttons and branches answered over WhatsApp (as buttons) and SMS (as a numbered
//! list), and a handover that silences the automation.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard::sandbox::signing::TelnyxSigner;
use switchyard::sandbox::simulate;

use crate::helpers::*;

/// The README's menu, started by a customer's first message.
fn menu_flow(module: &str) -> Value {
    json!({
        "tenant_module_id": module,
        "name": "Main menu",
        "trigger": {"kind": "first_contact"},
        "steps": [
            {"id": "menu", "kind": "buttons", "body": "How can we help?",
             "buttons": [{"id": "book", "title": "Book a visit"}, {"id": "hours", "title": "Opening hours"},
                         {"id": "human", "title": "Talk to us"}],
             "next": "route"},
            {"id": "route", "kind": "branch",
             "rules": [{"button": "book", "to": "date"}, {"button": "hours", "to": "hours"},
                       {"button": "human", "to": "agent"}, {"keywords": ["person"], "to": "agent"}]},
            {"id": "hours", "kind": "text", "body": "Mon-Fri 9-17.", "next": "menu"},
            {"id": "date", "kind": "wait_reply", "body": "Which day suits you?", "next": "thanks"},
            {"id": "thanks", "kind": "text", "body": "Thanks, we will confirm.", "next": "done"},
            {"id": "agent", "kind": "handover"},
            {"id": "done", "kind": "end"}
        ]
    })
}

/// Enable the `welcome` module for the tenant behind `key` and give it the menu flow.
async fn with_menu(app: &TestApp, key: &str) {
    let enabled = app
        .call(
            Method::POST,
            "/api/v1/tenant-modules",
            key,
            Some(json!({ "module_key": "welcome" })),
        )
        .await;
    assert_eq!(enabled.status(), 201);
    let module: Value = enabled.json().await.unwrap();
    let module = module["id"].as_str().unwrap().to_owned();
    let created = app
        .call(Method::POST, "/api/v1/flows", key, Some(menu_flow(&module)))
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}

async fn flow_status(app: &TestApp) -> String {
    sqlx::query_scalar("SELECT status FROM conversation_states")
        .fetch_one(&app.owner_pool)
        .await
        .unwrap()
}

/// A customer tapping reply button `id` (`title`) on WhatsApp.
fn button_reply(wamid: &str, id: &str, title: &str) -> Vec<u8> {
    let mut event = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", wamid, "");
    event["entry"][0]["changes"][0]["value"]["messages"][0] = json!({
        "from": "15550001111", "id": wamid, "timestamp": "1767225600", "type": "interactive",
        "interactive": { "type": "button_reply", "button_reply": { "id": id, "title": title } }
    });
    bytes(&event)
}

/// What the fake Graph API was asked to send, as text (buttons listed after the body).
fn whatsapp_sent(app: &TestApp) -> Vec<String> {
    app.graph
        .sent()
        .iter()
        .map(|m| match m.body["type"].as_str() {
            Some("interactive") => {
                let buttons: Vec<&str> = m.body["interactive"]["action"]["buttons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["reply"]["id"].as_str().unwrap())
                    .collect();
                format!(
                    "{} [{}]",
                    m.body["interactive"]["body"]["text"].as_str().unwrap(),
                    buttons.join(",")
                )
            }
            _ => m.body["text"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_menu_with_buttons_and_branches_is_walked_over_whatsapp_until_a_person_takes_over() {
    let app = spawn_app().await;
    let (tenant, key) = app.provision("Flow Clinic").await;
    app.put_whatsapp(tenant.parse().unwrap(), PHONE_NUMBER_ID, WABA_ID, None)
        .await;
    with_menu(&app, &key).await;

    let hello = inbound_text(PHONE_NUMBER_ID, WABA_ID, "15550001111", "wamid.F1", "hi");
    assert_eq!(app.post_whatsapp(bytes(&hello)).await.status(), 200);
    eventually("the menu sent", || async { app.graph.sent().len() == 1 }).await;
    assert_eq!(whatsapp_sent(&app), ["How can we help? [book,hours,human]"]);
    assert_eq!(flow_status(&app).await, "waiting_reply");

    // Opening hours: the text, then the menu again.
    let hours = button_reply("wamid.F2", "hours", "Opening hours");
    assert_eq!(app.post_whatsapp(hours).await.status(), 200);
    eventually("hours and the menu again", || async {
        app.graph.sent().len() == 3
    })
    .await;
    assert_eq!(
        whatsapp_sent(&app)[1..],
        ["Mon-Fri 9-17.", "How can we help? [book,hours,human]"]
    );

    // Booking: the question, the answer, the thanks, and the flow is over.
    let book = button_reply("wamid.F3", "book", "Book a visit");
    assert_eq!(app.post_whatsapp(book).await.status(), 200);
    eventually("the booking question", || async {
        app.graph.sent().len() == 4
    })
    .await;
    let day = inbound_text(
        PHONE_NUMBER_ID,
        WABA_ID,
        "15550001111",
        "wamid.F4",
        "Tuesday",
    );
    assert_eq!(app.post_whatsapp(bytes(&day)).await.status(), 200);
    eventually("the thanks", || async { app.graph.sent().len() == 5 }).await;
    assert_eq!(
        whatsapp_sent(&app)[3..],
        ["Which day suits you?", "Thanks, we will confirm."]
    );
    assert_eq!(flow_status(&app).await, "idle");
    // The interactive message is stored as the outbound message it was.
    assert_eq!(
        app.count("SELECT count(*) FROM messages WHERE direction = 'outbound' AND message_type = 'interactive'")
            .await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_sms_the_buttons_are_a_numbered_list_and_a_handover_silences_the_bot() {
    let app = spawn_app_with(|s| {
        s.ingress.telnyx_public_key = Some(TelnyxSigner::sandbox().public_key_base64());
    })
    .await;
    let (_, key) = app.provision("Flow Salon").await;
    app.put_telnyx_sms(&key).await;
    with_menu(&app, &key).await;
    let say = |text: &str| {
        let body = simulate::telnyx_sms(CUSTOMER_NUMBER, TELNYX_NUMBER, text);
        let app = &app;
        async move {
            let now = chrono::Utc::now().timestamp();
            let response =
                crate::telnyx_webhook::post_signed(app, &TelnyxSigner::sandbox(), now, &body).await;
            assert_eq!(response.status(), 200);
        }
    };
    let texts = |app: &TestApp| -> Vec<String> {
        app.telnyx
            .sent()
            .iter()
            .map(|m| m.body["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };

    say("hello").await;
    eventually("the menu sent", || async { app.telnyx.sent().len() == 1 }).await;
    assert_eq!(
        texts(&app),
        ["How can we help?\n1) Book a visit\n2) Opening hours\n3) Talk to us"]
    );
    // "2" picks the second option.
    say("2").await;
    eventually("the hours", || async { app.telnyx.sent().len() == 3 }).await;
    assert_eq!(texts(&app)[1], "Mon-Fri 9-17.");

    // Asking for a person hands the conversation over: nothing automatic after that.
    say("Can I talk to a person?").await;
    eventually("handed over", || async {
        flow_status(&app).await == "handed_over"
    })
    .await;
    say("hello?").await;
    eventually("the last message stored", || async {
        app.count("SELECT count(*) FROM messages WHERE direction = 'inbound'")
            .await
            == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.telnyx.sent().len(), 3);
    assert_eq!(
        app.count("SELECT count(*) FROM llm_turns").await,
        0,
        "no LLM answer either"
    );
}
