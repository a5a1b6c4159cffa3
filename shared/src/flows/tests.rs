//! Flow definitions accepted and refused, one rule at a time.

use serde_json::{Value, json};

use super::*;

fn definition(steps: Value) -> FlowDefinition {
    serde_json::from_value(json!({ "steps": steps })).unwrap()
}

fn parse(steps: Value) -> Result<Flow, FlowError> {
    definition(steps).parse()
}

fn refused(steps: Value) -> FlowError {
    parse(steps).unwrap_err()
}

/// A welcome menu: buttons, a branch on them, and a loop back to the menu.
fn menu() -> Value {
    json!([
        { "id": "hello", "kind": "text", "body": "Hi! ", "next": "menu" },
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
    ])
}

#[test]
fn a_menu_with_buttons_a_branch_and_a_loop_is_accepted() {
    let flow = parse(menu()).unwrap();
    assert_eq!(flow.entry().id().as_str(), "hello");
    assert_eq!(flow.steps().len(), 8);
    let Action::Buttons { buttons, next, .. } = flow.step("menu").unwrap().action() else {
        panic!("menu is a buttons step");
    };
    assert_eq!((buttons.len(), next.as_str()), (3, "route"));
    assert_eq!(buttons[1].title(), "Opening hours");
    // Texts are kept trimmed, and the definition round-trips.
    assert_eq!(flow.definition().steps[0].body.as_deref(), Some("Hi!"));
    assert_eq!(flow.definition().parse().unwrap(), flow);
}

#[test]
fn stored_steps_round_trip() {
    let flow = parse(menu()).unwrap();
    let stored: Vec<StepDefinition> = flow
        .definition()
        .steps
        .into_iter()
        .map(|s| {
            StepDefinition::from_stored(s.id.clone(), s.kind.clone(), s.config(), s.next.clone())
                .unwrap()
        })
        .collect();
    assert_eq!(FlowDefinition { steps: stored }.parse().unwrap(), flow);
}

#[test]
fn a_dangling_reference_names_the_step_and_field() {
    let mut steps = menu();
    steps[3]["next"] = json!("menuu");
    let error = refused(steps);
    assert_eq!(error.path(), "steps[3].next");
    assert_eq!(error.step(), Some("hours"));
    assert!(error.to_string().contains("'menuu'"), "{error}");

    let mut steps = menu();
    steps[2]["rules"][1]["to"] = json!("nowhere");
    assert_eq!(refused(steps).path(), "steps[2].rules[1].to");
}

#[test]
fn a_rule_on_a_button_nobody_offers_is_refused() {
    let mut steps = menu();
    steps[2]["rules"][0]["button"] = json!("bok");
    let error = refused(steps);
    assert!(matches!(error, FlowError::UnknownButton { ref button, .. } if button == "bok"));
    assert_eq!(error.path(), "steps[2].rules[0].button");
}

#[test]
fn a_cycle_without_a_wait_is_refused_and_named() {
    let error = refused(json!([
        { "id": "a", "kind": "text", "body": "a", "next": "b" },
        { "id": "b", "kind": "branch", "rules": [{ "keywords": ["x"], "to": "c" }],
          "default": "a" },
        { "id": "c", "kind": "text", "body": "c", "next": "b" }
    ]));
    let FlowError::Cycle { cycle, index } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(cycle, &["b", "c", "b"]);
    assert_eq!(*index, 1);
    assert_eq!(error.step(), Some("b"));
    assert!(error.to_string().contains("b -> c -> b"), "{error}");

    // A text step pointing at itself.
    assert!(matches!(
        refused(json!([{ "id": "loop", "kind": "text", "body": "again", "next": "loop" }])),
        FlowError::Cycle { .. }
    ));
}

#[test]
fn a_loop_through_a_waiting_step_is_a_menu() {
    parse(json!([
        { "id": "ask", "kind": "wait_reply", "next": "check" },
        { "id": "check", "kind": "branch", "rules": [{ "keywords": ["yes"], "to": "bye" }],
          "default": "again" },
        { "id": "again", "kind": "text", "body": "Please say yes.", "next": "ask" },
        { "id": "bye", "kind": "end" }
    ]))
    .unwrap();
}

