//! Market data against the fake replaying real captures: the local book equals the fake's
//! book after the first synchronisation and after every resynchronisation (a depth gap, a
//! snapshot that lags the diffs, a dropped connection), on spot (`U`/`u` chaining) and
//! USDⓈ-M (`pu` chaining, routed `/public` and `/market` streams, mark price, funding).
//! The events the source emits rebuild the same book downstream.
//!
//! Needs `CHIMERA_REFERENCE_DATA` (the Binance captures); skips with a message without it.

use chimera_binance::{BinanceConfig, BinanceMarketData, Product};
use chimera_fake_binance::faults::Faults;
use chimera_fake_binance::{Fake, FakeConfig, FakeProduct};
use chimera_kernel::event::{BookLevel, MarketEvent, OrderBook};
use chimera_ports::MarketDataSource;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Levels compared per side: Binance's snapshots stop at 1000 levels, so deeper levels of the
/// fake's book (from the capture's own snapshot) are not comparable after a resync.
const COMPARED_LEVELS: usize = 300;

fn capture(relative: &str) -> Option<PathBuf> {
    let Some(root) = std::env::var_os("CHIMERA_REFERENCE_DATA") else {
        println!("skipped: CHIMERA_REFERENCE_DATA is not set (Binance captures)");
        return None;
    };
    let path = PathBuf::from(root).join("binance").join(relative);
    if path.is_file() {
        Some(path)
    } else {
        println!("skipped: {} is missing", path.display());
        None
    }
}

/// What the test saw.
#[derive(Default)]
struct Seen {
    quotes: u64,
    trades: u64,
    marks: u64,
    funding: Vec<MarketEvent>,
    /// The book rebuilt from the emitted snapshots and deltas.
    downstream: OrderBook,
}

impl Seen {
    fn take(&mut self, event: MarketEvent) {
        match event {
            MarketEvent::Quote(_) => self.quotes += 1,
            MarketEvent::Trade(_) => self.trades += 1,
            MarketEvent::MarkPrice(_) => self.marks += 1,
            MarketEvent::Funding(_) => self.funding.push(event),
            MarketEvent::BookSnapshot(s) => {
                self.downstream = OrderBook::new();
                self.downstream
                    .apply_snapshot(&s)
                    .expect("emitted snapshot applies");
            }
            MarketEvent::BookDelta(d) => {
                self.downstream
                    .apply_delta(&d)
                    .expect("emitted deltas chain");
            }
            MarketEvent::Bar(_) => {}
        }
    }
}

async fn start(product: FakeProduct, file: PathBuf) -> (Arc<Fake>, BinanceMarketData) {
    let mut config = FakeConfig::new(product);
    config.captures = vec![file];
    config.replay_speed = 10.0;
    config.funding_interval_ms = 1_000;
    let (fake, base, server) = Fake::start(config).await.expect("fake starts");
    std::mem::forget(server); // lives for the test process
    let (kind, speed) = match product {
        FakeProduct::Spot => (Product::Spot, 100),
        FakeProduct::Usdm => (Product::Usdm, 0),
    };
    let mut config = BinanceConfig::custom(kind, &base);
    config.symbols = vec!["BTCUSDT".into()];
    config.depth_speed_ms = speed;
    let source = BinanceMarketData::connect(&config).expect("connects");
    (fake, source)
}

/// Reads events for `run`, then holds the replay and reads until the stream is quiet.
async fn run_then_hold(
    fake: &Fake,
    source: &mut BinanceMarketData,
    seen: &mut Seen,
    run: Duration,
) {
    fake.market().paused = false;
    let until = tokio::time::Instant::now() + run;
    while tokio::time::Instant::now() < until {
        if let Ok(event) = tokio::time::timeout(Duration::from_millis(50), source.next()).await {
            seen.take(event.expect("decodes").expect("live"));
        }
    }
    fake.market().paused = true;
    while let Ok(event) = tokio::time::timeout(Duration::from_millis(400), source.next()).await {
        seen.take(event.expect("decodes").expect("live"));
    }
}

fn top(levels: impl Iterator<Item = BookLevel>) -> Vec<BookLevel> {
    levels.take(COMPARED_LEVELS).collect()
}

