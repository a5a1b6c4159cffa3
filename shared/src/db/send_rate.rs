//! Per-sender send rates shared by every worker: `take_send_slot` in the migrations keeps one
//! GCRA bucket per sender (a WhatsApp number, a Telnyx number) in PostgreSQL, so a number's
//! limit holds however many workers send from it.

use std::time::Duration;

use sqlx::PgPool;

use super::DbError;

/// Take a slot in `bucket` (`per_second` sends, bursts of `burst`): `Duration::ZERO` when the
/// send may go now, else how long to wait before asking again.
pub async fn take_slot(
    pool: &PgPool,
    bucket: &str,
    per_second: f64,
    burst: u32,
) -> Result<Duration, DbError> {
    let wait: f64 = sqlx::query_scalar("SELECT take_send_slot($1, $2, $3)")
        .bind(bucket)
        .bind(per_second)
        .bind(i32::try_from(burst).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await?;
    Ok(Duration::try_from_secs_f64(wait.max(0.0)).unwrap_or(Duration::ZERO))
}
