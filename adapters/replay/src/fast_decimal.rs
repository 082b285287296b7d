//! A fast path for the plain decimals market data is made of (`-123.4500`), falling back to the
//! general parser for anything else (exponents, very long numbers).

use chimera_kernel::Decimal;

/// Parses `[-]digits[.digits]` exactly; up to 18 digits take the integer fast path.
#[inline]
pub(crate) fn parse(text: &str) -> Option<Decimal> {
    parse_bytes(text.as_bytes())
}

/// As [`parse`], from bytes.
#[inline]
pub(crate) fn parse_bytes(bytes: &[u8]) -> Option<Decimal> {
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 19 {
        return general(bytes);
    }
    let mut mantissa: u64 = 0;
    let mut point: Option<usize> = None;
    for (i, &b) in digits.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            mantissa = mantissa * 10 + u64::from(d);
        } else if b == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return general(bytes);
        }
    }
    let digit_count = digits.len() - usize::from(point.is_some());
    if digit_count == 0 {
        return None;
    }
    if digit_count > 18 {
        return general(bytes);
    }
    let scale = point.map_or(0, |p| digits.len() - p - 1) as u32;
    let signed = mantissa as i64;
    Some(Decimal::new(if negative { -signed } else { signed }, scale))
}

/// An all-digit field as epoch milliseconds.
pub(crate) fn parse_epoch_ms(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 18 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        bytes
            .iter()
            .fold(0_i64, |acc, &b| acc * 10 + i64::from(b - b'0')),
    )
}

#[cold]
fn general(bytes: &[u8]) -> Option<Decimal> {
    let text = std::str::from_utf8(bytes).ok()?;
    chimera_kernel::value::parse_decimal("decimal", text).ok()
}

#[cfg(test)]
mod tests {
    use super::parse;
    use chimera_kernel::Decimal;

    #[test]
    fn agrees_with_the_general_parser() {
        for text in [
            "0",
            "1",
            "-1.5",
            "46319.0",
            "2300413.7295",
            "0.00000001",
            "61837.63000000",
            "+3",
            "1e3",
            "12345678901234567890.12345678",
        ] {
            let expected = chimera_kernel::value::parse_decimal("t", text).unwrap();
            assert_eq!(parse(text), Some(expected), "{text}");
        }
        for bad in ["", "-", ".", "1.2.3", "abc", "1,5"] {
            assert_eq!(parse(bad), None::<Decimal>, "{bad}");
        }
    }
}
