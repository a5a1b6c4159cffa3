//! The exact bodies [`build_request`] produces.

use serde_json::json;

use super::*;

const FIXTURE_REQUEST: &str =
    include_str!("../../../../tests/fixtures/gemini/generate_request.json");

fn section(key: &str, content: &str) -> PromptSection {
    PromptSection {
        key: key.into(),
        content: content.into(),
    }
}

fn customer(text: &str) -> Turn {
    Turn {
        role: Role::Customer,
        text: text.into(),
    }
}

fn business(text: &str) -> Turn {
    Turn {
        role: Role::Business,
        text: text.into(),
    }
}

fn body(request: &GenerateContentRequest) -> Value {
    serde_json::to_value(request).unwrap()
}

/// The texts of the contents, with their roles.
fn texts(request: &GenerateContentRequest) -> Vec<(ContentRole, String)> {
    request
        .contents
        .iter()
        .map(|c| (c.role.unwrap(), c.parts[0].text.clone()))
        .collect()
}

#[test]
fn the_whole_body_is_exactly_what_gemini_expects() {
    let sections = [
        section("persona", "You are the front desk of a bakery.\n"),
        section("empty", "   "),
        section("rules", "Answer briefly and politely."),
    ];
    let profile = json!({
        "name": "Fake Bakery",
        "opening_hours": {"mon_sat": "9am-2pm"},
        "phone": null,
    });
    let history = [
        customer("Hi, are you open on Saturday?"),
        business("Yes! We are open Saturday 9am-2pm."),
        customer("Great."),
        customer("  Can I pre-order a cake? "),
    ];
    let settings = GenerationSettings {
        temperature: Some(0.4),
        max_output_tokens: Some(512),
        thinking_budget: Some(0),
        history: HistoryLimits::default(),
    };
    let request = build_request(&sections, &profile, &history, &settings);
    assert_eq!(
        body(&request),
        json!({
            "systemInstruction": {"parts": [{"text":
                "## persona\nYou are the front desk of a bakery.\n\n\
                 ## rules\nAnswer briefly and politely.\n\n\
                 ## Business profile\n- Name: Fake Bakery\n- Opening hours:\n  - Mon sat: 9am-2pm"
            }]},
            "contents": [
                {"role": "user", "parts": [{"text": "Hi, are you open on Saturday?"}]},
                {"role": "model", "parts": [{"text": "Yes! We are open Saturday 9am-2pm."}]},
                {"role": "user", "parts": [{"text": "Great.\n\nCan I pre-order a cake?"}]},
            ],
            "generationConfig": {
                "temperature": 0.4,
                "maxOutputTokens": 512,
                "thinkingConfig": {"thinkingBudget": 0},
            },
        })
    );
    // Fields in the documented order: systemInstruction, contents, generationConfig.
    let text = serde_json::to_string(&request).unwrap();
    let at = |key: &str| text.find(key).unwrap();
    assert!(at("\"systemInstruction\"") < at("\"contents\""));
    assert!(at("\"contents\"") < at("\"generationConfig\""));
}

#[test]
fn unset_settings_and_an_empty_prompt_are_left_out() {
    let request = build_request(
        &[section("persona", "")],
        &json!({}),
        &[customer("hello")],
        &GenerationSettings::default(),
    );
    assert_eq!(
        body(&request),
        json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]})
    );
    let only_temperature = GenerationSettings {
        temperature: Some(1.0),
        ..GenerationSettings::default()
    };
    let request = build_request(&[], &Value::Null, &[customer("hi")], &only_temperature);
    assert_eq!(
        body(&request)["generationConfig"],
        json!({"temperature": 1.0})
    );
}

#[test]
fn the_fixture_conversation_is_built_the_same_way() {
    let fixture: GenerateContentRequest = serde_json::from_str(FIXTURE_REQUEST).unwrap();
    let history = [
        customer("Hi, are you open on Saturday?"),
        business("Yes! We are open Saturday 9am-2pm."),
        customer("Great, can I pre-order a cake?"),
    ];
    let request = build_request(&[], &Value::Null, &history, &GenerationSettings::default());
    assert_eq!(request.contents, fixture.contents);
    let settings = fixture.generation_config.unwrap();
    assert_eq!(settings.temperature, Some(0.4));
    assert_eq!(settings.max_output_tokens, Some(512));
    assert_eq!(
        settings.thinking_config,
        Some(ThinkingConfig { thinking_budget: 0 })
    );
}

#[test]
fn blank_turns_are_dropped_and_same_side_turns_merged() {
    let history = [
        business("Welcome to Fake Bakery!"),
        business("   "),
        business("How can we help?"),
        customer(""),
        customer("Cake?"),
    ];
    let request = build_request(&[], &Value::Null, &history, &GenerationSettings::default());
    assert_eq!(
        texts(&request),
        [
            (
                ContentRole::Model,
                "Welcome to Fake Bakery!\n\nHow can we help?".to_owned()
            ),
            (ContentRole::User, "Cake?".to_owned()),
        ]
    );
}

fn limited(max_turns: usize, max_chars: usize) -> GenerationSettings {
    GenerationSettings {
        history: HistoryLimits {
            max_turns,
            max_chars,
        },
        ..GenerationSettings::default()
    }
}

fn alternating(n: usize) -> Vec<Turn> {
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                customer(&format!("c{i}"))
            } else {
                business(&format!("b{i}"))
            }
        })
        .collect()
}

fn owned(expected: &[(ContentRole, &str)]) -> Vec<(ContentRole, String)> {
    expected
        .iter()
        .map(|(r, t)| (*r, (*t).to_owned()))
        .collect()
}

#[test]
fn only_the_last_turns_are_sent() {
    let request = build_request(&[], &Value::Null, &alternating(9), &limited(3, 1000));
    assert_eq!(
        texts(&request),
        owned(&[
            (ContentRole::User, "c6"),
            (ContentRole::Model, "b7"),
            (ContentRole::User, "c8"),
        ])
    );
    // Ending on the business's side: its turns after the customer's latest one stay.
    let request = build_request(&[], &Value::Null, &alternating(10), &limited(3, 1000));
    assert_eq!(
        texts(&request),
        owned(&[
            (ContentRole::Model, "b7"),
            (ContentRole::User, "c8"),
            (ContentRole::Model, "b9"),
        ])
    );
}

#[test]
fn the_character_budget_keeps_the_newest_turns_that_fit() {
    let history = [customer("0123456789"), business("01234"), customer("0123")];
    // 4 + 5 fit in 10; the 10 before them do not.
    let request = build_request(&[], &Value::Null, &history, &limited(100, 10));
    assert_eq!(
        texts(&request),
        owned(&[(ContentRole::Model, "01234"), (ContentRole::User, "0123")])
    );
}

#[test]
fn the_latest_customer_turn_is_sent_even_over_every_limit() {
    let history = [
        business("Hello!"),
        customer("a long question that is over the budget"),
        business("one moment"),
    ];
    let request = build_request(&[], &Value::Null, &history, &limited(1, 5));
    assert_eq!(
        texts(&request),
        owned(&[
            (ContentRole::User, "a long question that is over the budget"),
            (ContentRole::Model, "one moment"),
        ])
    );
    let request = build_request(&[], &Value::Null, &history, &limited(0, 0));
    assert_eq!(request.contents.len(), 2);
    // Without a customer turn, the limits alone decide.
    let request = build_request(&[], &Value::Null, &[business("hi")], &limited(0, 0));
    assert!(request.contents.is_empty());
}
