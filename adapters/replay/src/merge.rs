//! [`merge_in_time`]: several readers as one stream in event-time order.

use crate::source::EventReader;
use chimera_kernel::event::MarketEvent;
use std::iter::Peekable;

/// Merges `readers` into one reader in event-time order; on equal times the earlier reader goes
/// first, so the merge is deterministic. A reader's error is yielded as soon as that reader
/// reaches it, and the reader continues after it (as the readers themselves do).
pub fn merge_in_time(readers: Vec<EventReader>) -> EventReader {
    Box::new(Merged {
        readers: readers.into_iter().map(Iterator::peekable).collect(),
    })
}

struct Merged {
    readers: Vec<Peekable<EventReader>>,
}

impl Iterator for Merged {
    type Item = Result<MarketEvent, crate::ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, i64)> = None;
        for (i, reader) in self.readers.iter_mut().enumerate() {
            match reader.peek() {
                Some(Err(_)) => return reader.next(),
                Some(Ok(e)) if best.is_none_or(|(_, ts)| e.ts().0 < ts) => {
                    best = Some((i, e.ts().0));
                }
                Some(Ok(_)) | None => {}
            }
        }
        let (i, _) = best?;
        self.readers[i].next()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::ReadError;
    use chimera_kernel::event::Bar;
    use chimera_kernel::ids::Symbol;
    use chimera_kernel::time::Timestamp;
    use chimera_kernel::value::{Price, Quantity};

    fn bar(symbol: &str, ts: i64) -> MarketEvent {
        let p: Price = "1".parse().unwrap();
        MarketEvent::Bar(Bar {
            symbol: Symbol::new(symbol),
            ts: Timestamp(ts),
            open: p,
            high: p,
            low: p,
            close: p,
            volume: Quantity::ZERO,
        })
    }

    #[test]
    fn merges_in_time_order_and_passes_errors_through() {
        let bad = Err(ReadError::Line {
            path: "b.csv".into(),
            line: 2,
            raw: "x".into(),
            message: "bad".into(),
        });
        let a: EventReader =
            Box::new(vec![Ok(bar("A", 1)), Ok(bar("A", 3)), Ok(bar("A", 3))].into_iter());
        let b: EventReader = Box::new(vec![Ok(bar("B", 2)), bad, Ok(bar("B", 3))].into_iter());
        let got: Vec<String> = merge_in_time(vec![a, b])
            .map(|r| match r {
                Ok(e) => format!("{}{}", e.symbol().as_str(), e.ts().0),
                Err(_) => "err".into(),
            })
            .collect();
        assert_eq!(got, ["A1", "B2", "err", "A3", "A3", "B3"]);
    }
}
