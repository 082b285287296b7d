//! Backtests the example breakout strategy on a bar file (default: the reference BTC bars).

use chimera_examples::Breakout;
use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::value::{Amount, Quantity};
use chimera_kernel::Decimal;
use chimera_sim::{Backtest, SimConfig};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map(PathBuf::from).or_else(|| {
        std::env::var_os("CHIMERA_REFERENCE_DATA")
            .map(|d| PathBuf::from(d).join("bars/btc-perp-20211231-20220201_1m.csv"))
    });
    let Some(path) = path else {
        eprintln!("usage: breakout BARS.csv (or set CHIMERA_REFERENCE_DATA)");
        std::process::exit(2);
    };
    let instrument = Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp)?;
    let mut portfolio = Portfolio::new(PortfolioId::new("breakout"), Asset::new("USDT"));
    portfolio.deposit(Asset::new("USDT"), Amount::new(Decimal::from(100_000)));
    portfolio.add_instrument(instrument.clone());
    let mut backtest = Backtest::new(SimConfig::default(), 60_000);
    backtest.add_instrument(instrument);
    backtest.add_portfolio(PortfolioEngine::new(
        portfolio,
        Box::new(Breakout::new(60, Quantity::new(Decimal::new(1, 1))?)),
    ));
    for event in chimera_replay::open_market_data(&path, None, &Symbol::new("BTCUSDT"))? {
        backtest.step(&event?);
    }
    let (summaries, _, fills) = backtest.finish();
    for s in summaries {
        println!(
            "{}: final equity {}, realized {}, fees {}, {} fills, max drawdown {}",
            s.portfolio_id,
            s.final_equity.round_dp(2),
            s.realized_pnl.round_dp(2),
            s.fees.round_dp(2),
            fills.len(),
            s.max_drawdown
        );
    }
    Ok(())
}
