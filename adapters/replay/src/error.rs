//! [`ReadError`].

use std::path::PathBuf;

/// A market-data file could not be read, or one of its lines could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One line is malformed; the reader skips it and continues.
    #[error("{path}:{line}: {message} (line: `{raw}`)")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        message: String,
        /// The line's text (truncated to 200 characters).
        raw: String,
    },
    /// The file's format is not recognised.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was expected.
        message: String,
    },
}

impl ReadError {
    pub(crate) fn line(
        path: &std::path::Path,
        line: u64,
        message: impl Into<String>,
        raw: &str,
    ) -> Self {
        let raw: String = raw.trim_end().chars().take(200).collect();
        ReadError::Line {
            path: path.to_owned(),
            line,
            message: message.into(),
            raw,
        }
    }

    /// Whether the error concerns a single line (the stream can go on).
    pub fn is_line_error(&self) -> bool {
        matches!(self, ReadError::Line { .. })
    }
}
