//! # chimera-replay
//!
//! Streaming readers of market-data files, each an `Iterator` of
//! `Result<MarketEvent, ReadError>` that holds one line in memory at a time:
//! - [`CsvBarReader`]: `timestamp,open,high,low,close,volume` bars;
//! - [`BinanceCaptureReader`]: gzip lines `<receive ns> <raw Binance JSON>` (depth diffs,
//!   bookTicker, trades, REST depth snapshots);
//! - [`JsonLinesReader`]: one serialised [`chimera_kernel::event::MarketEvent`] per line.
//!
//! [`open_market_data`] picks the reader from the file name, and [`FileMarketData`] exposes any
//! of them through the [`chimera_ports::MarketDataSource`] port. A bad line is an `Err` item
//! naming the file, the line number and the problem, with the raw text; the reader continues
//! with the next line.

mod binance;
mod csv_bars;
mod error;
mod fast_decimal;
mod jsonl;
mod lines;
mod merge;
mod read_ahead;
mod source;

pub use binance::{parse_capture_line, BinanceCaptureReader};
pub use csv_bars::CsvBarReader;
pub use error::ReadError;
pub use jsonl::JsonLinesReader;
pub use merge::merge_in_time;
pub use read_ahead::read_ahead;
pub use source::{
    open_market_data, open_market_data_with_progress, DataFormat, EventReader, FileMarketData,
    ReadProgress,
};
