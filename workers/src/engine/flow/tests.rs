//! The walker on a welcome menu: starting, replies by button, number, title and keyword, menu
//! loops, asking again, handover, stale positions.

use serde_json::{Value, json};
use switchyard_shared::db::conversation_states::ConversationState;
use switchyard_shared::flows::{Flow, FlowDefinition, FlowStatus};
use uuid::Uuid;

use super::*;
use crate::engine::intent::ButtonIntent;

fn flow(steps: Value) -> Flow {
    serde_json::from_value::<FlowDefinition>(json!({ "steps": steps }))
        .unwrap()
        .parse()
        .unwrap()
}

fn menu() -> Flow {
    flow(json!([
        { "id": "hello", "kind": "text", "body": "Hi!", "next": "menu" },
        { "id": "menu", "kind": "buttons", "body": "How can we help?",
          "buttons": [{ "id": "book", "title": "Book a visit" },
                      { "id": "hours", "title": "Opening hours" },
                      { "id": "human", "title": "Talk to us" }],
          "next": "route" },
        { "id": "route", "kind": "branch",
          "rules": [{ "button": "book", "to": "date" },
                    { "button": "hours", "to": "hours" },
                    { "button": "human", "to": "agent" },
                    { "keywords": ["person", "agent"], "to": "agent" }] },
        { "id": "hours", "kind": "text", "body": "9-17, Mon-Fri.", "next": "menu" },
        { "id": "date", "kind": "wait_reply", "body": "Which day suits you?", "next": "thanks" },
        { "id": "thanks", "kind": "text", "body": "Thanks, we'll confirm.", "next": "done" },
        { "id": "agent", "kind": "handover" },
        { "id": "done", "kind": "end" }
    ]))
}

fn text(body: &str) -> OutboundIntent {
    OutboundIntent::Text { body: body.into() }
}

fn menu_buttons() -> OutboundIntent {
    let button = |id: &str, title: &str| ButtonIntent {
        id: id.into(),
        title: title.into(),
    };
    OutboundIntent::Buttons {
        body: "How can we help?".into(),
        buttons: vec![
            button("book", "Book a visit"),
            button("hours", "Opening hours"),
            button("human", "Talk to us"),
        ],
    }
}

fn waiting(step: &str) -> Option<FlowPosition> {
    Some(FlowPosition::Waiting { step: step.into() })
}

fn at_menu(flow: &Flow, reply: Inbound) -> StepOutcome {
    advance(flow, waiting("menu").as_ref(), &reply)
}

#[test]
fn starting_walks_text_steps_until_the_buttons_wait() {
    let outcome = advance(&menu(), None, &Inbound::text("hello there"));
    assert_eq!(outcome.intents, vec![text("Hi!"), menu_buttons()]);
    assert_eq!(outcome.next, waiting("menu"));
}

#[test]
fn a_tapped_button_is_matched_by_id_and_the_menu_loops() {
    let outcome = at_menu(&menu(), Inbound::button("hours", "Opening hours"));
    assert_eq!(
        outcome.intents,
        vec![text("9-17, Mon-Fri."), menu_buttons()]
    );
    assert_eq!(outcome.next, waiting("menu"));
}

#[test]
fn a_number_or_a_title_counts_as_that_button() {
    let flow = menu();
    for reply in ["2", " 2) ", "2.", "opening HOURS", "  Opening hours "] {
        let outcome = at_menu(&flow, Inbound::text(reply));
        assert_eq!(outcome.intents[0], text("9-17, Mon-Fri."), "{reply:?}");
    }
    // The plain-text rendering and the numbers agree.
    let list = menu_buttons().as_plain_text().unwrap();
    assert!(list.ends_with("3) Talk to us"), "{list}");
    let outcome = at_menu(&flow, Inbound::text("3"));
    assert_eq!(outcome.intents, vec![OutboundIntent::Handover]);
}

#[test]
fn numbers_out_of_range_match_nothing() {
    let flow = menu();
    for reply in ["0", "4", "-1", "99999999999999999999999999", "1 2", ""] {
        let outcome = at_menu(&flow, Inbound::text(reply));
        assert_eq!(outcome.intents, vec![menu_buttons()], "{reply:?}");
        assert_eq!(outcome.next, waiting("menu"));
    }
}

#[test]
fn keywords_match_case_insensitively() {
    let outcome = at_menu(&menu(), Inbound::text("Can I talk to a PERSON?"));
    assert_eq!(outcome.intents, vec![OutboundIntent::Handover]);
    assert_eq!(outcome.next, Some(FlowPosition::HandedOver));
}

#[test]
fn no_match_and_no_default_asks_again() {
    let outcome = at_menu(&menu(), Inbound::text("what?"));
    assert_eq!(outcome.intents, vec![menu_buttons()]);
    assert_eq!(outcome.next, waiting("menu"));
}

#[test]
fn wait_reply_takes_any_answer_and_the_flow_ends() {
    let flow = menu();
    let asked = at_menu(&flow, Inbound::button("book", "Book a visit"));
    assert_eq!(asked.intents, vec![text("Which day suits you?")]);
    assert_eq!(asked.next, waiting("date"));
    let done = advance(&flow, asked.next.as_ref(), &Inbound::text("Tuesday"));
    assert_eq!(done.intents, vec![text("Thanks, we'll confirm.")]);
    assert_eq!(done.next, None);
}

