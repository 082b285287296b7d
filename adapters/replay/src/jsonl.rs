//! [`JsonLinesReader`]: our own market events, one JSON object per line (as `serde_json` writes
//! [`MarketEvent`]).

use crate::error::ReadError;
use crate::lines::Lines;
use chimera_kernel::event::MarketEvent;
use std::io::BufRead;
use std::path::PathBuf;

/// Reads serialised [`MarketEvent`]s.
pub struct JsonLinesReader<R> {
    lines: Lines<R>,
}

impl<R: BufRead> JsonLinesReader<R> {
    /// A reader of `input` (named `path` in errors).
    pub fn new(input: R, path: impl Into<PathBuf>) -> Self {
        Self {
            lines: Lines::new(input, path.into()),
        }
    }
}

impl<R: BufRead> Iterator for JsonLinesReader<R> {
    type Item = Result<MarketEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.lines.advance()? {
            return Some(Err(e));
        }
        Some(
            serde_json::from_slice(self.lines.bytes())
                .map_err(|e| self.lines.error(format!("not a market event: {e}"))),
        )
    }
}
