//! The fake's public market: one order book per symbol built from the replayed captures,
//! the subscribers of its streams, and the depth snapshots it answers.
//!
//! Streams are named as Binance names them (`btcusdt@depth@100ms`, `btcusdt@bookTicker`,
//! `btcusdt@trade`, `btcusdt@markPrice@1s`). A depth subscription gets the captured diffs
//! whatever speed it asks for. On USDⓈ-M, depth and bookTicker are served on the `/public`
//! route and trades and mark price on `/market`; an unrouted connection gets only `/public`
//! streams, silently, as on Binance since 2026-04.
//!
//! Faults: `depth_gaps` withholds the next diffs from subscribers (the book still applies
//! them), so clients see a break in the chain; `lagging_snapshots` answers the next depth
//! requests with the book as it was when the replay started, older than any diff a client
//! has buffered since.

use crate::config::FakeProduct;
use crate::wire::{dec, ApiError};
use chimera_kernel::event::{BookLevel, BookSnapshot, OrderBook};
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio::sync::mpsc::UnboundedSender;

/// The route a stream connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/stream`, `/ws/...`: everything on spot, only `/public` streams on USDⓈ-M.
    Unrouted,
    /// USDⓈ-M `/public/...`.
    Public,
    /// USDⓈ-M `/market/...`.
    Market,
}

/// A stream's family: `btcusdt@depth@100ms` → `btcusdt@depth`.
pub fn family(stream: &str) -> String {
    let mut parts = stream.splitn(3, '@');
    let symbol = parts.next().unwrap_or("").to_ascii_lowercase();
    let kind = parts.next().unwrap_or("");
    format!("{symbol}@{kind}")
}

/// Whether `stream` is delivered on `route` of `product`.
pub fn delivered(product: FakeProduct, route: Route, stream: &str) -> bool {
    if product == FakeProduct::Spot {
        return true;
    }
    let public = matches!(
        stream.split('@').nth(1),
        Some("depth" | "bookTicker" | "depth5" | "depth10" | "depth20")
    );
    match route {
        Route::Unrouted | Route::Public => public,
        Route::Market => !public,
    }
}

/// One stream connection.
struct Subscriber {
    /// Family → the name the client asked for.
    streams: HashMap<String, String>,
    /// Combined-stream envelope (`/stream?streams=`) or raw frames (`/ws/<stream>`).
    combined: bool,
    tx: UnboundedSender<String>,
}

/// The public market.
#[derive(Default)]
pub struct Market {
    books: HashMap<String, OrderBook>,
    initial: HashMap<String, BookSnapshot>,
    subscribers: Vec<Subscriber>,
    /// Replay held (tests compare books while nothing moves).
    pub paused: bool,
    /// Diffs still to withhold from subscribers.
    pub depth_gaps: u32,
    /// Depth requests still to answer with the replay's first book.
    pub lagging_snapshots: u32,
    /// USDⓈ-M: each symbol's next funding time (wall clock, ms).
    pub next_funding: HashMap<String, i64>,
}

impl Market {
    /// Registers a connection to `streams`; frames go to `tx`.
    pub fn subscribe(&mut self, streams: &[String], combined: bool, tx: UnboundedSender<String>) {
        self.subscribers.push(Subscriber {
            streams: streams.iter().map(|s| (family(s), s.clone())).collect(),
            combined,
            tx,
        });
    }

    /// Closes every stream connection (clients must reconnect).
    pub fn disconnect_all(&mut self) {
        self.subscribers.clear();
    }

    /// Sends `data` as stream `stream` to its subscribers.
    pub fn publish(&mut self, stream: &str, data: &Value) {
        let key = family(stream);
        let raw = data.to_string();
        self.subscribers.retain(|s| {
            let Some(asked) = s.streams.get(&key) else {
                return !s.tx.is_closed();
            };
            let frame = if s.combined {
                format!("{{\"stream\":{},\"data\":{raw}}}", json!(asked))
            } else {
                raw.clone()
            };
            s.tx.send(frame).is_ok()
        });
    }

