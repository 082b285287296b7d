//! Numbers as ASCII text without the formatting machinery, for the hot paths of report writers
//! and id minting.
//!
//! The `push_*` functions append to a byte buffer, which is what a file writer wants, and never
//! validate UTF-8 (they only produce ASCII). The `write_*` functions append to a `String` for
//! callers that need one. Digits go out two at a time from a table, so a 13-digit epoch
//! millisecond costs seven steps rather than thirteen divisions.

use rust_decimal::Decimal;

/// "00" to "99", two bytes each.
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The two ASCII digits of `n` (`n < 100`).
#[inline]
pub(crate) fn pair(n: usize) -> [u8; 2] {
    let at = 2 * (n % 100);
    [PAIRS[at], PAIRS[at + 1]]
}

/// Writes `n`'s digits right-aligned into `buf` ending at `end`; returns the start index.
/// `buf[..end]` must have room for them (20 bytes hold any `u64`).
fn digits_u64(buf: &mut [u8], end: usize, mut n: u64) -> usize {
    let mut i = end;
    while n >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&pair((n % 100) as usize));
        n /= 100;
    }
    if n >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&pair(n as usize));
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    i
}

/// Appends ASCII bytes to a `String` (no UTF-8 validation to pay: each byte is a `char`).
pub(crate) fn push_ascii(out: &mut String, ascii: &[u8]) {
    out.extend(ascii.iter().copied().map(char::from));
}

/// `value`'s sign and digits right-aligned in `buf`; returns where they start.
fn integer_text(buf: &mut [u8; 21], value: i64) -> usize {
    let mut start = digits_u64(buf, 21, value.unsigned_abs());
    if value < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    start
}

/// Appends an integer's decimal digits to `out`.
pub fn push_integer(out: &mut Vec<u8>, value: i64) {
    let mut buf = [0_u8; 21];
    let start = integer_text(&mut buf, value);
    out.extend_from_slice(&buf[start..]);
}

/// As [`push_integer`], to a `String`.
pub fn write_integer(out: &mut String, value: i64) {
    let mut buf = [0_u8; 21];
    let start = integer_text(&mut buf, value);
    push_ascii(out, &buf[start..]);
}

/// A decimal's plain text, built on the stack: sign, integer digits, fraction digits.
struct DecimalText {
    buf: [u8; 64],
    start: usize,
    point: usize,
    stop: usize,
    negative: bool,
}

impl DecimalText {
    fn new(value: Decimal) -> Self {
        const TEN_POW_19: u128 = 10_000_000_000_000_000_000;
        let mut buf = [b'0'; 64];
        let end = buf.len();
        let n = value.mantissa().unsigned_abs();
        // At most one 128-bit division: split into two 64-bit halves of 19 digits.
        let mut start = if let Ok(small) = u64::try_from(n) {
            digits_u64(&mut buf, end, small)
        } else {
            let (hi, lo) = ((n / TEN_POW_19) as u64, (n % TEN_POW_19) as u64);
            let lo_start = digits_u64(&mut buf, end, lo);
            for slot in &mut buf[end - 19..lo_start] {
                *slot = b'0';
            }
            digits_u64(&mut buf, end - 19, hi)
        };
        let scale = value.scale() as usize;
        // Leading zeros so there is at least one digit before the point.
        while end - start <= scale {
            start -= 1;
            buf[start] = b'0';
        }
        let point = end - scale;
        let mut stop = end;
        while stop > point && buf[stop - 1] == b'0' {
            stop -= 1;
        }
        let is_zero = stop == point && buf[start..point].iter().all(|&d| d == b'0');
        Self {
            buf,
            start,
            point,
            stop,
            negative: value.is_sign_negative() && !is_zero,
        }
    }

    fn int_part(&self) -> &[u8] {
        &self.buf[self.start..self.point]
    }

    fn frac_part(&self) -> &[u8] {
        &self.buf[self.point..self.stop]
    }

    /// Hands the text to `put` piece by piece: sign, integer digits, point and fraction.
    fn write(&self, mut put: impl FnMut(&[u8])) {
        if self.negative {
            put(b"-");
        }
        put(self.int_part());
        if !self.frac_part().is_empty() {
            put(b".");
            put(self.frac_part());
        }
    }
}

/// Appends a decimal's plain text (normalised: no trailing fraction zeros, no exponent, no
/// negative zero) to `out`, as `Display` of the normalised value would.
pub fn push_decimal(out: &mut Vec<u8>, value: Decimal) {
    DecimalText::new(value).write(|piece| out.extend_from_slice(piece));
}

/// As [`push_decimal`], to a `String`.
pub fn write_decimal(out: &mut String, value: Decimal) {
    DecimalText::new(value).write(|piece| push_ascii(out, piece));
}

/// Serialises a decimal as [`push_decimal`]'s text (the normalised value's `Display`), built
/// on the stack: what every value type writes, without the formatting machinery and the
/// string adapter `collect_str` goes through.
///
/// # Errors
/// Only the serializer's own errors.
pub(crate) fn serialize_decimal<S: serde::Serializer>(
    value: Decimal,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut buf = [0_u8; 66];
    let mut len = 0;
    DecimalText::new(value).write(|piece| {
        buf[len..len + piece.len()].copy_from_slice(piece);
        len += piece.len();
    });
    let ascii = std::str::from_utf8(&buf[..len]).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(ascii)
}

#[cfg(test)]
mod tests {
    use super::{push_decimal, push_integer, write_decimal, write_integer};
    use rust_decimal_macros::dec;

    #[test]
    fn writes_like_display_of_the_normalised_value() {
        for d in [
            dec!(0),
            dec!(0.000),
            dec!(-0.5),
            dec!(79228162514264337593543950335),
            dec!(-7.9228162514264337593543950335),
            dec!(0.0000000000000000000000000001),
            dec!(-0.00),
            dec!(12345678901234567890.5),
            dec!(100.2500),
            dec!(0.00012),
            dec!(-123456789.987654321),
            dec!(1000),
            dec!(9),
            dec!(10),
            dec!(99.99),
            dec!(98031.840544),
        ] {
            let mut out = String::new();
            write_decimal(&mut out, d);
            assert_eq!(out, d.normalize().to_string());
            let mut bytes = b"x".to_vec();
            push_decimal(&mut bytes, d);
            assert_eq!(bytes, format!("x{out}").into_bytes());
            let json = super::serialize_decimal(d, serde_json::value::Serializer)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, serde_json::Value::String(out));
        }
    }

    #[test]
    fn writes_integers_like_display() {
        for n in [
            0,
            7,
            10,
            99,
            100,
            101,
            1_640_991_660_000,
            -1,
            -10,
            -1_000,
            i64::MAX,
            i64::MIN,
        ] {
            let mut text = String::new();
            write_integer(&mut text, n);
            assert_eq!(text, n.to_string());
            let mut bytes = b"x".to_vec();
            push_integer(&mut bytes, n);
            assert_eq!(bytes, format!("x{n}").into_bytes());
        }
    }
}