fn assert_books_equal(fake: &Fake, source: &BinanceMarketData, seen: &Seen, when: &str) {
    let market = fake.market();
    let theirs = market.book("BTCUSDT").expect("the fake has a book");
    let ours = source
        .book("BTCUSDT")
        .unwrap_or_else(|| panic!("{when}: not synchronised"));
    assert_eq!(
        ours.last_update_id(),
        theirs.last_update_id(),
        "{when}: same update"
    );
    assert_eq!(top(ours.bids()), top(theirs.bids()), "{when}: bids");
    assert_eq!(top(ours.asks()), top(theirs.asks()), "{when}: asks");
    let down = &seen.downstream;
    assert_eq!(
        down.last_update_id(),
        ours.last_update_id(),
        "{when}: downstream"
    );
    assert!(
        down.bids().eq(ours.bids()) && down.asks().eq(ours.asks()),
        "{when}: downstream book"
    );
}

async fn book_survives_every_fault(product: FakeProduct, file: PathBuf) -> Seen {
    let (fake, mut source) = start(product, file).await;
    let mut seen = Seen::default();
    run_then_hold(&fake, &mut source, &mut seen, Duration::from_secs(2)).await;
    assert_books_equal(&fake, &source, &seen, "first sync");
    assert_eq!(source.stats().syncs, 1);

    fake.set_faults(Faults {
        depth_gaps: 1,
        lagging_snapshots: 2,
        ..Faults::default()
    });
    run_then_hold(&fake, &mut source, &mut seen, Duration::from_secs(2)).await;
    assert_books_equal(&fake, &source, &seen, "after a gap and lagging snapshots");
    let stats = source.stats();
    assert!(stats.gaps >= 1 && stats.lagging_snapshots >= 2, "{stats:?}");

    fake.set_faults(Faults {
        close_market_streams: true,
        ..Faults::default()
    });
    run_then_hold(&fake, &mut source, &mut seen, Duration::from_secs(2)).await;
    assert_books_equal(&fake, &source, &seen, "after a reconnect");
    let stats = source.stats();
    assert!(stats.reconnects >= 1 && stats.syncs >= 3, "{stats:?}");
    assert!(
        seen.quotes > 100 && seen.trades > 10,
        "quotes {} trades {}",
        seen.quotes,
        seen.trades
    );
    println!(
        "{product:?}: {stats:?}; {} quotes, {} trades, {} marks, {} funding; book at update {:?}",
        seen.quotes,
        seen.trades,
        seen.marks,
        seen.funding.len(),
        source.book("BTCUSDT").and_then(OrderBook::last_update_id)
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spot_book_equals_the_fakes_through_gaps_lags_and_reconnects() {
    let Some(file) = capture("spot/btcusdt_20240808.gz") else {
        return;
    };
    let seen = book_survives_every_fault(FakeProduct::Spot, file).await;
    assert_eq!(seen.marks, 0, "spot has no mark price");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usdm_book_marks_and_funding_through_routed_streams() {
    let Some(file) = capture("usdm/btcusdt_20240808.gz") else {
        return;
    };
    let seen = book_survives_every_fault(FakeProduct::Usdm, file).await;
    assert!(seen.marks >= 5, "mark price from /market: {}", seen.marks);
    assert!(!seen.funding.is_empty(), "a funding time passed");
    let MarketEvent::Funding(f) = &seen.funding[0] else {
        unreachable!()
    };
    assert_eq!(f.rate, rust_decimal::Decimal::new(1, 4));
    assert_eq!(f.ts.0 % 1_000, 0, "settles on the funding grid");
}

/// The market-data conformance suite on Binance's streams (the fake replaying a capture).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_market_data_conforms() {
    let Some(file) = capture("spot/btcusdt_20240808.gz") else {
        return;
    };
    let (_fake, mut source) = start(FakeProduct::Spot, file).await;
    let expect = chimera_ports::conformance::MarketDataExpectations {
        symbols: vec![chimera_kernel::ids::Symbol::new("BTCUSDT")],
        events: 2_000,
        at_least: 2_000,
        has_book: true,
        finite: false,
    };
    let seen = tokio::time::timeout(
        Duration::from_mins(1),
        chimera_ports::conformance::market_data_source_suite(&mut source, &expect),
    )
    .await
    .expect("2000 events within a minute");
    println!("{seen:?}");
}
