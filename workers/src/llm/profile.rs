//! The tenant's business profile (its `metadata` object: name, hours, address, services…)
//! written out as readable text for the system instruction.
//!
//! The profile is free-form JSON edited by the tenant's admins, so it is rendered generically:
//! each key becomes a label (`opening_hours` → `Opening hours`), nested objects become indented
//! lists, lists of plain values are joined with commas. Empty values (null, `""`, `[]`, `{}`)
//! are left out. Keys come in alphabetical order (how `serde_json` keeps them), so the same
//! profile always gives the same text — and the same request body.

use serde_json::{Map, Value};

/// The tenant's metadata object, as stored.
pub type BusinessProfile = Value;

/// The profile as indented `- Label: value` lines, or `None` when it says nothing.
pub fn render_profile(profile: &Value) -> Option<String> {
    let mut out = String::new();
    match profile {
        Value::Object(fields) => push_fields(&mut out, 0, fields),
        Value::Array(_) => push_children(&mut out, 0, profile),
        other => {
            if let Some(text) = scalar(other) {
                out.push_str(&text);
            }
        }
    }
    let out = out.trim_end().to_owned();
    (!out.is_empty()).then_some(out)
}

/// `opening_hours` → `Opening hours`.
fn label(key: &str) -> String {
    let spaced = key.replace('_', " ");
    let mut chars = spaced.trim().chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A plain value as text; `None` for objects, arrays and empty values.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.iter().all(is_empty),
        Value::Object(fields) => fields.values().all(is_empty),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn indent(depth: usize) -> String {
    "  ".repeat(depth)
}

/// A multi-line text continues under its line's indentation.
fn continued(text: &str, depth: usize) -> String {
    text.replace('\n', &format!("\n{}  ", indent(depth)))
}

fn push_fields(out: &mut String, depth: usize, fields: &Map<String, Value>) {
    for (key, value) in fields {
        push_entry(out, depth, &label(key), value);
    }
}

/// `- Label: value`, or `- Label:` followed by the value's own indented lines.
fn push_entry(out: &mut String, depth: usize, label: &str, value: &Value) {
    if is_empty(value) {
        return;
    }
    let pad = indent(depth);
    if let Some(text) = scalar(value) {
        out.push_str(&format!("{pad}- {label}: {}\n", continued(&text, depth)));
        return;
    }
    if let Value::Array(items) = value {
        let plain: Option<Vec<String>> = items
            .iter()
            .filter(|item| !is_empty(item))
            .map(scalar)
            .collect();
        if let Some(plain) = plain {
            out.push_str(&format!("{pad}- {label}: {}\n", plain.join(", ")));
            return;
        }
    }
    out.push_str(&format!("{pad}- {label}:\n"));
    push_children(out, depth + 1, value);
}

/// The lines of an object's fields or of a list's items.
fn push_children(out: &mut String, depth: usize, value: &Value) {
    match value {
        Value::Object(fields) => push_fields(out, depth, fields),
        Value::Array(items) => {
            let pad = indent(depth);
            for item in items.iter().filter(|item| !is_empty(item)) {
                if let Some(text) = scalar(item) {
                    out.push_str(&format!("{pad}- {}\n", continued(&text, depth)));
                } else if let Some(line) = flat_object(item) {
                    out.push_str(&format!("{pad}- {line}\n"));
                } else {
                    out.push_str(&format!("{pad}-\n"));
                    push_children(out, depth + 1, item);
                }
            }
        }
        _ => {}
    }
}

/// An object of plain values on one line: `Day: Monday; Hours: 9-5`.
fn flat_object(value: &Value) -> Option<String> {
    let Value::Object(fields) = value else {
        return None;
    };
    let parts: Option<Vec<String>> = fields
        .iter()
        .filter(|(_, v)| !is_empty(v))
        .map(|(k, v)| scalar(v).map(|text| format!("{}: {text}", label(k))))
        .collect();
    parts.filter(|p| !p.is_empty()).map(|p| p.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_nested_fields_as_an_indented_list() {
        let profile = json!({
            "name": "Fake Bakery",
            "opening_hours": {"mon_sat": "9am-2pm", "sun": "closed"},
            "services": ["cakes", "bread"],
            "address": null,
            "delivery": false,
            "staff": [{"name": "Ana", "role": "baker"}, {"name": "Bo"}],
            "notes": "Cash only.\nNo dogs.",
            "tags": [],
        });
        assert_eq!(
            render_profile(&profile).unwrap(),
            "- Delivery: no\n\
             - Name: Fake Bakery\n\
             - Notes: Cash only.\n  No dogs.\n\
             - Opening hours:\n  - Mon sat: 9am-2pm\n  - Sun: closed\n\
             - Services: cakes, bread\n\
             - Staff:\n  - Name: Ana; Role: baker\n  - Name: Bo"
        );
    }

    #[test]
    fn deeper_lists_nest_further() {
        let profile = json!({"locations": [{"city": "Lyon", "hours": {"mon": "9-5"}}]});
        assert_eq!(
            render_profile(&profile).unwrap(),
            "- Locations:\n  -\n    - City: Lyon\n    - Hours:\n      - Mon: 9-5"
        );
    }

    #[test]
    fn an_empty_profile_says_nothing() {
        assert_eq!(render_profile(&json!({})), None);
        assert_eq!(render_profile(&Value::Null), None);
        assert_eq!(render_profile(&json!({"name": " ", "tags": [null]})), None);
        assert_eq!(
            render_profile(&json!("A family bakery.")).as_deref(),
            Some("A family bakery.")
        );
    }
}