#[test]
fn handed_over_is_silent() {
    let outcome = advance(
        &menu(),
        Some(&FlowPosition::HandedOver),
        &Inbound::text("hello?"),
    );
    assert!(outcome.intents.is_empty());
    assert_eq!(outcome.next, Some(FlowPosition::HandedOver));
}

#[test]
fn a_stale_position_starts_over() {
    let flow = menu();
    for stale in ["gone", "hello", "route"] {
        let outcome = advance(&flow, waiting(stale).as_ref(), &Inbound::text("hi"));
        assert_eq!(
            outcome.intents,
            vec![text("Hi!"), menu_buttons()],
            "{stale}"
        );
        assert_eq!(outcome.next, waiting("menu"));
    }
}

#[test]
fn a_button_of_an_earlier_menu_still_matches_its_rule() {
    let flow = flow(json!([
        { "id": "menu", "kind": "buttons", "body": "Pick",
          "buttons": [{ "id": "a", "title": "A" }], "next": "ask" },
        { "id": "ask", "kind": "wait_reply", "next": "route" },
        { "id": "route", "kind": "branch", "rules": [{ "button": "a", "to": "bye" }] },
        { "id": "bye", "kind": "text", "body": "Bye", "next": "end" },
        { "id": "end", "kind": "end" }
    ]));
    let outcome = advance(&flow, waiting("ask").as_ref(), &Inbound::button("a", "A"));
    assert_eq!(outcome.intents, vec![text("Bye")]);
    // Typed text is not a button of a wait_reply step; with no prompt, it waits silently.
    let outcome = advance(&flow, waiting("ask").as_ref(), &Inbound::text("1"));
    assert!(outcome.intents.is_empty());
    assert_eq!(outcome.next, waiting("ask"));
}

#[test]
fn a_first_branch_routes_the_starting_message() {
    let flow = flow(json!([
        { "id": "which", "kind": "branch",
          "rules": [{ "keywords": ["price", "prices"], "to": "prices" }], "default": "hello" },
        { "id": "prices", "kind": "text", "body": "From 10 EUR.", "next": "done" },
        { "id": "hello", "kind": "text", "body": "Hello!", "next": "done" },
        { "id": "done", "kind": "end" }
    ]));
    let prices = advance(&flow, None, &Inbound::text("Prices please"));
    assert_eq!(
        (prices.intents, prices.next),
        (vec![text("From 10 EUR.")], None)
    );
    let other = advance(&flow, None, &Inbound::text("hi"));
    assert_eq!(other.intents, vec![text("Hello!")]);
}

#[test]
fn a_wait_reply_loop_asks_until_it_gets_an_answer() {
    let flow = flow(json!([
        { "id": "ask", "kind": "wait_reply", "body": "Yes or no?", "next": "check" },
        { "id": "check", "kind": "branch",
          "rules": [{ "keywords": ["yes"], "to": "ok" }, { "keywords": ["no"], "to": "agent" }],
          "default": "again" },
        { "id": "again", "kind": "text", "body": "Sorry?", "next": "ask" },
        { "id": "ok", "kind": "end" },
        { "id": "agent", "kind": "handover" }
    ]));
    let start = advance(&flow, None, &Inbound::text("hi"));
    assert_eq!(start.intents, vec![text("Yes or no?")]);
    let again = advance(&flow, start.next.as_ref(), &Inbound::text("maybe"));
    assert_eq!(again.intents, vec![text("Sorry?"), text("Yes or no?")]);
    assert_eq!(again.next, waiting("ask"));
    let yes = advance(&flow, again.next.as_ref(), &Inbound::text("YES!"));
    assert_eq!((yes.intents.len(), yes.next), (0, None));
}

#[test]
fn positions_map_to_and_from_stored_states() {
    let flow_id = Uuid::from_u128(7);
    let state = |status, flow_id, step: Option<&str>| ConversationState {
        conversation_id: Uuid::from_u128(1),
        flow_id,
        step_key: step.map(str::to_owned),
        status,
        updated_at: chrono::Utc::now(),
    };
    let waiting_state = state(FlowStatus::WaitingReply, Some(flow_id), Some("menu"));
    assert_eq!(
        FlowPosition::from_state(&waiting_state, flow_id),
        waiting("menu")
    );
    // Another flow, a deleted flow, idle: not in this flow.
    assert_eq!(
        FlowPosition::from_state(&waiting_state, Uuid::from_u128(8)),
        None
    );
    let orphan = state(FlowStatus::WaitingReply, None, Some("menu"));
    assert_eq!(FlowPosition::from_state(&orphan, flow_id), None);
    let idle = state(FlowStatus::Idle, None, None);
    assert_eq!(FlowPosition::from_state(&idle, flow_id), None);
    let handed = state(FlowStatus::HandedOver, None, None);
    assert_eq!(
        FlowPosition::from_state(&handed, flow_id),
        Some(FlowPosition::HandedOver)
    );

    let at_menu = waiting("menu");
    let stored = FlowPosition::to_state(at_menu.as_ref(), flow_id);
    assert_eq!(
        (stored.status, stored.flow_id, stored.step_key),
        (FlowStatus::WaitingReply, Some(flow_id), Some("menu"))
    );
    assert_eq!(
        FlowPosition::to_state(None, flow_id).status,
        FlowStatus::Idle
    );
    assert_eq!(
        FlowPosition::to_state(Some(&FlowPosition::HandedOver), flow_id).status,
        FlowStatus::HandedOver
    );
}
