//! Market-data latency in a backtest: the venue sees an event at its time, the strategies
//! after the configured delay, in publication order.

use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::ids::PortfolioId;
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{Scripted, ScriptedOrder};
use chimera_kernel::testing::{bar, btc_perp, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{Backtest, SimConfig};

fn run(config: SimConfig) -> Vec<chimera_sim::FillRow> {
    let mut backtest = Backtest::new(config, 60_000);
    backtest.add_instrument(btc_perp());
    let mut portfolio = Portfolio::new(PortfolioId::new("p"), "USDT".into());
    portfolio.add_instrument(btc_perp());
    portfolio.deposit("USDT".into(), Amount::new(Decimal::from(1_000_000)));
    let order = ScriptedOrder {
        at: Timestamp(60_000),
        side: Side::Buy,
        qty: qty(Decimal::ONE),
    };
    backtest.add_portfolio(PortfolioEngine::new(
        portfolio,
        Box::new(Scripted::new(vec![order], None)),
    ));
    for minute in 0..5 {
        backtest.step(&bar("BTCUSDT", minute, Decimal::from(100 + minute)));
    }
    backtest.finish().2
}

#[test]
fn strategies_see_the_market_late_and_their_orders_leave_late() {
    let prompt = run(SimConfig::default());
    assert_eq!(prompt.len(), 1);
    let sent = |f: &chimera_sim::FillRow| f.costs.as_ref().map(|c| c.sent_at);
    assert_eq!(sent(&prompt[0]), Some(Timestamp(60_000)));
    assert_eq!(prompt[0].price.get(), Decimal::from(101));

    let late = run(SimConfig {
        market_data_latency_ms: 90_000,
        ..SimConfig::default()
    });
    assert_eq!(late.len(), 1);
    assert_eq!(
        sent(&late[0]),
        Some(Timestamp(150_000)),
        "the minute-1 bar reached the strategy 90 s later"
    );
    assert_eq!(
        late[0].price.get(),
        Decimal::from(102),
        "by then the venue had moved on to the minute-2 bar"
    );
}

#[test]
fn jittered_latency_is_the_same_for_a_seed() {
    let config = SimConfig {
        market_data_latency_ms: 1_000,
        market_data_jitter_ms: 80_000,
        seed: 9,
        ..SimConfig::default()
    };
    let first = run(config.clone());
    assert_eq!(first, run(config), "same seed, same fills");
    let sent = first[0].costs.as_ref().map(|c| c.sent_at.0);
    assert!(
        sent.is_some_and(|t| t > 61_000),
        "the jitter delayed the order beyond the fixed second: {sent:?}"
    );
}
