//! The framing of the targets that read a provider's HTTP answer: the first two bytes choose
//! the status, the rest is the answer. Included with `#[path]` by those targets.

use reqwest::StatusCode;

/// The status (100 + the first two bytes, big-endian, modulo 500) and the rest of `data`.
pub fn status_and_rest(data: &[u8]) -> Option<(StatusCode, &[u8])> {
    let [a, b, rest @ ..] = data else {
        return None;
    };
    let status = StatusCode::from_u16(100 + u16::from_be_bytes([*a, *b]) % 500).ok()?;
    Some((status, rest))
}
