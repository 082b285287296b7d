//! What the venue knows of an order id once its window of recent ids has let it go: an order it
//! still holds (resting, in flight, a list's pending leg) is received, whatever the window says,
//! so a client resending it after a restart never places it twice; an order it is done with is
//! "forgotten" (the caller's records decide), and a newer one of the same portfolio was never
//! received.

mod common;
use common::{book, drain, exchange, order, SYMBOL};

use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::order::{Contingency, OrderIntent, OrderKind, OrderListRequest, Side};
use chimera_kernel::testing::{btc_spot, px};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{Knowledge, QueueModel, SimConfig, SimExchange, KNOWN_WINDOW};
use rust_decimal_macros::dec;

fn limit(p: &PortfolioId, n: u64, side: Side, price: Decimal, created: i64) -> OrderIntent {
    let mut intent = order(
        p,
        n,
        side,
        dec!(1),
        OrderKind::Limit {
            price: px(price),
            post_only: false,
        },
    );
    intent.created_at = Timestamp(created);
    intent
}

/// Sends `count` orders the venue refuses at once (an unknown symbol), created from `from` on:
/// each takes a place in the window and pushes the oldest out.
fn crowd_out(x: &mut SimExchange, p: &PortfolioId, count: usize, from: i64) -> Vec<OrderIntent> {
    let sent: Vec<OrderIntent> = (0..count)
        .map(|n| {
            let n = u64::try_from(n).unwrap_or(u64::MAX);
            let mut intent = order(p, 10_000 + n, Side::Buy, dec!(1), OrderKind::Market);
            intent.symbol = Symbol::new("NOPEUSDT");
            intent.created_at = Timestamp(from + i64::try_from(n).unwrap_or(i64::MAX));
            intent
        })
        .collect();
    for intent in &sent {
        x.submit(intent.clone(), intent.created_at);
    }
    drain(x);
    sent
}

fn knows(x: &SimExchange, intent: &OrderIntent) -> Knowledge {
    x.knows(
        &intent.client_order_id,
        &intent.portfolio_id,
        intent.created_at,
    )
}

#[test]
fn a_resting_order_the_window_let_go_is_still_received_and_never_placed_twice() {
    let (mut x, p) = exchange(QueueModel::Queue);
    book(&mut x);
    let resting = limit(&p, 1, Side::Buy, dec!(90), 2);
    x.submit(resting.clone(), Timestamp(2));
    assert_eq!(drain(&mut x).len(), 1, "accepted");
    let crowd = crowd_out(&mut x, &p, KNOWN_WINDOW + 1, 3);

    assert_eq!(knows(&x, &resting), Knowledge::Received);
    // The first refused order is gone from the window and from the venue: too old to say.
    assert_eq!(knows(&x, &crowd[0]), Knowledge::Forgotten);
    // A new order of the portfolio, created after all it forgot, was never received.
    let new = limit(&p, 2, Side::Buy, dec!(91), 5_000);
    assert_eq!(knows(&x, &new), Knowledge::NeverReceived);

    x.submit(resting.clone(), Timestamp(6_000));
    assert!(drain(&mut x).is_empty(), "the resent order is ignored");
    assert_eq!(x.open_orders(&p).len(), 1);
}

#[test]
fn an_order_in_flight_to_the_matching_engine_is_received_after_the_window_let_it_go() {
    let mut x = SimExchange::new(SimConfig {
        latency_ms: 1_000_000,
        ..SimConfig::default()
    });
    x.add_instrument(chimera_kernel::testing::btc_perp());
    let p = PortfolioId::new("p");
    x.deposit(
        &p,
        Asset::new("USDT"),
        Amount::new(Decimal::from(1_000_000)),
    );
    let in_flight = limit(&p, 1, Side::Buy, dec!(90), 2);
    x.submit(in_flight.clone(), Timestamp(2));
    crowd_out(&mut x, &p, KNOWN_WINDOW, 3);
    assert_eq!(knows(&x, &in_flight), Knowledge::Received);
}

#[test]
fn a_pending_leg_held_for_its_working_order_is_received_and_the_list_is_not_placed_again() {
    let mut x = SimExchange::new(SimConfig::default());
    x.add_instrument(btc_spot());
    let p = PortfolioId::new("p");
    x.deposit(&p, Asset::new("USDT"), Amount::new(Decimal::from(100_000)));
    book(&mut x);
    let working = limit(&p, 1, Side::Buy, dec!(90), 2);
    let pending = limit(&p, 2, Side::Sell, dec!(110), 2);
    let oto = OrderListRequest {
        list_id: ClientOrderId::new("list-1"),
        portfolio_id: p.clone(),
        symbol: Symbol::new(SYMBOL),
        contingency: Contingency::Oto,
        orders: vec![working.clone(), pending.clone()],
    };
    x.submit_list(&oto, Timestamp(2));
    assert_eq!(drain(&mut x).len(), 1, "the working order accepted");
    assert_eq!(
        knows(&x, &pending),
        Knowledge::Received,
        "held, not sent twice"
    );

    crowd_out(&mut x, &p, KNOWN_WINDOW + 1, 3);
    assert_eq!(knows(&x, &working), Knowledge::Received);
    assert_eq!(knows(&x, &pending), Knowledge::Received);
    x.submit_list(&oto, Timestamp(6_000));
    assert!(drain(&mut x).is_empty(), "the resent list is ignored");
    assert_eq!(x.open_orders(&p).len(), 1);
}
