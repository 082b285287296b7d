//! [`CsvBarReader`]: `timestamp,open,high,low,close,volume` bars for one symbol.

use crate::error::ReadError;
use crate::fast_decimal;
use crate::lines::Lines;
use chimera_kernel::event::{Bar, MarketEvent};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use std::io::BufRead;
use std::path::PathBuf;

/// Reads OHLCV bars. The header line is required and checked. Timestamps are RFC 3339 or
/// `YYYY-MM-DD HH:MM:SS[.frac]` (UTC) or epoch milliseconds.
pub struct CsvBarReader<R> {
    lines: Lines<R>,
    symbol: Symbol,
    header_checked: bool,
}

const HEADER: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

impl<R: BufRead> CsvBarReader<R> {
    /// A reader of `input` (named `path` in errors) producing bars of `symbol`.
    pub fn new(input: R, path: impl Into<PathBuf>, symbol: Symbol) -> Self {
        Self {
            lines: Lines::new(input, path.into()),
            symbol,
            header_checked: false,
        }
    }
}

/// Parses one data line of bars for `symbol`.
fn parse_line(line: &[u8], symbol: &Symbol) -> Result<MarketEvent, String> {
    let mut fields: [&[u8]; 6] = [&[]; 6];
    let (mut count, mut start) = (0, 0);
    for (i, &b) in line.iter().enumerate() {
        if b == b',' {
            if count == 5 {
                return Err("more than 6 fields".into());
            }
            fields[count] = &line[start..i];
            count += 1;
            start = i + 1;
        }
    }
    if count != 5 {
        return Err(format!("expected 6 fields, found {}", count + 1));
    }
    fields[5] = &line[start..];
    let field = |i: usize| fields[i].trim_ascii();
    let shown = |i: usize| String::from_utf8_lossy(field(i)).into_owned();
    let ts = match fast_decimal::parse_epoch_ms(field(0)) {
        Some(ms) => Timestamp(ms),
        None => Timestamp::parse_bytes(field(0)).map_err(|e| e.to_string())?,
    };
    let number = |i: usize| {
        fast_decimal::parse_bytes(field(i))
            .ok_or_else(|| format!("`{}` = `{}` is not a number", HEADER[i], shown(i)))
    };
    let price = |i: usize| Price::new(number(i)?).map_err(|e| format!("`{}`: {e}", HEADER[i]));
    let (open, high, low, close) = (price(1)?, price(2)?, price(3)?, price(4)?);
    let volume = Quantity::new(number(5)?).map_err(|e| format!("`volume`: {e}"))?;
    if low > high || open > high || close > high || open < low || close < low {
        return Err(format!(
            "inconsistent bar: open {open}, high {high}, low {low}, close {close}"
        ));
    }
    Ok(MarketEvent::Bar(Bar {
        symbol: symbol.clone(),
        ts,
        open,
        high,
        low,
        close,
        volume,
    }))
}

impl<R: BufRead> Iterator for CsvBarReader<R> {
    type Item = Result<MarketEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.lines.advance()? {
            return Some(Err(e));
        }
        if !self.header_checked {
            self.header_checked = true;
            let text = String::from_utf8_lossy(self.lines.bytes());
            let names: Vec<String> = text
                .split(',')
                .map(|f| f.trim().to_ascii_lowercase())
                .collect();
            if names != HEADER {
                return Some(Err(ReadError::Format {
                    path: self.lines.path().to_owned(),
                    message: format!("expected header `{}`, found `{text}`", HEADER.join(",")),
                }));
            }
            return self.next();
        }
        Some(parse_line(self.lines.bytes(), &self.symbol).map_err(|m| self.lines.error(m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<Result<MarketEvent, ReadError>> {
        CsvBarReader::new(text.as_bytes(), "t.csv", Symbol::new("BTCUSDT")).collect()
    }

    #[test]
    fn reads_bars_and_reports_bad_lines_with_their_number() {
        let out = read("timestamp,open,high,low,close,volume\n2022-01-01 00:00:00.000000,1,2,0.5,1.5,10\n2022-01-01 00:01:00,1,x,1,1,1\n1640995320000,1,1,1,1,-1\n2022-01-01 00:03:00,3,2,1,1,1\n");
        assert_eq!(out.len(), 4);
        let MarketEvent::Bar(bar) = out[0].as_ref().unwrap() else {
            panic!()
        };
        assert_eq!(bar.ts.0, 1_640_995_200_000);
        assert_eq!(bar.close.to_string(), "1.5");
        let err = out[1].as_ref().unwrap_err().to_string();
        assert!(
            err.contains("t.csv:3") && err.contains("`high` = `x`"),
            "{err}"
        );
        assert!(out[2].as_ref().unwrap_err().to_string().contains("volume"));
        assert!(out[3]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("inconsistent"));
    }

    #[test]
    fn wrong_header_is_a_format_error() {
        let out = read("time,o,h,l,c,v\n1,1,1,1,1,1\n");
        assert!(matches!(out[0], Err(ReadError::Format { .. })));
    }
}
