//! A fast path for the plain decimals market data is made of (`-123.4500`), falling back to the
//! general parser for anything else (exponents, very long numbers).

use chimera_kernel::Decimal;

/// Parses `[-]digits[.digits]` exactly.
pub(crate) fn parse(text: &str) -> Option<Decimal> {
    let bytes = text.as_bytes();
    let (negative, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 27 {
        return general(text);
    }
    let mut mantissa: i128 = 0;
    let mut scale: u32 = 0;
    let mut seen_point = false;
    let mut seen_digit = false;
    for &b in digits {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + i128::from(b - b'0');
                seen_digit = true;
                if seen_point {
                    scale += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => return general(text),
        }
    }
    if !seen_digit {
        return None;
    }
    let value =
        Decimal::try_from_i128_with_scale(if negative { -mantissa } else { mantissa }, scale)
            .ok()?;
    Some(value)
}

fn general(text: &str) -> Option<Decimal> {
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
