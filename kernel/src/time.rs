//! [`Timestamp`]: epoch milliseconds, UTC, plus exact calendar conversions.
//!
//! The kernel never reads a clock; timestamps arrive with events. Parsing accepts RFC 3339
//! (`2022-01-01T00:00:00Z`, `…T00:00:00.123+02:00`) and the space-separated form used by bar files
//! (`2022-01-01 00:00:00.000000`, taken as UTC). Sub-millisecond digits are truncated.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

/// Why a date-time text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a date-time ({reason}); expected e.g. 2022-01-01T00:00:00Z")]
pub struct TimeParseError {
    /// The rejected text.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

const MS_PER_DAY: i64 = 86_400_000;

impl Timestamp {
    /// Epoch milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// `self + ms`.
    pub const fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0 + ms)
    }

    /// Parses RFC 3339 or `YYYY-MM-DD HH:MM:SS[.frac]` (UTC when no offset is given).
    ///
    /// # Errors
    /// [`TimeParseError`] naming the input and what was wrong.
    pub fn parse(input: &str) -> Result<Timestamp, TimeParseError> {
        parse_datetime(input.as_bytes()).map_err(|reason| TimeParseError {
            input: input.to_owned(),
            reason,
        })
    }

    /// As [`Timestamp::parse`], from ASCII bytes (a hot path for file readers).
    ///
    /// # Errors
    /// [`TimeParseError`] naming the input and what was wrong.
    pub fn parse_bytes(input: &[u8]) -> Result<Timestamp, TimeParseError> {
        parse_datetime(input).map_err(|reason| TimeParseError {
            input: String::from_utf8_lossy(input).into_owned(),
            reason,
        })
    }

    /// Formats as RFC 3339 UTC with millisecond precision, e.g. `2022-01-01T00:00:00.000Z`.
    pub fn to_rfc3339(self) -> String {
        let mut out = String::with_capacity(24);
        self.write_rfc3339(&mut out);
        out
    }

    /// Appends the RFC 3339 form to `out` without allocating (a hot path for reports).
    pub fn write_rfc3339(self, out: &mut String) {
        match self.rfc3339_bytes() {
            Some(text) => crate::value::push_ascii(out, &text),
            None => self.write_rfc3339_wide(out),
        }
    }

    /// As [`Timestamp::write_rfc3339`], to a byte buffer (a file writer's line).
    pub fn push_rfc3339(self, out: &mut Vec<u8>) {
        if let Some(text) = self.rfc3339_bytes() {
            out.extend_from_slice(&text);
        } else {
            let mut wide = String::new();
            self.write_rfc3339_wide(&mut wide);
            out.extend_from_slice(wide.as_bytes());
        }
    }

    /// The 24 ASCII bytes of the RFC 3339 form, for years 0 to 9999 (all but absurd inputs).
    fn rfc3339_bytes(self) -> Option<[u8; 24]> {
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY) as usize;
        let (y, m, d) = civil_from_days(days);
        let y = usize::try_from(y).ok().filter(|y| *y <= 9999)?;
        let pair = crate::value::digit_pair;
        let mut buf = *b"0000-00-00T00:00:00.000Z";
        buf[0..2].copy_from_slice(&pair(y / 100));
        buf[2..4].copy_from_slice(&pair(y % 100));
        buf[5..7].copy_from_slice(&pair(m as usize));
        buf[8..10].copy_from_slice(&pair(d as usize));
        buf[11..13].copy_from_slice(&pair(ms_of_day / 3_600_000));
        buf[14..16].copy_from_slice(&pair(ms_of_day / 60_000 % 60));
        buf[17..19].copy_from_slice(&pair(ms_of_day / 1000 % 60));
        let ms = ms_of_day % 1000;
        buf[20] = b'0' + (ms / 100) as u8;
        buf[21..23].copy_from_slice(&pair(ms % 100));
        Some(buf)
    }

    /// Years outside 0 to 9999, through the formatting machinery.
    fn write_rfc3339_wide(self, out: &mut String) {
        use fmt::Write;
        let days = self.0.div_euclid(MS_PER_DAY);
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let _ = write!(
            out,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
            ms_of_day / 3_600_000,
            ms_of_day / 60_000 % 60,
            ms_of_day / 1000 % 60,
            ms_of_day % 1000
        );
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(24);
        self.write_rfc3339(&mut text);
        f.write_str(&text)
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Hinnant's algorithm).
pub const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `(year, month, day)` of a day count since 1970-01-01.
pub const fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

fn digits(bytes: &[u8], range: std::ops::Range<usize>) -> Result<i64, &'static str> {
    let slice = bytes.get(range).ok_or("too short")?;
    slice.iter().try_fold(0_i64, |acc, &b| {
        if b.is_ascii_digit() {
            Ok(acc * 10 + i64::from(b - b'0'))
        } else {
            Err("expected a digit")
        }
    })
}

