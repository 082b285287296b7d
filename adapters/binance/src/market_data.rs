//! [`BinanceMarketData`]: Binance's public streams as a [`MarketDataSource`], with a local
//! order book per symbol kept by the documented procedure.
//!
//! Depth: diffs are buffered from the moment the stream opens, a REST snapshot is fetched,
//! and the book starts from the snapshot with the first diff that straddles it (spot chains
//! diffs by `U` = previous `u` + 1, futures by `pu` = previous `u`). A snapshot older than
//! the first buffered diff ("lags the diffs") is fetched again; a snapshot newer than every
//! buffered diff waits for the diff that reaches it. Any break in the chain, or a lost
//! connection, starts the procedure over.
//!
//! What comes out: after each synchronisation one [`MarketEvent::BookSnapshot`] (the whole
//! local book), then each applied diff as a [`MarketEvent::BookDelta`], so a consumer that
//! applies them in order holds the same book; `bookTicker` → quotes, trades, and on USDⓈ-M
//! the mark price each second plus a [`MarketEvent::Funding`] with the realised rate when a
//! funding time passes. A frame that does not decode is returned as
//! [`PortError::Codec`] with its bytes (the feed dead-letters it) and the stream goes on.

use crate::codec::market::{decode_frame, DepthSnapshot, StreamItem};
use crate::config::{BinanceConfig, Product};
use crate::error::BinanceError;
use crate::market_stream::{self, StreamInput};
use crate::paths::{self, Paths};
use crate::rest::{local_ms, Auth, Method, RestClient};
use crate::sign::Params;
use async_trait::async_trait;
use chimera_kernel::event::{BookDelta, BookSnapshot, FundingRate, MarketEvent, OrderBook};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_ports::{MarketDataSource, PortError, PortResult};
use rust_decimal::Decimal;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Levels asked for in a snapshot (Binance's cap for futures; weight 50 spot, 20 futures).
const SNAPSHOT_LIMIT: u32 = 1000;

/// What [`BinanceMarketData`] waits on: stream frames and losses, or a snapshot answer.
enum Input {
    Stream(StreamInput),
    Snapshot {
        symbol: String,
        generation: u64,
        result: Result<DepthSnapshot, BinanceError>,
    },
}

/// One symbol's local book and where its synchronisation stands.
#[derive(Default)]
struct BookSync {
    book: OrderBook,
    /// `U` of the first diff buffered since the last (re)start.
    first_buffered: Option<u64>,
    /// `u` of the last diff buffered.
    last_buffered: Option<u64>,
    /// A snapshot newer than every buffered diff, waiting for the diff that reaches it.
    pending: Option<BookSnapshot>,
    /// A snapshot request is out.
    fetching: bool,
    /// Bumped on every restart, so an answer to an older request is ignored.
    generation: u64,
}

/// Counters worth watching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Books (re)built from a snapshot.
    pub syncs: u64,
    /// Chain breaks seen in the diffs.
    pub gaps: u64,
    /// Snapshots refused because they were older than the buffered diffs.
    pub lagging_snapshots: u64,
    /// Connections lost or renewed.
    pub reconnects: u64,
}

