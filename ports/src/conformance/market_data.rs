//! [`MarketDataSource`]: what any source (file replay, memory, an exchange's streams) must
//! give a consumer.
//!
//! - Every event is about one of the symbols the source was opened for.
//! - Book events keep a consumer's book whole when applied by the documented procedure
//!   (deltas before a snapshot buffered, the snapshot, then each delta in turn): no gap
//!   (a source that loses its chain sends a new snapshot first).
//! - A record that does not decode is a [`PortError::Codec`] carrying its bytes, and the
//!   source goes on with the next record; a transient failure may be retried.
//! - A finite source ends with `Ok(None)` and stays ended.

use crate::{MarketDataSource, PortError};
use chimera_kernel::event::{MarketEvent, OrderBook};
use chimera_kernel::ids::Symbol;
use std::collections::BTreeMap;

/// What the suite may expect of the source under test.
#[derive(Debug, Clone)]
pub struct MarketDataExpectations {
    /// The symbols the source was opened for.
    pub symbols: Vec<Symbol>,
    /// Read this many events, or to the end of a finite source.
    pub events: usize,
    /// At least this many must come (a source known to hold or stream that much).
    pub at_least: usize,
    /// At least one book snapshot and its deltas must come.
    pub has_book: bool,
    /// The source is finite: it must end within `events`.
    pub finite: bool,
}

/// Counts of what the suite saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarketDataSeen {
    /// Events read.
    pub events: usize,
    /// Book snapshots.
    pub snapshots: usize,
    /// Book deltas applied.
    pub deltas: usize,
    /// Undecodable records skipped.
    pub undecodable: usize,
}

/// Runs the suite on `source`.
///
/// # Panics
/// When the source breaks the contract.
pub async fn market_data_source_suite(
    source: &mut dyn MarketDataSource,
    expect: &MarketDataExpectations,
) -> MarketDataSeen {
    let mut seen = MarketDataSeen::default();
    let mut books: BTreeMap<Symbol, OrderBook> = BTreeMap::new();
    let mut ended = false;
    let mut transient = 0;
    while seen.events < expect.events {
        let event = match source.next().await {
            Ok(Some(event)) => event,
            Ok(None) => {
                ended = true;
                break;
            }
            Err(PortError::Codec { bytes, message }) => {
                assert!(
                    !bytes.is_empty(),
                    "an undecodable record keeps its bytes ({message})"
                );
                seen.undecodable += 1;
                continue;
            }
            Err(e) if e.is_transient() && transient < 100 => {
                transient += 1;
                continue;
            }
            Err(e) => panic!("market data failed: {e}"),
        };
        seen.events += 1;
        assert!(
            expect.symbols.contains(event.symbol()),
            "event for {} not among {:?}",
            event.symbol(),
            expect.symbols
        );
        match &event {
            MarketEvent::BookSnapshot(s) => {
                let book = books.entry(s.symbol.clone()).or_default();
                book.apply_snapshot(s)
                    .expect("a snapshot applies (with the deltas buffered before it)");
                seen.snapshots += 1;
            }
            MarketEvent::BookDelta(d) => {
                let book = books.entry(d.symbol.clone()).or_default();
                let synced = book.is_synced();
                if let Err(gap) = book.apply_delta(d) {
                    panic!("{}: deltas must chain after a snapshot: {gap}", d.symbol);
                }
                if synced {
                    seen.deltas += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        seen.events >= expect.at_least,
        "{} events, expected at least {}",
        seen.events,
        expect.at_least
    );
    if expect.has_book {
        assert!(seen.snapshots >= 1 && seen.deltas >= 1, "a book: {seen:?}");
    }
    if expect.finite {
        assert!(
            ended,
            "a finite source ends within {} events",
            expect.events
        );
        assert!(
            matches!(source.next().await, Ok(None)),
            "an ended source stays ended"
        );
    }
    seen
}
