//! Tables for people: columns picked out of the API's JSON answers.

use std::io::Write;

use serde_json::Value;

/// A column: its header and where its value is in a row (a JSON pointer).
pub type Column = (&'static str, &'static str);

pub const DEAD_LETTERS: [Column; 9] = [
    ("ID", "/id"),
    ("TENANT", "/tenant_id"),
    ("CHANNEL", "/channel"),
    ("KIND", "/kind"),
    ("CLASS", "/error_class"),
    ("STATUS", "/status"),
    ("ATTEMPTS", "/attempts"),
    ("LAST FAILED", "/last_failed_at"),
    ("ERROR", "/error"),
];

pub const JOBS: [Column; 8] = [
    ("ID", "/id"),
    ("TENANT", "/tenant_id"),
    ("STATUS", "/status"),
    ("REPLAYED", "/replayed"),
    ("TOTAL", "/total"),
    ("RATE/S", "/rate_per_second"),
    ("CREATED", "/created_at"),
    ("ERROR", "/error"),
];

pub const UNROUTABLE: [Column; 6] = [
    ("ID", "/id"),
    ("PROVIDER", "/provider"),
    ("ROUTING KEY", "/routing_key"),
    ("RECEIVED", "/received_at"),
    ("REPLAYED", "/replayed_at"),
    ("REASON", "/reason"),
];

pub const STILL_UNROUTABLE: [Column; 4] = [
    ("ID", "/id"),
    ("PROVIDER", "/provider"),
    ("ROUTING KEY", "/routing_key"),
    ("REASON", "/reason"),
];

/// Cells longer than this are cut (with `…`).
const MAX_CELL: usize = 60;

/// A value as a cell: text as is, nothing as `-`, the rest as JSON; on one line.
fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let text = text.replace(['\n', '\r', '\t'], " ");
    if text.chars().count() > MAX_CELL {
        let cut: String = text.chars().take(MAX_CELL - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `rows` under a header, columns padded to their widest cell.
pub fn print(out: &mut impl Write, columns: &[Column], rows: &[Value]) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .map(|(_, at)| cell(row.pointer(at)))
                .collect()
        })
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (header, _))| {
            cells
                .iter()
                .map(|row| row[i].chars().count())
                .chain([header.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |out: &mut dyn Write, texts: &[&str]| -> std::io::Result<()> {
        let padded: Vec<String> = texts
            .iter()
            .zip(&widths)
            .map(|(text, width)| format!("{text:<width$}"))
            .collect();
        writeln!(out, "{}", padded.join("  ").trim_end())
    };
    let headers: Vec<&str> = columns.iter().map(|(header, _)| *header).collect();
    line(out, &headers)?;
    for row in &cells {
        let texts: Vec<&str> = row.iter().map(String::as_str).collect();
        line(out, &texts)?;
    }
    Ok(())
}

/// A page's rows, and how to get the next page.
pub fn print_page(out: &mut impl Write, columns: &[Column], page: &Value) -> std::io::Result<()> {
    let empty = Vec::new();
    let items = page["items"].as_array().unwrap_or(&empty);
    print(out, columns, items)?;
    if let Some(next) = page["next"].as_str() {
        writeln!(out, "(more: --after {next})")?;
    }
    Ok(())
}

/// One object as `field: value` lines, in the order of `fields`; then the rest of it, as
/// pretty JSON, under `rest` if given.
pub fn print_record(
    out: &mut impl Write,
    record: &Value,
    fields: &[&str],
    rest: Option<&str>,
) -> std::io::Result<()> {
    let width = fields.iter().map(|f| f.len()).max().unwrap_or(0);
    for field in fields {
        let value = match &record[*field] {
            Value::Null => "-".to_owned(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        writeln!(
            out,
            "{:<width$}  {value}",
            format!("{field}:"),
            width = width + 1
        )?;
    }
    if let Some(rest) = rest {
        let pretty = serde_json::to_string_pretty(&record[rest]).unwrap_or_default();
        writeln!(out, "{rest}:\n{pretty}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_long_cells_are_cut() {
        let rows = vec![
            serde_json::json!({ "id": "a", "provider": "telnyx", "routing_key": "phone:+1555",
                "reason": "x".repeat(80) }),
            serde_json::json!({ "id": "bb", "provider": null, "routing_key": "k" }),
        ];
        let mut out = Vec::new();
        print(&mut out, &STILL_UNROUTABLE, &rows).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ID  PROVIDER  ROUTING KEY  REASON");
        assert!(lines[1].starts_with("a   telnyx    phone:+1555  xxx"));
        assert!(lines[1].ends_with('…'));
        assert_eq!(lines[1].chars().count(), 27 + MAX_CELL);
        assert_eq!(lines[2], "bb  -         k            -");
    }
}
