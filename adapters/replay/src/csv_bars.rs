//! [`CsvBarReader`]: `timestamp,open,high,low,close,volume` bars for one symbol.

use crate::error::ReadError;
use crate::fast_decimal;
use chimera_kernel::event::{Bar, MarketEvent};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use std::io::BufRead;
use std::path::PathBuf;

/// Reads OHLCV bars. The header line is required and checked. Timestamps are RFC 3339 or
/// `YYYY-MM-DD HH:MM:SS[.frac]` (UTC) or epoch milliseconds.
pub struct CsvBarReader<R> {
    input: R,
    path: PathBuf,
    symbol: Symbol,
    line_no: u64,
    buf: String,
    header_checked: bool,
}

const HEADER: [&str; 6] = ["timestamp", "open", "high", "low", "close", "volume"];

impl<R: BufRead> CsvBarReader<R> {
    /// A reader of `input` (named `path` in errors) producing bars of `symbol`.
    pub fn new(input: R, path: impl Into<PathBuf>, symbol: Symbol) -> Self {
        Self {
            input,
            path: path.into(),
            symbol,
            line_no: 0,
            buf: String::with_capacity(128),
            header_checked: false,
        }
    }

    fn parse_line(&self, line: &str) -> Result<MarketEvent, String> {
        let mut fields = line.split(',');
        let mut next = |name: &str| {
            fields
                .next()
                .map(str::trim)
                .ok_or_else(|| format!("missing field `{name}`"))
        };
        let ts_text = next("timestamp")?;
        let ts = match ts_text.parse::<i64>() {
            Ok(ms) => Timestamp(ms),
            Err(_) => Timestamp::parse(ts_text).map_err(|e| e.to_string())?,
        };
        let mut price = |name: &str| -> Result<Price, String> {
            let text = next(name)?;
            let value = fast_decimal::parse(text)
                .ok_or_else(|| format!("`{name}` = `{text}` is not a number"))?;
            Price::new(value).map_err(|e| format!("`{name}`: {e}"))
        };
        let (open, high, low, close) = (
            price("open")?,
            price("high")?,
            price("low")?,
            price("close")?,
        );
        let volume_text = next("volume")?;
        let volume = fast_decimal::parse(volume_text)
            .ok_or_else(|| format!("`volume` = `{volume_text}` is not a number"))
            .and_then(|v| Quantity::new(v).map_err(|e| format!("`volume`: {e}")))?;
        if fields.next().is_some() {
            return Err("more than 6 fields".into());
        }
        if low > high || open > high || close > high || open < low || close < low {
            return Err(format!(
                "inconsistent bar: open {open}, high {high}, low {low}, close {close}"
            ));
        }
        Ok(MarketEvent::Bar(Bar {
            symbol: self.symbol.clone(),
            ts,
            open,
            high,
            low,
            close,
            volume,
        }))
    }
}

impl<R: BufRead> Iterator for CsvBarReader<R> {
    type Item = Result<MarketEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => {
                    return Some(Err(ReadError::Io {
                        path: self.path.clone(),
                        source,
                    }))
                }
            }
            self.line_no += 1;
            let line = self.buf.trim_end_matches(['\r', '\n']);
            if line.trim().is_empty() {
                continue;
            }
            if !self.header_checked {
                self.header_checked = true;
                let names: Vec<String> = line
                    .split(',')
                    .map(|f| f.trim().to_ascii_lowercase())
                    .collect();
                if names != HEADER {
                    return Some(Err(ReadError::Format {
                        path: self.path.clone(),
                        message: format!("expected header `{}`, found `{line}`", HEADER.join(",")),
                    }));
                }
                continue;
            }
            return Some(
                self.parse_line(line)
                    .map_err(|m| ReadError::line(&self.path, self.line_no, m, line)),
            );
        }
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
