//! The checks the fake Gemini makes on a `generateContent` body before answering, with
//! Google's wording where it is known: a body Gemini would refuse is refused here, with a
//! reason, so a wrong request shows up in a local run rather than in production.
//!
//! Field names are accepted in lowerCamelCase and in snake_case, as Google's JSON parser does.
//! Only text parts are understood; other part kinds (`inlineData`, `fileData`, …) are
//! accepted as present but not read.

use serde_json::{Map, Value};

const TOP_LEVEL: [(&str, &str); 7] = [
    ("contents", "contents"),
    ("systemInstruction", "system_instruction"),
    ("generationConfig", "generation_config"),
    ("safetySettings", "safety_settings"),
    ("tools", "tools"),
    ("toolConfig", "tool_config"),
    ("cachedContent", "cached_content"),
];

const PART_DATA: [(&str, &str); 6] = [
    ("text", "text"),
    ("inlineData", "inline_data"),
    ("fileData", "file_data"),
    ("functionCall", "function_call"),
    ("functionResponse", "function_response"),
    ("executableCode", "executable_code"),
];

/// A field by its camelCase or snake_case name.
fn field<'a>(object: &'a Map<String, Value>, (camel, snake): (&str, &str)) -> Option<&'a Value> {
    object.get(camel).or_else(|| object.get(snake))
}

/// `Ok` when Gemini would accept `body`; otherwise the `INVALID_ARGUMENT` message.
pub fn check_request(body: &Value) -> Result<(), String> {
    let Value::Object(request) = body else {
        return Err("Invalid JSON payload received. Expected an object.".into());
    };
    if let Some(unknown) = request
        .keys()
        .find(|k| !TOP_LEVEL.iter().any(|(c, s)| k == c || k == s))
    {
        return Err(format!(
            "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
        ));
    }
    let contents = match field(request, TOP_LEVEL[0]) {
        Some(Value::Array(contents)) if !contents.is_empty() => contents,
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            return Err("* GenerateContentRequest.contents: contents is not specified".into());
        }
        Some(_) => {
            return Err(
                "Invalid JSON payload received. Invalid value at 'contents': expected a list."
                    .into(),
            );
        }
    };
    for (i, content) in contents.iter().enumerate() {
        check_content(content, &format!("contents[{i}]"), true)?;
    }
    if let Some(instruction) = field(request, TOP_LEVEL[1]).filter(|v| !v.is_null()) {
        check_content(instruction, "system_instruction", false)?;
    }
    if let Some(config) = field(request, TOP_LEVEL[2]).filter(|v| !v.is_null()) {
        check_generation_config(config)?;
    }
    Ok(())
}

fn check_content(content: &Value, at: &str, role_matters: bool) -> Result<(), String> {
    let Value::Object(content) = content else {
        return Err(format!(
            "Invalid JSON payload received. Invalid value at '{at}': expected an object."
        ));
    };
    if role_matters {
        match content.get("role") {
            None | Some(Value::Null) => {}
            Some(Value::String(role)) if role == "user" || role == "model" => {}
            Some(role) => {
                return Err(format!(
                    "* GenerateContentRequest.{at}.role: Please use a valid role: user, model. (got {role})"
                ));
            }
        }
    }
    let parts = match content.get("parts") {
        Some(Value::Array(parts)) if !parts.is_empty() => parts,
        _ => {
            return Err(format!(
                "* GenerateContentRequest.{at}.parts: contents.parts must not be empty."
            ));
        }
    };
    for (i, part) in parts.iter().enumerate() {
        let part_at = format!("{at}.parts[{i}]");
        let Value::Object(part) = part else {
            return Err(format!(
                "Invalid JSON payload received. Invalid value at '{part_at}': expected an object."
            ));
        };
        if !PART_DATA.iter().any(|f| field(part, *f).is_some()) {
            return Err(format!(
                "* GenerateContentRequest.{part_at}.data: required oneof field 'data' must have one initialized field"
            ));
        }
        if part.get("text").is_some_and(|text| !text.is_string()) {
            return Err(format!(
                "Invalid JSON payload received. Invalid value at '{part_at}.text': expected a string."
            ));
        }
    }
    Ok(())
}

fn check_generation_config(config: &Value) -> Result<(), String> {
    let Value::Object(config) = config else {
        return Err(
            "Invalid JSON payload received. Invalid value at 'generation_config': expected an object."
                .into(),
        );
    };
    let set = |names| field(config, names).filter(|v| !v.is_null());
    if let Some(t) = set(("temperature", "temperature"))
        && !t.as_f64().is_some_and(|t| (0.0..=2.0).contains(&t))
    {
        return Err(format!(
            "* GenerateContentRequest.generation_config.temperature: temperature must be between 0 and 2 (got {t})"
        ));
    }
    if let Some(m) = set(("maxOutputTokens", "max_output_tokens"))
        && m.as_u64().is_none_or(|m| m == 0)
    {
        return Err(format!(
            "* GenerateContentRequest.generation_config.max_output_tokens: max_output_tokens must be positive (got {m})"
        ));
    }
    Ok(())
}

/// The texts of `content`'s text parts, joined.
pub fn content_text(content: &Value) -> String {
    content
        .get("parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect()
}

/// `maxOutputTokens`, when set.
pub fn max_output_tokens(body: &Value) -> Option<u64> {
    let config = body.as_object().and_then(|b| field(b, TOP_LEVEL[2]))?;
    field(
        config.as_object()?,
        ("maxOutputTokens", "max_output_tokens"),
    )?
    .as_u64()
}

/// The system instruction, when there is one.
pub fn system_instruction(body: &Value) -> Option<&Value> {
    field(body.as_object()?, TOP_LEVEL[1]).filter(|v| !v.is_null())
}

/// The contents, oldest first.
pub fn contents(body: &Value) -> &[Value] {
    body.as_object()
        .and_then(|b| field(b, TOP_LEVEL[0]))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}
