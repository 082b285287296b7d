//! Opening files by format, and the [`MarketDataSource`] port over any reader.

use crate::{BinanceCaptureReader, CsvBarReader, JsonLinesReader, ReadError};
use async_trait::async_trait;
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::Symbol;
use chimera_ports::{MarketDataSource, PortError, PortResult};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A boxed stream of events from any reader.
pub type EventReader = Box<dyn Iterator<Item = Result<MarketEvent, ReadError>> + Send>;

/// The file formats understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// `timestamp,open,high,low,close,volume` (optionally gzipped).
    CsvBars,
    /// Binance raw capture (gzip or plain).
    BinanceCapture,
    /// Our JSON lines (optionally gzipped).
    JsonLines,
}

impl DataFormat {
    /// Guesses the format from the file name: `.csv[.gz]` → bars, `.jsonl[.gz]` / `.ndjson` →
    /// JSON lines, any other `.gz` → Binance capture.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = |p: &Path, e: &str| p.extension().is_some_and(|x| x.eq_ignore_ascii_case(e));
        let gz = ext(path, "gz");
        let inner = if gz {
            Path::new(path.file_stem()?)
        } else {
            path
        };
        if ext(inner, "csv") {
            Some(DataFormat::CsvBars)
        } else if ext(inner, "jsonl") || ext(inner, "ndjson") {
            Some(DataFormat::JsonLines)
        } else if gz {
            Some(DataFormat::BinanceCapture)
        } else {
            None
        }
    }
}

/// How far through its file a reader is (bytes of the file as stored, compressed or not).
#[derive(Debug, Clone)]
pub struct ReadProgress {
    read: Arc<AtomicU64>,
    total: u64,
}

impl ReadProgress {
    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// File size.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }
}

struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens a market-data file, choosing the reader by `format` or by the file name. `symbol` names
/// the instrument of CSV bars (other formats carry their own).
///
/// # Errors
/// [`ReadError::Io`] when the file cannot be opened; [`ReadError::Format`] when the format cannot
/// be guessed.
pub fn open_market_data(
    path: &Path,
    format: Option<DataFormat>,
    symbol: &Symbol,
) -> Result<EventReader, ReadError> {
    open_market_data_with_progress(path, format, symbol).map(|(reader, _)| reader)
}

/// As [`open_market_data`], also returning a handle that tells how much of the file was read.
///
/// # Errors
/// As [`open_market_data`].
pub fn open_market_data_with_progress(
    path: &Path,
    format: Option<DataFormat>,
    symbol: &Symbol,
) -> Result<(EventReader, ReadProgress), ReadError> {
    let format = format
        .or_else(|| DataFormat::from_path(path))
        .ok_or_else(|| ReadError::Format {
            path: path.to_owned(),
            message: "unknown data format: expected .csv, .jsonl or a .gz Binance capture".into(),
        })?;
    let io = |source| ReadError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let total = file.metadata().map_err(io)?.len();
    let progress = ReadProgress {
        read: Arc::new(AtomicU64::new(0)),
        total,
    };
    let file = Counting {
        inner: file,
        read: Arc::clone(&progress.read),
    };
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let raw: Box<dyn Read + Send> = if gz {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let input: Box<dyn BufRead + Send> = Box::new(BufReader::with_capacity(64 * 1024, raw));
    let reader: EventReader = match format {
        DataFormat::CsvBars => Box::new(CsvBarReader::new(input, path, symbol.clone())),
        DataFormat::BinanceCapture => Box::new(BinanceCaptureReader::new(input, path)),
        DataFormat::JsonLines => Box::new(JsonLinesReader::new(input, path)),
    };
    Ok((reader, progress))
}

/// Any event reader as a [`MarketDataSource`]. A bad line becomes [`PortError::Codec`] with the
/// line's text; the next call continues after it.
pub struct FileMarketData {
    reader: EventReader,
}

impl FileMarketData {
    /// Wraps a reader.
    pub fn new(reader: EventReader) -> Self {
        Self { reader }
    }
}

impl std::fmt::Debug for FileMarketData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMarketData").finish_non_exhaustive()
    }
}

#[async_trait]
impl MarketDataSource for FileMarketData {
    async fn next(&mut self) -> PortResult<Option<MarketEvent>> {
        match self.reader.next() {
            None => Ok(None),
            Some(Ok(event)) => Ok(Some(event)),
            Some(Err(ReadError::Line {
                raw,
                path,
                line,
                message,
            })) => Err(PortError::Codec {
                message: format!("{}:{line}: {message}", path.display()),
                bytes: raw.into_bytes(),
            }),
            Some(Err(e)) => Err(PortError::Fatal {
                operation: "read market data".into(),
                message: e.to_string(),
                source: Some(Box::new(e)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DataFormat;
    use std::path::Path;

    #[test]
    fn format_follows_the_file_name() {
        let f = |p: &str| DataFormat::from_path(Path::new(p));
        assert_eq!(f("a/bars.CSV"), Some(DataFormat::CsvBars));
        assert_eq!(f("bars.csv.gz"), Some(DataFormat::CsvBars));
        assert_eq!(f("events.jsonl"), Some(DataFormat::JsonLines));
        assert_eq!(f("btcusdt_20240808.gz"), Some(DataFormat::BinanceCapture));
        assert_eq!(f("notes.txt"), None);
    }
}
