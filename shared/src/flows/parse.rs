//! Parsing one step on its own: its id, its kind, and the fields its kind takes. Whether the
//! steps it names exist is the whole flow's business ([`super::flow`]).

use std::collections::HashSet;

use super::definition::{ButtonDefinition, RuleDefinition, StepDefinition};
use super::error::FlowError;
use super::keyword::Keyword;
use super::step::{
    Action, Button, Condition, MAX_BUTTON_TITLE_CHARS, MAX_BUTTONS, MAX_BUTTONS_BODY_CHARS,
    MAX_KEYWORDS, MAX_RULES, MAX_TEXT_CHARS, Rule, Step, StepId, StepKind, is_id,
};

const ID_RULE: &str = "must be 1-64 of A-Z, a-z, 0-9, '_' and '-'";

/// Reports problems with the fields of one step.
struct StepFields<'a> {
    index: usize,
    step: &'a str,
}

impl StepFields<'_> {
    fn error(&self, field: impl Into<String>, reason: impl Into<String>) -> FlowError {
        FlowError::InvalidField {
            index: self.index,
            step: self.step.to_owned(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn required<'v, T>(&self, field: &str, value: &'v Option<T>) -> Result<&'v T, FlowError> {
        value
            .as_ref()
            .ok_or_else(|| self.error(field, "is required"))
    }

    fn text(&self, field: &str, raw: &str, max: usize) -> Result<String, FlowError> {
        message_text(raw, max).map_err(|reason| self.error(field, reason))
    }

    fn reference(&self, field: &str, raw: &str) -> Result<StepId, FlowError> {
        StepId::parse(raw).ok_or_else(|| self.error(field, format!("{ID_RULE} (a step id)")))
    }
}

/// Text a customer will read: at most `max` characters, not blank, kept trimmed; no control characters but line
/// breaks and tabs.
pub(crate) fn message_text(raw: &str, max: usize) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() || raw.chars().count() > max {
        return Err(format!("must be 1-{max} characters"));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err("must not contain control characters".into());
    }
    Ok(text.to_owned())
}

/// One step, its references checked for shape only.
pub(super) fn step(index: usize, definition: &StepDefinition) -> Result<Step, FlowError> {
    let id = StepId::parse(&definition.id).ok_or(FlowError::InvalidId { index })?;
    let fields = StepFields {
        index,
        step: id.as_str(),
    };
    let kind = StepKind::parse(&definition.kind).ok_or_else(|| {
        fields.error(
            "kind",
            "must be one of text, buttons, wait_reply, branch, handover, end",
        )
    })?;
    refuse_unused(&fields, kind, definition)?;
    let next = || {
        fields
            .required("next", &definition.next)
            .and_then(|n| fields.reference("next", n))
    };
    let action = match kind {
        StepKind::Text => Action::Text {
            body: fields.text(
                "body",
                fields.required("body", &definition.body)?,
                MAX_TEXT_CHARS,
            )?,
            next: next()?,
        },
        StepKind::Buttons => Action::Buttons {
            body: fields.text(
                "body",
                fields.required("body", &definition.body)?,
                MAX_BUTTONS_BODY_CHARS,
            )?,
            buttons: buttons(&fields, fields.required("buttons", &definition.buttons)?)?,
            next: next()?,
        },
        StepKind::WaitReply => Action::WaitReply {
            prompt: definition
                .body
                .as_deref()
                .map(|b| fields.text("body", b, MAX_TEXT_CHARS))
                .transpose()?,
            next: next()?,
        },
        StepKind::Branch => Action::Branch {
            rules: rules(&fields, fields.required("rules", &definition.rules)?)?,
            default: definition
                .default
                .as_deref()
                .map(|d| fields.reference("default", d))
                .transpose()?,
        },
        StepKind::Handover => Action::Handover,
        StepKind::End => Action::End,
    };
    Ok(Step { id, action })
}