fn expect(bytes: &[u8], at: usize, allowed: &[u8]) -> Result<(), &'static str> {
    match bytes.get(at) {
        Some(b) if allowed.contains(b) => Ok(()),
        _ => Err("unexpected separator"),
    }
}

fn parse_datetime(b: &[u8]) -> Result<Timestamp, &'static str> {
    let year = digits(b, 0..4)?;
    expect(b, 4, b"-")?;
    let month = digits(b, 5..7)?;
    expect(b, 7, b"-")?;
    let day = digits(b, 8..10)?;
    expect(b, 10, b"Tt ")?;
    let hour = digits(b, 11..13)?;
    expect(b, 13, b":")?;
    let minute = digits(b, 14..16)?;
    expect(b, 16, b":")?;
    let second = digits(b, 17..19)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err("month or day out of range");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err("time of day out of range");
    }
    let mut pos = 19;
    let mut millis = 0_i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            if pos - start < 3 {
                millis = millis * 10 + i64::from(b[pos] - b'0');
            }
            pos += 1;
        }
        if pos == start {
            return Err("empty fraction");
        }
        for _ in (pos - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(pos) {
        None => 0,
        Some(b'Z' | b'z') if pos + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == pos + 6 => {
            expect(b, pos + 3, b":")?;
            let minutes = digits(b, pos + 1..pos + 3)? * 60 + digits(b, pos + 4..pos + 6)?;
            if sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return Err("bad time-zone suffix"),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Ok(Timestamp(secs * 1000 + millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_and_bar_format() {
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().0, 0);
        assert_eq!(
            Timestamp::parse("2022-01-01 00:01:00.000000").unwrap().0,
            1_640_995_260_000
        );
        assert_eq!(
            Timestamp::parse("2022-01-01T02:00:00.5+02:00").unwrap().0,
            1_640_995_200_500
        );
    }

    #[test]
    fn rejects_garbage_with_the_input_in_the_message() {
        let err = Timestamp::parse("2022-13-01T00:00:00Z").unwrap_err();
        assert!(err.to_string().contains("2022-13-01"));
        assert!(Timestamp::parse("yesterday").is_err());
        assert!(Timestamp::parse("2022-01-01T00:00:00Zjunk").is_err());
    }

    #[test]
    fn formats_round_trip() {
        let t = Timestamp(1_640_995_260_123);
        assert_eq!(t.to_rfc3339(), "2022-01-01T00:01:00.123Z");
        assert_eq!(Timestamp::parse(&t.to_rfc3339()).unwrap(), t);
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn bytes_and_text_agree_in_and_out_of_the_four_digit_years() {
        let far = Timestamp(300_000_000_000_000); // year 11476
        let before = Timestamp(-62_167_219_200_001); // the last millisecond of year -1
        for t in [
            Timestamp(0),
            Timestamp(1_640_991_660_000),
            Timestamp(-1),
            far,
            before,
        ] {
            let mut bytes = Vec::new();
            t.push_rfc3339(&mut bytes);
            assert_eq!(String::from_utf8(bytes).unwrap(), t.to_rfc3339());
        }
        assert_eq!(far.to_rfc3339(), "11476-08-15T05:20:00.000Z");
        assert_eq!(
            Timestamp(1_640_991_660_000).to_rfc3339(),
            "2021-12-31T23:01:00.000Z"
        );
    }
}