#[test]
fn every_step_must_be_reachable_from_the_first() {
    let mut steps = menu();
    steps
        .as_array_mut()
        .unwrap()
        .push(json!({ "id": "orphan", "kind": "end" }));
    let error = refused(steps);
    assert!(
        matches!(error, FlowError::Unreachable { index: 8, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("'orphan'") && error.to_string().contains("'hello'"));
}

#[test]
fn a_branch_before_any_wait_needs_a_default() {
    let steps = json!([
        { "id": "which", "kind": "branch", "rules": [{ "keywords": ["price"], "to": "prices" }] },
        { "id": "prices", "kind": "text", "body": "From 10 EUR.", "next": "done" },
        { "id": "done", "kind": "end" }
    ]);
    assert!(matches!(
        refused(steps.clone()),
        FlowError::NoDefault { index: 0, .. }
    ));
    let mut with_default = steps;
    with_default[0]["default"] = json!("done");
    parse(with_default).unwrap();
}

#[test]
fn ids_must_be_valid_and_unique() {
    let mut steps = menu();
    steps[1]["id"] = json!("has space");
    assert_eq!(refused(steps).path(), "steps[1].id");
    let mut steps = menu();
    steps[6]["id"] = json!("hours");
    let error = refused(steps);
    assert!(
        matches!(error, FlowError::DuplicateId { index: 6, .. }),
        "{error:?}"
    );
    for bad in ["", "x".repeat(65).as_str(), "ünï", "a/b"] {
        let error = refused(json!([{ "id": bad, "kind": "end" }]));
        assert_eq!(error, FlowError::InvalidId { index: 0 }, "{bad}");
    }
}

#[test]
fn step_count_is_bounded() {
    assert!(matches!(refused(json!([])), FlowError::StepCount { .. }));
    let many: Vec<Value> = (0..101)
        .map(|i| json!({ "id": format!("s{i}"), "kind": "text", "body": "x", "next": format!("s{}", i + 1) }))
        .collect();
    assert!(matches!(
        refused(Value::Array(many)),
        FlowError::StepCount { .. }
    ));
}

#[test]
fn button_limits_follow_whatsapp() {
    let buttons = |buttons: Value| {
        refused(json!([
            { "id": "m", "kind": "buttons", "body": "?", "buttons": buttons, "next": "e" },
            { "id": "e", "kind": "end" }
        ]))
    };
    let four: Vec<Value> = (0..4)
        .map(|i| json!({ "id": format!("b{i}"), "title": format!("B{i}") }))
        .collect();
    assert_eq!(buttons(Value::Array(four)).path(), "steps[0].buttons");
    assert_eq!(buttons(json!([])).path(), "steps[0].buttons");
    let long = buttons(json!([{ "id": "a", "title": "x".repeat(21) }]));
    assert_eq!(long.path(), "steps[0].buttons[0].title");
    assert!(long.to_string().contains("1-20"), "{long}");
    assert_eq!(
        buttons(json!([{ "id": "a", "title": "  " }])).path(),
        "steps[0].buttons[0].title"
    );
    assert_eq!(
        buttons(json!([{ "id": "a", "title": "Yes" }, { "id": "a", "title": "No" }])).path(),
        "steps[0].buttons[1].id"
    );
    assert_eq!(
        buttons(json!([{ "id": "a", "title": "Yes" }, { "id": "b", "title": "YES" }])).path(),
        "steps[0].buttons[1].title"
    );
    assert_eq!(
        buttons(json!([{ "id": "a b", "title": "Yes" }])).path(),
        "steps[0].buttons[0].id"
    );
    // Twenty characters are fine, counted as characters, not bytes.
    parse(json!([
        { "id": "m", "kind": "buttons", "body": "?",
          "buttons": [{ "id": "a", "title": "é".repeat(20) }], "next": "e" },
        { "id": "e", "kind": "end" }
    ]))
    .unwrap();
}

#[test]
fn fields_must_fit_the_kind() {
    let one = |step: Value| refused(json!([step, { "id": "e", "kind": "end" }]));
    let error = one(json!({ "id": "t", "kind": "text", "body": "hi", "next": "e", "buttons": [] }));
    assert_eq!(error.path(), "steps[0].buttons");
    assert!(
        error.to_string().contains("not used by text steps"),
        "{error}"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "text", "next": "e" })).path(),
        "steps[0].body"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "text", "body": "hi" })).path(),
        "steps[0].next"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "text", "body": " \n ", "next": "e" })).path(),
        "steps[0].body"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "text", "body": "x".repeat(4097), "next": "e" })).path(),
        "steps[0].body"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "text", "body": "a\u{7}b", "next": "e" })).path(),
        "steps[0].body"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "teleport" })).path(),
        "steps[0].kind"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "end", "next": "e" })).path(),
        "steps[0].next"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "branch", "rules": [], "default": "e" })).path(),
        "steps[0].rules"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "branch", "default": "e",
                    "rules": [{ "button": "x", "keywords": ["y"], "to": "e" }] }))
        .path(),
        "steps[0].rules[0]"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "branch", "default": "e",
                    "rules": [{ "keywords": ["y", "Y"], "to": "e" }] }))
        .path(),
        "steps[0].rules[0].keywords[1]"
    );
    assert_eq!(
        one(json!({ "id": "t", "kind": "wait_reply", "next": "no such id!" })).path(),
        "steps[0].next"
    );
    // A body over 1024 characters is a text message, not a buttons body.
    let long = "x".repeat(1025);
    parse(json!([{ "id": "t", "kind": "text", "body": long, "next": "e" }, { "id": "e", "kind": "end" }]))
        .unwrap();
    assert_eq!(
        one(json!({ "id": "t", "kind": "buttons", "body": long,
                    "buttons": [{ "id": "a", "title": "A" }], "next": "e" }))
        .path(),
        "steps[0].body"
    );
}

#[test]
fn unknown_json_fields_do_not_deserialize() {
    let parsed: Result<FlowDefinition, _> =
        serde_json::from_value(json!({ "steps": [{ "id": "e", "kind": "end", "colour": "red" }] }));
    assert!(parsed.is_err());
}