    /// The book of `symbol`, when the replay has one.
    pub fn book(&self, symbol: &str) -> Option<&OrderBook> {
        self.books.get(symbol).filter(|b| b.is_synced())
    }

    /// Applies a captured snapshot (the book starts, or restarts, from it).
    pub fn apply_snapshot(&mut self, snapshot: &BookSnapshot) {
        let symbol = snapshot.symbol.as_str().to_owned();
        let book = self.books.entry(symbol.clone()).or_default();
        if book.apply_snapshot(snapshot).is_ok() && !self.initial.contains_key(&symbol) {
            self.initial.insert(
                symbol,
                BookSnapshot {
                    last_update_id: book.last_update_id().unwrap_or(0),
                    bids: book.bids().collect(),
                    asks: book.asks().collect(),
                    ..snapshot.clone()
                },
            );
        }
    }

    /// Applies a captured diff; whether clients should see it (the book is synchronised
    /// and no gap is being injected).
    pub fn apply_delta(&mut self, delta: &chimera_kernel::event::BookDelta) -> bool {
        let book = self
            .books
            .entry(delta.symbol.as_str().to_owned())
            .or_default();
        let synced = book.is_synced();
        if book.apply_delta(delta).is_err() {
            tracing::warn!(symbol = %delta.symbol, "fake market: the capture has a depth gap");
        }
        if !synced || !book.is_synced() {
            return false;
        }
        if self.depth_gaps > 0 {
            self.depth_gaps -= 1;
            return false;
        }
        true
    }

    /// `GET /api/v3/depth`, `GET /fapi/v1/depth` from the replayed book; `None` when the
    /// replay has no book for `symbol`.
    pub fn depth(&mut self, symbol: &str, limit: usize, now: i64) -> Option<Value> {
        let lagging = self.lagging_snapshots > 0;
        let (id, bids, asks): (u64, Vec<BookLevel>, Vec<BookLevel>) = if lagging {
            let first = self.initial.get(symbol)?;
            self.lagging_snapshots -= 1;
            (
                first.last_update_id,
                first.bids.iter().take(limit).copied().collect(),
                first.asks.iter().take(limit).copied().collect(),
            )
        } else {
            let book = self.book(symbol)?;
            (
                book.last_update_id()?,
                book.bids().take(limit).collect(),
                book.asks().take(limit).collect(),
            )
        };
        let side = |levels: Vec<BookLevel>| -> Vec<Value> {
            levels
                .iter()
                .map(|l| json!([dec(l.price.get()), dec(l.qty.get())]))
                .collect()
        };
        Some(
            json!({"lastUpdateId": id, "E": now, "T": now, "bids": side(bids), "asks": side(asks)}),
        )
    }
}

/// The `limit` of a depth request: Binance's default (100 spot, 500 futures) and cap.
///
/// # Errors
/// `-1100` for a limit that is not a number.
pub fn depth_limit(product: FakeProduct, limit: Option<&str>) -> Result<usize, ApiError> {
    let (default, cap) = match product {
        FakeProduct::Spot => (100, 5000),
        FakeProduct::Usdm => (500, 1000),
    };
    match limit {
        None => Ok(default),
        Some(text) => text.parse::<usize>().map(|l| l.clamp(1, cap)).map_err(|_| {
            ApiError::new(400, -1100, "Illegal characters found in parameter 'limit'.")
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdm_routes_streams_by_kind() {
        let usdm = FakeProduct::Usdm;
        assert!(delivered(usdm, Route::Public, "btcusdt@depth@0ms"));
        assert!(delivered(usdm, Route::Unrouted, "btcusdt@bookTicker"));
        assert!(!delivered(usdm, Route::Unrouted, "btcusdt@markPrice@1s"));
        assert!(delivered(usdm, Route::Market, "btcusdt@trade"));
        assert!(!delivered(usdm, Route::Market, "btcusdt@depth"));
        assert!(delivered(
            FakeProduct::Spot,
            Route::Unrouted,
            "btcusdt@trade"
        ));
        assert_eq!(family("BTCUSDT@depth@100ms"), "btcusdt@depth");
    }
}
