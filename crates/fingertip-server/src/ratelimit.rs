//! Per-app rate limiting: a token bucket of events, checked before the body is read.
//!
//! A request is refused when its app's bucket is in debt; a served batch takes its event
//! count from the bucket, possibly into debt. So the sustained rate is enforced without
//! parsing a body that is going to be refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(events_per_s: u64, burst: u64) -> Self {
        Self {
            rate: events_per_s as f64,
            burst: burst.max(events_per_s) as f64,
            buckets: Mutex::default(),
        }
    }

    fn with_bucket<T>(&self, app: &str, f: impl FnOnce(&mut Bucket) -> T) -> T {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(app.to_string()).or_insert_with(|| Bucket {
            tokens: self.burst,
            at: Instant::now(),
        });
        let now = Instant::now();
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * self.rate)
            .min(self.burst);
        bucket.at = now;
        f(bucket)
    }

    /// `Err(seconds to wait)` when the app is over its limit.
    pub fn check(&self, app: &str) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        self.with_bucket(app, |b| {
            if b.tokens >= 0.0 {
                Ok(())
            } else {
                Err((-b.tokens / self.rate).ceil().max(1.0) as u64)
            }
        })
    }

    /// Takes `events` from the app's bucket.
    pub fn take(&self, app: &str, events: usize) {
        if self.rate > 0.0 {
            self.with_bucket(app, |b| b.tokens -= events as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debt_refuses_until_repaid() {
        let limiter = RateLimiter::new(10, 10);
        assert_eq!(limiter.check("a"), Ok(()));
        limiter.take("a", 40);
        assert_eq!(limiter.check("a"), Err(3));
        assert_eq!(limiter.check("b"), Ok(()));
        assert_eq!(RateLimiter::new(0, 0).check("a"), Ok(()));
    }
}
