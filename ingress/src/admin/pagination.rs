//! Cursor pagination shared by list endpoints: `limit` (default 100, at most 200) and
//! `after` (the last id of the previous page). Answers carry `next` when more may follow.

use serde::Serialize;
use uuid::Uuid;

use super::validate::Fields;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 200;

/// Parse `limit` and `after` from query text, reporting problems into `fields`.
pub fn parse(fields: &mut Fields, limit: Option<&str>, after: Option<&str>) -> (i64, Option<Uuid>) {
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(raw) => fields
            .check(
                "limit",
                raw.parse::<i64>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or("must be 1-200"),
            )
            .unwrap_or(DEFAULT_LIMIT),
    };
    let after = after.and_then(|raw| {
        fields.check(
            "after",
            raw.parse::<Uuid>()
                .map_err(|_| "must be an id from a previous page"),
        )
    });
    (limit, after)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<Uuid>,
}

impl<T: Serialize> Page<T> {
    pub fn new(items: Vec<T>, limit: i64, id: impl Fn(&T) -> Uuid) -> Self {
        let full = i64::try_from(items.len()).unwrap_or(i64::MAX) >= limit;
        let next = if full { items.last().map(&id) } else { None };
        Self { items, next }
    }
}
