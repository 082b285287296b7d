//! The event-time venue's order path as the live trade gateway drives it:
//! `cargo bench -p chimera-sim --bench event_time_feed`.
//!
//! Five perpetuals, five accounts each holding a position in one of them (as the live bench's
//! five portfolios do), bars of all five interleaved. Each round buffers `BACKLOG` bars per
//! symbol, then for each symbol feeds its backlog up to an order's time and sends the order (a
//! market order flipping that account's position), which is what the gateway does before an
//! order ([`EventTimeVenue::feed_until`]).
//!
//! It prints nanoseconds per bar fed (median and 99th percentile of orders), each bar decoded
//! from its JSON as read off the bus, two ways:
//! - `5 accounts`: as above;
//! - `no accounts`: the same bars and orders' timing with no account on the venue (the floor:
//!   the venue's clocks, markets and bookkeeping, with no position to mark or margin to check).

use chimera_kernel::event::{Bar, MarketEvent};
use chimera_kernel::ids::{Asset, ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Price, Quantity};
use chimera_kernel::Decimal;
use chimera_ports::{Delivery, ExecutionVenue};
use chimera_sim::EventTimeVenue;
use std::time::Instant;

const SYMBOLS: [&str; 5] = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"];
/// Bars of each symbol between two orders of its portfolio (the live bench's 90th percentile).
const BACKLOG: usize = 88;
const ROUNDS: usize = 400;
const MINUTE: i64 = 60_000;

fn portfolio_of(symbol: &str) -> PortfolioId {
    PortfolioId::new(format!("p-{}", symbol.to_lowercase()))
}

/// A bar as the bus carries it (the gateway decodes each delivery's payload).
fn encoded_bar(symbol: &str, minute: i64) -> Vec<u8> {
    let close = Decimal::new(10_000 + (minute * 37) % 500, 1);
    let price = Price::new(close).expect("positive price");
    let bar = MarketEvent::Bar(Bar {
        symbol: Symbol::new(symbol),
        ts: Timestamp(minute * MINUTE),
        open: price,
        high: price,
        low: price,
        close: price,
        volume: Quantity::new(Decimal::ONE).expect("non-negative quantity"),
    });
    serde_json::to_vec(&bar).expect("a bar serializes")
}

fn funded_venue(accounts: bool) -> EventTimeVenue {
    let venue = EventTimeVenue::new(i64::MAX);
    if !accounts {
        return venue;
    }
    for symbol in SYMBOLS {
        let mut books = Portfolio::new(portfolio_of(symbol), Asset::new("USDT"));
        books.add_instrument(
            Instrument::linear(symbol, "USDT", MarketKind::Perp).expect("well-formed symbol"),
        );
        books.deposit(Asset::new("USDT"), Amount::new(Decimal::from(1_000_000)));
        venue.fund(&books);
    }
    venue
}

fn market_order(symbol: &Symbol, n: u64, side: Side, at: Timestamp) -> OrderIntent {
    let portfolio = portfolio_of(symbol.as_str());
    let intent_id = IntentId::for_portfolio(&portfolio, n);
    OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: portfolio,
        symbol: symbol.clone(),
        side,
        qty: Quantity::new(Decimal::ONE).expect("non-negative quantity"),
        kind: OrderKind::Market,
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: at,
        tag: "entry".into(),
    }
}

/// Nanoseconds per bar fed, one figure per symbol and round.
fn run(accounts: bool) -> Vec<f64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut venue = funded_venue(accounts);
    let symbols: Vec<Symbol> = SYMBOLS.iter().map(|s| Symbol::new(*s)).collect();
    let mut offset = 0;
    let mut minute = 0;
    let mut per_bar = Vec::with_capacity(ROUNDS * SYMBOLS.len());
    for round in 0..ROUNDS {
        for _ in 0..BACKLOG {
            for symbol in SYMBOLS {
                let payload = encoded_bar(symbol, minute);
                let event: MarketEvent = serde_json::from_slice(&payload).expect("a bar decodes");
                let delivery = Delivery {
                    topic: "market.data".into(),
                    key: (*symbol).into(),
                    payload: payload.into(),
                    partition: 0,
                    offset,
                    shared: None,
                };
                venue.buffer(event, delivery);
                offset += 1;
            }
            minute += 1;
        }
        let until = Timestamp((minute - 1) * MINUTE);
        for symbol in &symbols {
            let started = Instant::now();
            let fed = venue.feed_until(symbol, until);
            let elapsed = started.elapsed();
            per_bar.push(elapsed.as_nanos() as f64 / fed.max(1) as f64);
            if accounts {
                let side = if round % 2 == 0 {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let order = market_order(symbol, round as u64 + 1, side, until);
                runtime
                    .block_on(venue.venue().submit(&order))
                    .expect("the simulated venue takes the order");
            }
        }
        let _ = venue.take_acks();
    }
    per_bar
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    for (label, accounts) in [("5 accounts", true), ("no accounts", false)] {
        let mut figures = run(accounts);
        // The first rounds warm the allocator and the venue's maps.
        figures.drain(..SYMBOLS.len() * 10);
        figures.sort_by(f64::total_cmp);
        println!(
            "event-time feed, {label}: {:.0} ns/bar p50, {:.0} ns/bar p99 ({} bars per order, {} orders)",
            percentile(&figures, 0.5),
            percentile(&figures, 0.99),
            BACKLOG,
            figures.len()
        );
    }
}