/// A field that the step's kind does not use is a mistake, not something to ignore.
fn refuse_unused(
    fields: &StepFields<'_>,
    kind: StepKind,
    definition: &StepDefinition,
) -> Result<(), FlowError> {
    let used: &[&str] = match kind {
        StepKind::Text | StepKind::WaitReply => &["body", "next"],
        StepKind::Buttons => &["body", "buttons", "next"],
        StepKind::Branch => &["rules", "default"],
        StepKind::Handover | StepKind::End => &[],
    };
    let present = [
        ("body", definition.body.is_some()),
        ("buttons", definition.buttons.is_some()),
        ("rules", definition.rules.is_some()),
        ("default", definition.default.is_some()),
        ("next", definition.next.is_some()),
    ];
    match present
        .into_iter()
        .find(|(name, there)| *there && !used.contains(name))
    {
        Some((name, _)) => Err(fields.error(
            name,
            format!("is not used by {} steps; leave it out", kind.as_str()),
        )),
        None => Ok(()),
    }
}

fn buttons(
    fields: &StepFields<'_>,
    definitions: &[ButtonDefinition],
) -> Result<Vec<Button>, FlowError> {
    if definitions.is_empty() || definitions.len() > MAX_BUTTONS {
        return Err(fields.error(
            "buttons",
            format!("must hold 1-{MAX_BUTTONS} buttons (WhatsApp's limit)"),
        ));
    }
    let mut buttons: Vec<Button> = Vec::with_capacity(definitions.len());
    for (i, button) in definitions.iter().enumerate() {
        if !is_id(&button.id) {
            return Err(fields.error(format!("buttons[{i}].id"), ID_RULE));
        }
        let title = message_text(&button.title, MAX_BUTTON_TITLE_CHARS)
            .map_err(|reason| fields.error(format!("buttons[{i}].title"), reason))?;
        if buttons.iter().any(|b| b.id == button.id) {
            return Err(fields.error(
                format!("buttons[{i}].id"),
                format!("repeats button id '{}'", button.id),
            ));
        }
        if buttons
            .iter()
            .any(|b| b.title.to_lowercase() == title.to_lowercase())
        {
            return Err(fields.error(
                format!("buttons[{i}].title"),
                format!("repeats the title '{title}'"),
            ));
        }
        buttons.push(Button {
            id: button.id.clone(),
            title,
        });
    }
    Ok(buttons)
}

fn rules(fields: &StepFields<'_>, definitions: &[RuleDefinition]) -> Result<Vec<Rule>, FlowError> {
    if definitions.is_empty() || definitions.len() > MAX_RULES {
        return Err(fields.error("rules", format!("must hold 1-{MAX_RULES} rules")));
    }
    definitions
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let when = match (&rule.button, &rule.keywords) {
                (Some(button), None) => {
                    if !is_id(button) {
                        return Err(fields.error(format!("rules[{i}].button"), ID_RULE));
                    }
                    Condition::Button(button.clone())
                }
                (None, Some(keywords)) => Condition::Keywords(rule_keywords(fields, i, keywords)?),
                _ => {
                    return Err(fields.error(
                        format!("rules[{i}]"),
                        "needs exactly one of button and keywords",
                    ));
                }
            };
            let to = fields.reference(&format!("rules[{i}].to"), &rule.to)?;
            Ok(Rule { when, to })
        })
        .collect()
}

fn rule_keywords(
    fields: &StepFields<'_>,
    rule: usize,
    raw: &[String],
) -> Result<Vec<Keyword>, FlowError> {
    if raw.is_empty() || raw.len() > MAX_KEYWORDS {
        return Err(fields.error(
            format!("rules[{rule}].keywords"),
            format!("must hold 1-{MAX_KEYWORDS} keywords"),
        ));
    }
    let mut seen = HashSet::new();
    raw.iter()
        .enumerate()
        .map(|(k, text)| {
            let field = || format!("rules[{rule}].keywords[{k}]");
            let keyword = Keyword::parse(text).map_err(|reason| fields.error(field(), reason))?;
            if !seen.insert(keyword.as_str().to_lowercase()) {
                return Err(fields.error(field(), format!("repeats '{keyword}'")));
            }
            Ok(keyword)
        })
        .collect()
}
