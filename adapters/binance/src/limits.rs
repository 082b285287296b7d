//! [`RateLimits`]: Binance's request-weight and order-count windows, learnt from exchangeInfo
//! (`rateLimits`) and corrected from every response's `X-MBX-USED-WEIGHT-<n><unit>` and
//! `X-MBX-ORDER-COUNT-<n><unit>` headers (Binance's count is the truth; ours only covers what
//! is in flight). A request that would exceed a window waits for the next one; after a 429 or
//! 418 nothing is sent to the host until its `Retry-After` has passed.
//!
//! Windows are fixed intervals on the clock (a minute window restarts at each whole minute),
//! as Binance counts them. Functions take `now_ms` so tests drive time.

use serde::Deserialize;

/// What a window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LimitKind {
    /// Request weight (every request).
    RequestWeight,
    /// New orders (order placements only).
    Orders,
    /// Raw request count.
    RawRequests,
}

/// One `rateLimits` entry of exchangeInfo.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSpec {
    /// What it counts.
    pub rate_limit_type: LimitKind,
    /// `SECOND`, `MINUTE` or `DAY`.
    pub interval: String,
    /// How many intervals.
    pub interval_num: u32,
    /// The most allowed per window.
    pub limit: u64,
}

impl RateLimitSpec {
    fn interval_ms(&self) -> Option<i64> {
        let unit: i64 = match self.interval.as_str() {
            "SECOND" => 1_000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            _ => return None,
        };
        Some(unit * i64::from(self.interval_num))
    }

    /// The header suffix Binance uses for this window (`1M`, `10S`, `1D`).
    fn header_suffix(&self) -> String {
        let unit = self.interval.chars().next().unwrap_or('?');
        format!("{}{unit}", self.interval_num)
    }
}

#[derive(Debug, Clone)]
struct Window {
    kind: LimitKind,
    interval_ms: i64,
    limit: u64,
    suffix: String,
    start: i64,
    used: u64,
}

impl Window {
    fn roll(&mut self, now_ms: i64) {
        let start = now_ms - now_ms.rem_euclid(self.interval_ms);
        if start != self.start {
            self.start = start;
            self.used = 0;
        }
    }
}

/// What a request must do before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it now (its cost is counted).
    Go,
    /// Wait until this time (epoch ms) and ask again: a window is full.
    WaitUntil(i64),
    /// The host banned or throttled us until this time (epoch ms): send nothing before.
    Banned {
        /// When requests may resume.
        until_ms: i64,
        /// 429 or 418.
        status: u16,
    },
}

/// The windows of one host.
#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    windows: Vec<Window>,
    banned_until: Option<(i64, u16)>,
}

impl RateLimits {
    /// Limits from exchangeInfo's `rateLimits` (unknown intervals are skipped).
    pub fn from_specs(specs: &[RateLimitSpec]) -> Self {
        let windows = specs
            .iter()
            .filter_map(|s| {
                Some(Window {
                    kind: s.rate_limit_type,
                    interval_ms: s.interval_ms()?,
                    limit: s.limit,
                    suffix: s.header_suffix(),
                    start: i64::MIN,
                    used: 0,
                })
            })
            .collect();
        Self {
            windows,
            banned_until: None,
        }
    }

    /// Replaces the windows (after exchangeInfo is read again), keeping what is used.
    pub fn update_specs(&mut self, specs: &[RateLimitSpec]) {
        let mut fresh = Self::from_specs(specs);
        for w in &mut fresh.windows {
            if let Some(old) = self
                .windows
                .iter()
                .find(|o| o.kind == w.kind && o.interval_ms == w.interval_ms)
            {
                w.start = old.start;
                w.used = old.used;
            }
        }
        fresh.banned_until = self.banned_until;
        *self = fresh;
    }

