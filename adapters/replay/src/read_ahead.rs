//! Reading ahead on a thread of its own: parsing a file is a fifth of a bar backtest's work and
//! needs nothing from the engine, so on a machine with a second core it runs beside it.

use crate::source::EventReader;
use crate::ReadError;
use chimera_kernel::event::MarketEvent;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

/// Events handed over per batch: large enough that the hand-over costs nothing per event,
/// small enough that the engine starts at once.
const BATCH: usize = 1024;
/// Batches parsed ahead at most (bounds the memory read ahead to a few thousand events).
const AHEAD: usize = 4;

type Batch = Vec<Result<MarketEvent, ReadError>>;

/// `reader`, read on a thread of its own, `BATCH` events at a time, at most `AHEAD` batches
/// ahead of the consumer. The events and errors arrive in the reader's order; dropping the
/// returned reader stops the thread at its next batch. A reader that panics ends the stream with
/// a [`ReadError::Format`] rather than looking like a shorter file. When no thread can be
/// started, `reader` is returned as it was.
pub fn read_ahead(reader: EventReader) -> EventReader {
    let (tx, rx) = sync_channel::<Batch>(AHEAD);
    // The thread takes the reader out of this slot; if it cannot start, the reader is still here.
    let slot = Arc::new(Mutex::new(Some(reader)));
    let theirs = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("chimera-read-ahead".into())
        .spawn(move || {
            let Some(mut source) = theirs.lock().ok().and_then(|mut s| s.take()) else {
                return;
            };
            loop {
                let batch: Batch = source.by_ref().take(BATCH).collect();
                let last = batch.len() < BATCH;
                if tx.send(batch).is_err() || last {
                    return;
                }
            }
        });
    let Ok(thread) = spawned else {
        let unstarted = slot.lock().ok().and_then(|mut s| s.take());
        return unstarted.unwrap_or_else(|| Box::new(std::iter::empty()));
    };
    Box::new(Ahead {
        rx,
        current: Vec::new().into_iter(),
        thread: Some(thread),
    })
}

struct Ahead {
    rx: Receiver<Batch>,
    current: std::vec::IntoIter<Result<MarketEvent, ReadError>>,
    /// Joined at the end of the data, so a reader that panicked is an error, not a short file.
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Iterator for Ahead {
    type Item = Result<MarketEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            if let Ok(batch) = self.rx.recv() {
                self.current = batch.into_iter();
                continue;
            }
            // Closed: the thread sent its short last batch, or it died on the way.
            let died = self.thread.take().is_some_and(|t| t.join().is_err());
            return died.then(|| {
                Err(ReadError::Format {
                    path: "read-ahead".into(),
                    message: "the market-data reader stopped before the end of the data".into(),
                })
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chimera_kernel::event::Bar;
    use chimera_kernel::ids::Symbol;
    use chimera_kernel::time::Timestamp;
    use chimera_kernel::value::{Price, Quantity};
    use chimera_kernel::Decimal;

    fn bar(ts: i64) -> MarketEvent {
        let p = Price::new(Decimal::ONE).expect("price");
        MarketEvent::Bar(Bar {
            symbol: Symbol::new("X"),
            ts: Timestamp(ts),
            open: p,
            high: p,
            low: p,
            close: p,
            volume: Quantity::new(Decimal::ONE).expect("qty"),
        })
    }

    #[test]
    fn every_event_and_error_arrives_in_order_across_batches() {
        for n in [0, 1, BATCH - 1, BATCH, BATCH + 1, 5 * BATCH + 7] {
            let items: Vec<Result<MarketEvent, ReadError>> = (0..n)
                .map(|i| {
                    let ts = i64::try_from(i).expect("small");
                    if i % 333 == 5 {
                        Err(ReadError::Format {
                            path: "x".into(),
                            message: format!("bad {ts}"),
                        })
                    } else {
                        Ok(bar(ts))
                    }
                })
                .collect();
            let expected: Vec<String> = items
                .iter()
                .map(|r| match r {
                    Ok(e) => e.ts().0.to_string(),
                    Err(e) => e.to_string(),
                })
                .collect();
            let got: Vec<String> = read_ahead(Box::new(items.into_iter()))
                .map(|r| match r {
                    Ok(e) => e.ts().0.to_string(),
                    Err(e) => e.to_string(),
                })
                .collect();
            assert_eq!(got, expected, "{n} items");
        }
    }

    #[test]
    fn dropping_the_reader_early_stops_the_thread_without_hanging() {
        let endless: EventReader = Box::new((0..).map(|i| Ok(bar(i))));
        let first: Vec<i64> = read_ahead(endless)
            .take(3)
            .map(|r| r.expect("bar").ts().0)
            .collect();
        assert_eq!(first, vec![0, 1, 2]);
    }

    #[test]
    fn a_reader_that_panics_ends_in_an_error_not_a_short_file() {
        let dying: EventReader = Box::new((0..3).map(|i| {
            assert!(i < 2, "reader broke");
            Ok(bar(i))
        }));
        let items: Vec<Result<MarketEvent, ReadError>> = read_ahead(dying).collect();
        assert!(
            items.last().is_some_and(Result::is_err),
            "{} items",
            items.len()
        );
    }
}
