//! Readers against the real reference data in `$CHIMERA_REFERENCE_DATA` (skipped when unset).

use chimera_kernel::event::{MarketEvent, OrderBook};
use chimera_kernel::ids::Symbol;
use chimera_ports::{MarketDataSource, PortError};
use chimera_replay::{open_market_data, FileMarketData};
use std::path::PathBuf;

fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from) {
        Some(dir) if dir.is_dir() => Some(dir),
        _ => {
            println!(
                "skipped: CHIMERA_REFERENCE_DATA is not set to a directory (see README, Tests)"
            );
            None
        }
    }
}

#[test]
fn bar_file_reads_every_row() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("bars/btc-perp-20211231-20220201_1m.csv");
    let reader = open_market_data(&path, None, &Symbol::new("BTCUSDT")).unwrap();
    let mut count = 0;
    let mut last_ts = None;
    for event in reader {
        let MarketEvent::Bar(bar) = event.unwrap() else {
            panic!("bars only")
        };
        assert!(last_ts.is_none_or(|t| t < bar.ts), "timestamps ascend");
        last_ts = Some(bar.ts);
        count += 1;
    }
    assert_eq!(count, 45_031);
}

/// Builds the book from each capture and checks it against every bookTicker that refers to the
/// book's current update id: best bid/ask and their sizes must be equal.
#[test]
fn books_built_from_captures_match_book_tickers() {
    let Some(dir) = data_dir() else { return };
    for file in [
        "binance/spot/btcusdt_20240808.gz",
        "binance/spot/ethusdt_20240808.gz",
        "binance/usdm/btcusdt_20240808.gz",
        "binance/usdm/ethusdt_20240808.gz",
        "binance/coinm/btcusd_perp_20240808.gz",
    ] {
        let path = dir.join(file);
        let reader = open_market_data(&path, None, &Symbol::new("UNUSED")).unwrap();
        let mut book = OrderBook::new();
        // Quotes wait (by update id) until the book reaches their id: a bookTicker usually
        // arrives before the batched depth diff that ends at the same id.
        let mut waiting: std::collections::BTreeMap<u64, chimera_kernel::event::Quote> =
            std::collections::BTreeMap::new();
        let (mut checked, mut events, mut trades) = (0, 0, 0);
        let mut compare = |book: &OrderBook,
                           waiting: &mut std::collections::BTreeMap<
            u64,
            chimera_kernel::event::Quote,
        >| {
            let Some(last) = book.last_update_id() else {
                return;
            };
            if let Some(q) = waiting.remove(&last) {
                let (bid, ask) = (book.best_bid().unwrap(), book.best_ask().unwrap());
                assert_eq!(
                    (bid.price, bid.qty, ask.price, ask.qty),
                    (q.bid, q.bid_qty, q.ask, q.ask_qty),
                    "{file}: quote at u={last}"
                );
                checked += 1;
            }
            *waiting = waiting.split_off(&last);
        };
        for event in reader {
            let event = event.unwrap_or_else(|e| panic!("{e}"));
            events += 1;
            match event {
                MarketEvent::BookSnapshot(s) => book.apply_snapshot(&s).unwrap(),
                MarketEvent::BookDelta(d) => book
                    .apply_delta(&d)
                    .unwrap_or_else(|e| panic!("{file}: {e}")),
                MarketEvent::Quote(q) => {
                    if let Some(u) = q.update_id {
                        waiting.insert(u, q);
                    }
                }
                MarketEvent::Trade(_) => trades += 1,
                _ => {}
            }
            compare(&book, &mut waiting);
        }
        println!("{file}: {events} events, {trades} trades, {checked} quotes matched the book");
        assert!(book.is_synced(), "{file}: book synchronised");
        assert!(
            checked > 100,
            "{file}: only {checked} quotes could be checked"
        );
        assert!(trades > 0, "{file}: trades read");
    }
}

#[tokio::test]
async fn file_source_turns_bad_lines_into_codec_errors_and_continues() {
    let dir = std::env::temp_dir().join(format!("chimera-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bars.csv");
    std::fs::write(&path, "timestamp,open,high,low,close,volume\n2022-01-01T00:00:00Z,1,1,1,1,1\nbad\n2022-01-01T00:01:00Z,2,2,2,2,2\n").unwrap();
    let mut source = FileMarketData::new(open_market_data(&path, None, &Symbol::new("X")).unwrap());
    assert!(source.next().await.unwrap().is_some());
    match source.next().await {
        Err(PortError::Codec { bytes, message }) => {
            assert_eq!(bytes, b"bad");
            assert!(message.contains(":3"), "{message}");
        }
        other => panic!("expected a codec error, got {other:?}"),
    }
    assert!(
        source.next().await.unwrap().is_some(),
        "continues after the bad line"
    );
    assert!(source.next().await.unwrap().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The market-data conformance suite on a capture replay: symbols, a book kept whole by the
/// documented procedure, a finite source that ends and stays ended.
#[tokio::test]
async fn a_capture_replay_conforms() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("binance/usdm/btcusdt_20240808.gz");
    let reader = open_market_data(&path, None, &Symbol::new("BTCUSDT")).unwrap();
    let mut source = FileMarketData::new(reader);
    let seen = chimera_ports::conformance::market_data_source_suite(
        &mut source,
        &chimera_ports::conformance::MarketDataExpectations {
            symbols: vec![Symbol::new("BTCUSDT")],
            events: 200_000,
            at_least: 90_000,
            has_book: true,
            finite: true,
        },
    )
    .await;
    println!("{seen:?}");
}
