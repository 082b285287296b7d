//! Request weight per minute for the whole "IP", with Binance's escalation: over the limit a
//! request gets 429 and `Retry-After` (until the minute ends); a client that keeps sending
//! during that wait gets 429 again, and after a few such requests 418 and a two-minute ban.

/// The weight window and ban state.
#[derive(Debug, Default)]
pub struct Weights {
    limit: u64,
    minute: i64,
    used: u64,
    throttled_until: i64,
    banned_until: i64,
    strikes: u32,
    /// How many 429s and 418s were answered.
    pub refusals: (u64, u64),
}

/// Requests sent during a 429's `Retry-After` before the "IP" is banned (418).
const BAN_AFTER_STRIKES: u32 = 3;

/// Refused: status and seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// 429 or 418.
    pub status: u16,
    /// `Retry-After`, seconds.
    pub retry_after: i64,
}

impl Weights {
    /// `limit` weight per minute.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// Counts a request of `weight` at `now` (ms); `Err` when it is refused.
    ///
    /// # Errors
    /// [`Refused`] with 429 or 418.
    pub fn admit(&mut self, weight: u64, now: i64) -> Result<u64, Refused> {
        let secs = |until: i64| ((until - now) + 999) / 1_000;
        if now < self.banned_until {
            self.refusals.1 += 1;
            return Err(Refused {
                status: 418,
                retry_after: secs(self.banned_until),
            });
        }
        let minute = now - now.rem_euclid(60_000);
        if minute != self.minute {
            self.minute = minute;
            self.used = 0;
        }
        if now < self.throttled_until {
            // Still sending while told to wait: refused again, and banned after a few.
            self.strikes += 1;
            if self.strikes >= BAN_AFTER_STRIKES {
                self.banned_until = now + 120_000;
                self.refusals.1 += 1;
                return Err(Refused {
                    status: 418,
                    retry_after: 120,
                });
            }
            self.refusals.0 += 1;
            return Err(Refused {
                status: 429,
                retry_after: secs(self.throttled_until),
            });
        }
        self.strikes = 0;
        if self.used + weight > self.limit {
            self.throttled_until = minute + 60_000;
            self.refusals.0 += 1;
            return Err(Refused {
                status: 429,
                retry_after: secs(self.throttled_until),
            });
        }
        self.used += weight;
        Ok(self.used)
    }

    /// Weight used this minute.
    pub fn used(&self) -> u64 {
        self.used
    }
}