    /// Asks to send a request of `weight` that places `orders` orders at `now_ms`; on
    /// [`Admission::Go`] its cost is counted.
    pub fn admit(&mut self, weight: u64, orders: u64, now_ms: i64) -> Admission {
        if let Some((until_ms, status)) = self.banned_until {
            if now_ms < until_ms {
                return Admission::Banned { until_ms, status };
            }
            self.banned_until = None;
        }
        let mut wait = None::<i64>;
        for w in &mut self.windows {
            w.roll(now_ms);
            let cost = match w.kind {
                LimitKind::RequestWeight => weight,
                LimitKind::Orders => orders,
                LimitKind::RawRequests => 1,
            };
            if cost > 0 && w.used + cost > w.limit {
                let next = w.start + w.interval_ms;
                wait = Some(wait.map_or(next, |x| x.max(next)));
            }
        }
        if let Some(until) = wait {
            return Admission::WaitUntil(until);
        }
        for w in &mut self.windows {
            w.used += match w.kind {
                LimitKind::RequestWeight => weight,
                LimitKind::Orders => orders,
                LimitKind::RawRequests => 1,
            };
        }
        Admission::Go
    }

    /// Takes Binance's counts from a response's headers (`name`, `value` pairs).
    pub fn observe_headers<'a>(
        &mut self,
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: i64,
    ) {
        for (name, value) in headers {
            let name = name.to_ascii_uppercase();
            let (kind, suffix) = if let Some(s) = name.strip_prefix("X-MBX-USED-WEIGHT-") {
                (LimitKind::RequestWeight, s)
            } else if let Some(s) = name.strip_prefix("X-MBX-ORDER-COUNT-") {
                (LimitKind::Orders, s)
            } else {
                continue;
            };
            let Ok(used) = value.trim().parse::<u64>() else {
                continue;
            };
            for w in &mut self.windows {
                if w.kind == kind && w.suffix == suffix {
                    w.roll(now_ms);
                    w.used = used;
                }
            }
        }
    }

    /// Records a 429 or 418 with its `Retry-After` (seconds; 60 when absent or unreadable).
    /// Returns when requests may resume.
    pub fn throttled(&mut self, status: u16, retry_after: Option<&str>, now_ms: i64) -> i64 {
        let secs = retry_after
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|s| *s >= 0)
            .unwrap_or(60);
        let until = now_ms + secs * 1_000;
        let until = self.banned_until.map_or(until, |(old, _)| old.max(until));
        self.banned_until = Some((until, status));
        until
    }

    /// The ban in force at `now_ms`, if any.
    pub fn banned(&self, now_ms: i64) -> Option<(i64, u16)> {
        self.banned_until.filter(|(until, _)| now_ms < *until)
    }

    /// How much of each window is used: `(kind, suffix, used, limit)`.
    pub fn usage(&self) -> Vec<(LimitKind, String, u64, u64)> {
        self.windows
            .iter()
            .map(|w| (w.kind, w.suffix.clone(), w.used, w.limit))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spot() -> RateLimits {
        let specs: Vec<RateLimitSpec> = serde_json::from_str(
            r#"[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":10},
                {"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":2},
                {"rateLimitType":"ORDERS","interval":"DAY","intervalNum":1,"limit":160000}]"#,
        )
        .expect("specs");
        RateLimits::from_specs(&specs)
    }

    #[test]
    fn a_full_window_makes_requests_wait_for_the_next() {
        let mut l = spot();
        assert_eq!(l.admit(1, 1, 1_000), Admission::Go);
        assert_eq!(l.admit(1, 1, 2_000), Admission::Go);
        assert_eq!(l.admit(1, 1, 3_000), Admission::WaitUntil(10_000));
        assert_eq!(l.admit(1, 0, 3_000), Admission::Go, "non-orders still go");
        assert_eq!(l.admit(1, 1, 10_000), Admission::Go);
    }

    #[test]
    fn headers_are_the_truth() {
        let mut l = spot();
        l.observe_headers([("x-mbx-used-weight-1m", "9")], 5_000);
        assert_eq!(l.admit(2, 0, 5_001), Admission::WaitUntil(60_000));
        assert_eq!(l.admit(1, 0, 5_001), Admission::Go);
    }

    #[test]
    fn a_ban_stops_everything_until_retry_after() {
        let mut l = spot();
        assert_eq!(l.throttled(418, Some("120"), 1_000), 121_000);
        assert_eq!(
            l.admit(1, 0, 2_000),
            Admission::Banned {
                until_ms: 121_000,
                status: 418
            }
        );
        assert_eq!(l.admit(1, 0, 121_000), Admission::Go);
    }
}
