//! Memory stays flat however long a run is: the reference bars ten times end to end through one
//! engine (each pass shifted after the previous one) against the simulated venue, with the
//! engine's retained state measured after every pass. Whatever grows with the run (finished
//! orders, refusals, issues) leaves through the output drain; what the engine keeps (open
//! orders, the recently-finished window, pending outputs, its snapshot) must not grow.

use chimera_kernel::engine::{PortfolioEngine, RECENTLY_FINISHED};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::build_strategy;
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_replay::CsvBarReader;
use chimera_sim::{Backtest, SimConfig};
use std::io::BufReader;
use std::path::PathBuf;

fn reference_bars() -> Option<Vec<MarketEvent>> {
    let dir = std::env::var_os("CHIMERA_REFERENCE_DATA").map(PathBuf::from);
    let path = dir.map(|d| d.join("bars/btc-perp-20211231-20220201_1m.csv"));
    let Some(path) = path.filter(|p| p.is_file()) else {
        println!("skipped: CHIMERA_REFERENCE_DATA does not point at the reference data");
        return None;
    };
    let file = std::fs::File::open(&path).ok()?;
    let reader = CsvBarReader::new(BufReader::new(file), &path, Symbol::new("BTCUSDT"));
    Some(reader.filter_map(Result::ok).collect())
}

fn shifted(event: &MarketEvent, by_ms: i64) -> MarketEvent {
    match event {
        MarketEvent::Bar(bar) => MarketEvent::Bar(chimera_kernel::event::Bar {
            ts: Timestamp(bar.ts.0 + by_ms),
            ..bar.clone()
        }),
        other => other.clone(),
    }
}

#[test]
fn ten_passes_over_the_reference_bars_retain_no_more_than_one() {
    let Some(bars) = reference_bars() else { return };
    let span = bars.last().map_or(0, |b| b.ts().0) - bars.first().map_or(0, |b| b.ts().0) + 60_000;
    let params = [("fast", "10"), ("slow", "20"), ("qty", "0.1")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let instrument = Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp)
        .unwrap_or_else(|e| panic!("instrument: {e}"));
    let mut portfolio = Portfolio::new(PortfolioId::new("flat"), Asset::new("USDT"));
    portfolio.add_instrument(instrument.clone());
    portfolio.deposit(
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(10_000_000)),
    );
    let strategy = build_strategy("ema-cross", &params).unwrap_or_else(|e| panic!("{e}"));
    let mut backtest = Backtest::new(SimConfig::default(), i64::MAX);
    backtest.add_instrument(instrument);
    backtest.add_portfolio(PortfolioEngine::new(portfolio, strategy));
    let mut retained = Vec::new();
    for pass in 0..10_i64 {
        for bar in &bars {
            backtest.step(&shifted(bar, pass * span));
        }
        let engine = backtest.engines().next().unwrap_or_else(|| unreachable!());
        let snapshot = serde_json::to_string(&engine.snapshot())
            .unwrap_or_else(|e| panic!("snapshot: {e}"))
            .len();
        retained.push((
            engine.open_orders().count(),
            engine.pending_outputs(),
            snapshot,
            engine.stats().fills,
        ));
    }
    println!(
        "retained after each pass (open orders, pending outputs, snapshot bytes, fills so far): {retained:?}"
    );
    assert_eq!(backtest.progress().events, 10 * bars.len() as u64);
    assert!(retained[9].3 > 9 * retained[0].3, "every pass trades");
    let first = retained[0];
    // Only digits may lengthen: counters, balances, and the ids in the window of recently
    // finished orders (one character each when the order count gains a digit).
    let slack = 2 * RECENTLY_FINISHED + 64;
    for (pass, state) in retained.iter().enumerate() {
        assert_eq!(state.0, first.0, "open orders after pass {pass}");
        assert_eq!(state.1, 0, "nothing left undrained after pass {pass}");
        assert!(
            state.2 <= first.2 + slack,
            "snapshot grew after pass {pass}: {retained:?}"
        );
    }
}
