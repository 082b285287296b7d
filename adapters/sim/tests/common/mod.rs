//! Shared by the venue's L2 scenario tests: a funded perpetual venue, intents, a small book,
//! book deltas, trades, and what the venue reported.
#![allow(dead_code, reason = "each test binary uses its own subset")]

pub(crate) mod run;

use chimera_kernel::event::{
    BookDelta, BookLevel, BookSnapshot, ExecutionReport, MarketEvent, RejectReason, ReportKind,
    Trade,
};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::testing::{btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;
use chimera_sim::{QueueModel, SimConfig, SimExchange};
use rust_decimal_macros::dec;

pub(crate) const SYMBOL: &str = "BTCUSDT";

pub(crate) fn exchange(queue: QueueModel) -> (SimExchange, PortfolioId) {
    let mut x = SimExchange::new(SimConfig {
        queue,
        ..SimConfig::default()
    });
    x.add_instrument(btc_perp());
    let p = PortfolioId::new("p");
    x.deposit(
        &p,
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(1_000_000)),
    );
    (x, p)
}

pub(crate) fn order(
    p: &PortfolioId,
    n: u64,
    side: Side,
    q: Decimal,
    kind: OrderKind,
) -> OrderIntent {
    let intent_id = IntentId::for_portfolio(p, n);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: p.clone(),
        symbol: Symbol::new(SYMBOL),
        side,
        qty: qty(q),
        kind,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(0),
        tag: "".into(),
    }
}

pub(crate) fn level(price: Decimal, q: Decimal) -> BookLevel {
    BookLevel {
        price: px(price),
        qty: qty(q),
    }
}

/// A book: bids 100 (2), 99 (3); asks 101 (1), 102 (4).
pub(crate) fn book(x: &mut SimExchange) {
    x.on_market(&MarketEvent::BookSnapshot(BookSnapshot {
        symbol: Symbol::new(SYMBOL),
        ts: Timestamp(1),
        last_update_id: 10,
        bids: vec![level(dec!(100), dec!(2)), level(dec!(99), dec!(3))],
        asks: vec![level(dec!(101), dec!(1)), level(dec!(102), dec!(4))],
    }));
}

pub(crate) fn delta(id: u64, bids: Vec<BookLevel>, asks: Vec<BookLevel>) -> MarketEvent {
    MarketEvent::BookDelta(BookDelta {
        symbol: Symbol::new(SYMBOL),
        ts: Timestamp(i64::try_from(id).unwrap_or(0)),
        first_update_id: id,
        final_update_id: id,
        prev_final_update_id: None,
        bids,
        asks,
    })
}

pub(crate) fn trade(price: Decimal, q: Decimal, aggressor: Side) -> MarketEvent {
    MarketEvent::Trade(Trade {
        symbol: Symbol::new(SYMBOL),
        ts: Timestamp(50),
        price: px(price),
        qty: qty(q),
        aggressor: Some(aggressor),
        trade_id: None,
    })
}

pub(crate) fn drain(x: &mut SimExchange) -> Vec<ExecutionReport> {
    std::iter::from_fn(|| x.pop_report()).collect()
}

pub(crate) fn fills(reports: &[ExecutionReport]) -> Vec<(Decimal, Decimal)> {
    reports
        .iter()
        .filter_map(ExecutionReport::fill)
        .map(|f| (f.price.get(), f.qty.get()))
        .collect()
}

pub(crate) fn rejection(reports: &[ExecutionReport]) -> Option<(RejectReason, String)> {
    reports.iter().find_map(|r| match &r.kind {
        ReportKind::Rejected { reason, message } => Some((*reason, message.clone())),
        _ => None,
    })
}