/// Binance market data for the configured symbols.
pub struct BinanceMarketData {
    product: Product,
    rest: Arc<RestClient>,
    depth_path: &'static str,
    rx: mpsc::UnboundedReceiver<Input>,
    tx: mpsc::UnboundedSender<Input>,
    books: HashMap<String, BookSync>,
    funding: HashMap<String, (Decimal, i64)>,
    out: VecDeque<MarketEvent>,
    stats: SyncStats,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for BinanceMarketData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceMarketData")
            .field("product", &self.product)
            .field("symbols", &self.books.keys().collect::<Vec<_>>())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Drop for BinanceMarketData {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl BinanceMarketData {
    /// Opens the streams of `config.symbols` (no keys needed) and starts synchronising.
    ///
    /// # Errors
    /// A bad config, or no symbols.
    pub fn connect(config: &BinanceConfig) -> Result<Self, BinanceError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let opened = market_stream::open(config, tx.clone(), Input::Stream)?;
        Ok(Self {
            product: config.product,
            rest: opened.rest,
            depth_path: Paths::of(config.product).depth,
            rx,
            tx,
            books: opened
                .symbols
                .into_iter()
                .map(|s| (s, BookSync::default()))
                .collect(),
            funding: HashMap::new(),
            out: VecDeque::new(),
            stats: SyncStats::default(),
            tasks: opened.tasks,
        })
    }

    /// The local book of `symbol` while it is synchronised.
    pub fn book(&self, symbol: &str) -> Option<&OrderBook> {
        self.books
            .get(symbol)
            .map(|b| &b.book)
            .filter(|b| b.is_synced())
    }

    /// Synchronisation counters.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    fn handle(&mut self, input: Input) -> PortResult<()> {
        match input {
            Input::Stream(StreamInput::Frame(bytes, _)) => self.on_frame(&bytes),
            Input::Stream(StreamInput::Lost { depth_symbols }) => {
                self.stats.reconnects += 1;
                for symbol in depth_symbols {
                    self.restart(&symbol);
                }
                Ok(())
            }
            Input::Snapshot {
                symbol,
                generation,
                result,
            } => {
                self.on_snapshot(&symbol, generation, result);
                Ok(())
            }
        }
    }

    fn on_frame(&mut self, bytes: &[u8]) -> PortResult<()> {
        let item = decode_frame(bytes).map_err(|e| PortError::Codec {
            message: e.to_string(),
            bytes: e.bytes,
        })?;
        match item {
            StreamItem::Market(MarketEvent::BookDelta(delta)) => self.on_delta(delta),
            StreamItem::Market(event) => self.out.push_back(event),
            StreamItem::Mark {
                mark,
                rate,
                next_funding_ms,
            } => {
                let key = mark.symbol.as_str().to_owned();
                if let Some((announced, due)) = self.funding.get(&key).copied() {
                    if next_funding_ms > due && due > 0 {
                        // The announced rate settled at `due`.
                        self.out.push_back(MarketEvent::Funding(FundingRate {
                            symbol: mark.symbol.clone(),
                            ts: Timestamp(due),
                            rate: announced,
                            mark_price: mark.mark,
                        }));
                    }
                }
                self.funding.insert(key, (rate, next_funding_ms));
                self.out.push_back(MarketEvent::MarkPrice(mark));
            }
            StreamItem::Ignored => {}
        }
        Ok(())
    }

    fn on_delta(&mut self, delta: BookDelta) {
        let symbol = delta.symbol.as_str().to_owned();
        let Some(sync) = self.books.get_mut(&symbol) else {
            return;
        };
        if sync.book.is_synced() {
            match sync.book.apply_delta(&delta) {
                Ok(()) if sync.book.last_update_id() == Some(delta.final_update_id) => {
                    self.out.push_back(MarketEvent::BookDelta(delta));
                }
                Ok(()) => {}
                Err(gap) => {
                    tracing::warn!(%symbol, error = %gap, "order book: resynchronising");
                    self.stats.gaps += 1;
                    self.restart(&symbol);
                    self.buffer(&delta);
                }
            }
            return;
        }
        self.buffer(&delta);
    }

    /// Buffers an unsynchronised book's diff; applies a waiting snapshot it reaches; asks
    /// for a snapshot if none is out.
    fn buffer(&mut self, delta: &BookDelta) {
        let symbol = delta.symbol.as_str().to_owned();
        let Some(sync) = self.books.get_mut(&symbol) else {
            return;
        };
        sync.first_buffered.get_or_insert(delta.first_update_id);
        sync.last_buffered = Some(delta.final_update_id);
        let _ = sync.book.apply_delta(delta); // unsynchronised: buffers
        if let Some(snapshot) = sync.pending.take() {
            self.try_snapshot(&symbol, snapshot);
        } else if !sync.fetching {
            self.fetch(&symbol, Duration::ZERO);
        }
    }

