//! [`Lines`]: the numbered, blank-skipping line loop every reader shares, over one reused buffer.

use crate::error::ReadError;
use std::io::BufRead;
use std::path::PathBuf;

/// Numbered lines of one file.
pub(crate) struct Lines<R> {
    input: R,
    path: PathBuf,
    line_no: u64,
    buf: Vec<u8>,
    end: usize,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(input: R, path: PathBuf) -> Self {
        Self {
            input,
            path,
            line_no: 0,
            buf: Vec::with_capacity(256),
            end: 0,
        }
    }

    /// Advances to the next line that is not blank. `None` at the end of the file.
    pub(crate) fn advance(&mut self) -> Option<Result<(), ReadError>> {
        loop {
            self.buf.clear();
            match self.input.read_until(b'\n', &mut self.buf) {
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
            let mut end = self.buf.len();
            while end > 0 && self.buf[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            if end > 0 {
                self.end = end;
                return Some(Ok(()));
            }
        }
    }

    /// The current line, without trailing whitespace.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// The current line as text.
    ///
    /// # Errors
    /// A line error when it is not UTF-8.
    pub(crate) fn text(&self) -> Result<&str, ReadError> {
        std::str::from_utf8(self.bytes()).map_err(|_| self.error("not UTF-8 text"))
    }

    /// An error about the current line, carrying its text.
    pub(crate) fn error(&self, message: impl Into<String>) -> ReadError {
        ReadError::line(
            &self.path,
            self.line_no,
            message,
            &String::from_utf8_lossy(self.bytes()),
        )
    }

    /// The file's name as given.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }
}
