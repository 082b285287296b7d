//! Test fixtures shared across crates (enable the `testing` feature).

mod script;
mod timer_driven;

pub use script::{Script, ScriptStep, ScriptSteps};
pub use timer_driven::{intent_of, ReportLog, TimerDriven};

use crate::event::{Bar, ExecutionReport, Fill, Liquidity, MarketEvent, ReportKind};
use crate::ids::{Asset, ClientOrderId, PortfolioId, Symbol, TradeId};
use crate::instrument::{Instrument, MarketKind};
use crate::time::Timestamp;
use crate::value::{Money, Price, Quantity};
use rust_decimal::Decimal;

/// The EMA cross strategy, fast 3, slow 5, quantity 0.1: it crosses every few bars on
/// [`bar`]s of a wavy close.
///
/// # Panics
/// Never: the parameters are valid.
pub fn ema_cross_3_5() -> Box<dyn crate::strategy::Strategy> {
    let params = [("fast", "3"), ("slow", "5"), ("qty", "0.1")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    crate::strategy::build_strategy("ema-cross", &params).expect("valid ema-cross parameters")
}

/// Portfolio `id` trading [`btc_perp`] from 100,000 USDT with [`ema_cross_3_5`].
pub fn ema_cross_engine(id: &str) -> crate::engine::PortfolioEngine {
    let mut portfolio = crate::portfolio::Portfolio::new(id.into(), "USDT".into());
    portfolio.add_instrument(btc_perp());
    portfolio.deposit(
        "USDT".into(),
        crate::value::Amount::new(Decimal::from(100_000)),
    );
    crate::engine::PortfolioEngine::new(portfolio, ema_cross_3_5())
}

/// `BTCUSDT` perpetual with default filters and fees.
///
/// # Panics
/// Never: the symbol is well-formed.
pub fn btc_perp() -> Instrument {
    Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).expect("well-formed symbol")
}

/// `BTCUSDT` spot with default filters and fees.
///
/// # Panics
/// Never: the symbol is well-formed.
pub fn btc_spot() -> Instrument {
    Instrument::linear("BTCUSDT", "USDT", MarketKind::Spot).expect("well-formed symbol")
}

/// A price from a decimal.
///
/// # Panics
/// When `d` is not positive (a test bug).
pub fn px(d: Decimal) -> Price {
    Price::new(d).expect("test price must be positive")
}

/// A quantity from a decimal.
///
/// # Panics
/// When `d` is negative (a test bug).
pub fn qty(d: Decimal) -> Quantity {
    Quantity::new(d).expect("test quantity must be >= 0")
}

/// The `n`th order of `portfolio`, as a store sees it before the venue answers: a post-only
/// limit buy of 2 BTCUSDT at 42,000.50, created at `1_000 + n` ms, ids derived from `n`.
pub fn pending_order(portfolio: &PortfolioId, n: u64) -> crate::order::Order {
    use crate::ids::IntentId;
    use crate::order::{Order, OrderIntent, OrderKind, Side, TimeInForce};
    let intent_id = IntentId::for_portfolio(portfolio, n);
    Order::new(OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio.clone(),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: qty(Decimal::from(2)),
        kind: OrderKind::Limit {
            price: px(Decimal::new(4_200_050, 2)),
            post_only: true,
        },
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(1_000 + i64::try_from(n).unwrap_or(i64::MAX)),
        tag: "entry".into(),
    })
}

/// A flat bar (open = high = low = close) at minute `minute`.
pub fn bar(symbol: &str, minute: i64, close: Decimal) -> MarketEvent {
    let p = px(close);
    MarketEvent::Bar(Bar {
        symbol: Symbol::new(symbol),
        ts: Timestamp(minute * 60_000),
        open: p,
        high: p,
        low: p,
        close: p,
        volume: Quantity::ZERO,
    })
}

/// The portfolio id the fixtures use.
pub const PORTFOLIO: &str = "p1";

/// A fill report (USDT fee) for an order of portfolio [`PORTFOLIO`] on `BTCUSDT`.
pub fn fill_report(
    order: &ClientOrderId,
    trade: &str,
    price: Decimal,
    quantity: Decimal,
    fee: Decimal,
    last: bool,
) -> ExecutionReport {
    let fill = Fill {
        trade_id: TradeId::new(trade),
        price: px(price),
        qty: qty(quantity),
        fee: Money::new(fee, Asset::new("USDT")),
        liquidity: Liquidity::Taker,
    };
    ExecutionReport {
        portfolio_id: PortfolioId::new(PORTFOLIO),
        client_order_id: order.clone(),
        venue_order_id: None,
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(0),
        kind: if last {
            ReportKind::Filled(fill)
        } else {
            ReportKind::PartiallyFilled(fill)
        },
    }
}

/// Every output the engine has waiting, oldest first.
pub fn drain(engine: &mut crate::engine::PortfolioEngine) -> Vec<crate::engine::Output> {
    std::iter::from_fn(|| engine.poll_output()).collect()
}

/// Handles `input` at `now` and returns only the commands it produced (other outputs dropped).
pub fn commands_of(
    engine: &mut crate::engine::PortfolioEngine,
    input: crate::engine::Input<'_>,
    now: Timestamp,
) -> Vec<crate::engine::Command> {
    engine.handle(input, now);
    drain(engine)
        .into_iter()
        .filter_map(|o| match o {
            crate::engine::Output::Command(c) => Some(c),
            _ => None,
        })
        .collect()
}