    fn restart(&mut self, symbol: &str) {
        if let Some(sync) = self.books.get_mut(symbol) {
            let generation = sync.generation + 1;
            *sync = BookSync {
                generation,
                ..BookSync::default()
            };
        }
    }

    fn fetch(&mut self, symbol: &str, delay: Duration) {
        let Some(sync) = self.books.get_mut(symbol) else {
            return;
        };
        sync.fetching = true;
        let generation = sync.generation;
        let rest = Arc::clone(&self.rest);
        let tx = self.tx.clone();
        let path = self.depth_path;
        let cost = paths::cost(self.product, 50, 20);
        let symbol = symbol.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let params = Params::new()
                .with("symbol", &symbol)
                .with("limit", SNAPSHOT_LIMIT);
            let result = rest
                .call::<DepthSnapshot>(Method::Get, path, params, Auth::None, cost)
                .await;
            let _ = tx.send(Input::Snapshot {
                symbol,
                generation,
                result,
            });
        });
    }

    fn on_snapshot(
        &mut self,
        symbol: &str,
        generation: u64,
        result: Result<DepthSnapshot, BinanceError>,
    ) {
        let Some(sync) = self.books.get_mut(symbol) else {
            return;
        };
        if sync.generation != generation {
            return;
        }
        sync.fetching = false;
        let snapshot = match result.map_err(|e| e.to_string()).and_then(|s| {
            s.to_event(symbol, local_ms())
                .map_err(|e| format!("undecodable snapshot: {e}"))
        }) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%symbol, error = %e, "order book: snapshot failed; retrying");
                self.fetch(symbol, Duration::from_millis(500));
                return;
            }
        };
        self.try_snapshot(symbol, snapshot);
    }

    /// Starts the book from `snapshot` if the buffered diffs allow it.
    fn try_snapshot(&mut self, symbol: &str, snapshot: BookSnapshot) {
        let Some(sync) = self.books.get_mut(symbol) else {
            return;
        };
        let (Some(first), Some(last)) = (sync.first_buffered, sync.last_buffered) else {
            sync.pending = Some(snapshot);
            return;
        };
        if snapshot.last_update_id + 1 < first {
            // Older than what the stream already sent: the diffs in between are lost to us.
            self.stats.lagging_snapshots += 1;
            self.fetch(symbol, Duration::from_millis(100));
            return;
        }
        if last <= snapshot.last_update_id {
            sync.pending = Some(snapshot);
            return;
        }
        match sync.book.apply_snapshot(&snapshot) {
            Ok(()) => {
                sync.first_buffered = None;
                sync.last_buffered = None;
                self.stats.syncs += 1;
                let book = &sync.book;
                self.out.push_back(MarketEvent::BookSnapshot(BookSnapshot {
                    symbol: Symbol::new(symbol),
                    ts: snapshot.ts,
                    last_update_id: book.last_update_id().unwrap_or(snapshot.last_update_id),
                    bids: book.bids().collect(),
                    asks: book.asks().collect(),
                }));
            }
            Err(gap) => {
                tracing::warn!(%symbol, error = %gap, "order book: snapshot does not bridge the diffs");
                self.stats.gaps += 1;
                self.restart(symbol);
            }
        }
    }
}

#[async_trait]
impl MarketDataSource for BinanceMarketData {
    async fn next(&mut self) -> PortResult<Option<MarketEvent>> {
        loop {
            if let Some(event) = self.out.pop_front() {
                return Ok(Some(event));
            }
            let Some(input) = self.rx.recv().await else {
                return Ok(None);
            };
            self.handle(input)?;
        }
    }
}
