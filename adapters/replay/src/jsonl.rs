//! [`JsonLinesReader`]: our own market events, one JSON object per line (as `serde_json` writes
//! [`MarketEvent`]).

use crate::error::ReadError;
use chimera_kernel::event::MarketEvent;
use std::io::BufRead;
use std::path::PathBuf;

/// Reads serialised [`MarketEvent`]s.
pub struct JsonLinesReader<R> {
    input: R,
    path: PathBuf,
    line_no: u64,
    buf: String,
}

impl<R: BufRead> JsonLinesReader<R> {
    /// A reader of `input` (named `path` in errors).
    pub fn new(input: R, path: impl Into<PathBuf>) -> Self {
        Self {
            input,
            path: path.into(),
            line_no: 0,
            buf: String::new(),
        }
    }
}

impl<R: BufRead> Iterator for JsonLinesReader<R> {
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
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            return Some(serde_json::from_str(text).map_err(|e| {
                ReadError::line(
                    &self.path,
                    self.line_no,
                    format!("not a market event: {e}"),
                    text,
                )
            }));
        }
    }
}
