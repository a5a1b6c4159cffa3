//! Login throttling: at most `LOGIN_ATTEMPTS_PER_MINUTE` attempts per email address (a GCRA
//! limiter from `governor`, so a burst of that size refills over a minute). Past it, logins for
//! that address get 429 whatever the password, so guessing is slowed to the quota. Per
//! process: with several replicas the limit applies per replica.

use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimiter {
    attempts: DefaultKeyedRateLimiter<String>,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            attempts: RateLimiter::keyed(quota),
        }
    }

    /// Spend one attempt for `email`; `false` when its quota is used up.
    pub fn try_attempt(&self, email: &str) -> bool {
        self.attempts
            .check_key(&email.trim().to_lowercase())
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_address_case_insensitively() {
        let limiter = LoginLimiter::new(2);
        assert!(limiter.try_attempt("a@example.com"));
        assert!(limiter.try_attempt("A@example.com "));
        assert!(!limiter.try_attempt("a@example.com"));
        assert!(limiter.try_attempt("b@example.com"));
    }
}
