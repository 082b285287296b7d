//! Reading ahead on a thread of its own: parsing a file is a fifth of a bar backtest's work and
//! needs nothing from the engine, so on a machine with a second core it runs beside it.

use crate::source::EventReader;
use crate::ReadError;
use chimera_kernel::event::MarketEvent;
use std::sync::mpsc::{sync_channel, Receiver};

/// Events handed over per batch: large enough that the hand-over costs nothing per event,
/// small enough that the engine starts at once.
const BATCH: usize = 1024;
/// Batches parsed ahead at most (bounds the memory read ahead to a few thousand events).
const AHEAD: usize = 4;

type Batch = Vec<Result<MarketEvent, ReadError>>;

/// `reader`, read on a thread of its own, `BATCH` events at a time, at most `AHEAD` batches
/// ahead of the consumer. The events and errors arrive in the reader's order; dropping the
/// returned reader stops the thread at its next batch. When no thread can be started, `reader`
/// is returned as it was.
pub fn read_ahead(reader: EventReader) -> EventReader {
    let (tx, rx) = sync_channel::<Batch>(AHEAD);
    let mut source = reader;
    let spawned = std::thread::Builder::new()
        .name("chimera-read-ahead".into())
        .spawn(move || loop {
            let batch: Batch = source.by_ref().take(BATCH).collect();
            let last = batch.len() < BATCH;
            if tx.send(batch).is_err() || last {
                return;
            }
        });
    match spawned {
        Ok(_) => Box::new(Ahead {
            rx,
            current: Vec::new().into_iter(),
        }),
        // The closure owned the reader: without a thread there is nothing to read from.
        Err(e) => Box::new(std::iter::once(Err(ReadError::Io {
            path: "read-ahead".into(),
            source: e,
        }))),
    }
}

struct Ahead {
    rx: Receiver<Batch>,
    current: std::vec::IntoIter<Result<MarketEvent, ReadError>>,
}

impl Iterator for Ahead {
    type Item = Result<MarketEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            // A closed channel is the end of the data: the thread sends a short last batch.
            self.current = self.rx.recv().ok()?.into_iter();
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
}
