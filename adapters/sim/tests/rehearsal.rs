//! A rehearsal ([`SimExchange::rehearse`]) runs an order on a copy: it reports what the venue
//! would, and leaves the venue exactly as it was, so rehearsals between orders change no fill.

mod common;
use common::{drain, exchange, order, SYMBOL};

use chimera_kernel::event::ExecutionReport;
use chimera_kernel::order::{OrderIntent, OrderKind, Side};
use chimera_kernel::testing::bar;
use chimera_kernel::time::Timestamp;
use chimera_sim::{QueueModel, SimExchange};
use rust_decimal_macros::dec;

/// A market order of 0.5 stamped at minute `n`.
fn market(p: &chimera_kernel::ids::PortfolioId, n: u64, side: Side) -> OrderIntent {
    let mut intent = order(p, n, side, dec!(0.5), OrderKind::Market);
    intent.created_at = Timestamp(i64::try_from(n).unwrap_or(0) * 60_000);
    intent
}

/// The venue's whole state, as its checkpoint holds it.
fn state(x: &SimExchange) -> String {
    serde_json::to_string(x).expect("a venue serializes")
}

#[test]
fn a_rehearsal_reports_what_the_order_then_gets_and_changes_nothing() {
    let (mut x, p) = exchange(QueueModel::default());
    x.on_market(&bar(SYMBOL, 1, dec!(100)));
    x.submit(market(&p, 1, Side::Buy), Timestamp(60_000));
    drain(&mut x);
    x.on_market(&bar(SYMBOL, 2, dec!(104)));

    let before = state(&x);
    let intent = market(&p, 2, Side::Sell);
    let rehearsed = x.rehearse(intent.clone());
    assert_eq!(state(&x), before, "the venue changed");
    assert!(
        rehearsed.iter().any(|r| r.fill().is_some()),
        "{rehearsed:?}"
    );

    x.submit(intent.clone(), intent.created_at);
    let real = drain(&mut x);
    assert_eq!(rehearsed, real);
}

/// The same orders and bars, with and without a rehearsal before every order and bar.
fn run(rehearse: bool) -> (Vec<ExecutionReport>, String) {
    let (mut x, p) = exchange(QueueModel::default());
    let mut reports = Vec::new();
    for n in 1..=20_u64 {
        let close = dec!(100) + rust_decimal::Decimal::from(n % 7);
        let minute = i64::try_from(n).unwrap_or(0);
        if rehearse {
            let _ = x.rehearse(market(&p, 1_000 + n, Side::Sell));
        }
        x.on_market(&bar(SYMBOL, minute, close));
        let side = if n % 2 == 0 { Side::Sell } else { Side::Buy };
        let intent = market(&p, n, side);
        if rehearse {
            let _ = x.rehearse(intent.clone());
        }
        x.submit(intent.clone(), intent.created_at);
        reports.extend(drain(&mut x));
    }
    (reports, state(&x))
}

#[test]
fn rehearsals_between_orders_change_no_fill() {
    let (plain, plain_state) = run(false);
    let (rehearsed, rehearsed_state) = run(true);
    assert_eq!(plain.iter().filter(|r| r.fill().is_some()).count(), 20);
    assert_eq!(plain, rehearsed);
    assert_eq!(plain_state, rehearsed_state);
}

#[tokio::test]
async fn a_stage_matches_at_once_through_the_port_whatever_the_venue_latency() {
    use chimera_ports::ExecutionVenue;
    let (mut x, p) = exchange(QueueModel::default());
    // The same venue with 50 ms of latency.
    let mut slow = SimExchange::new(chimera_sim::SimConfig {
        latency_ms: 50,
        ..chimera_sim::SimConfig::default()
    });
    slow.add_instrument(chimera_kernel::testing::btc_perp());
    slow.deposit(
        &p,
        chimera_kernel::ids::Asset::new("USDT"),
        chimera_kernel::value::Amount::new(dec!(1_000_000)),
    );
    x.on_market(&bar(SYMBOL, 1, dec!(100)));
    slow.on_market(&bar(SYMBOL, 1, dec!(100)));
    let intent = market(&p, 1, Side::Buy);

    let before = state(&slow);
    let stage = chimera_sim::SimVenue::from_exchange(slow.stage(&intent));
    stage
        .submit(&intent)
        .await
        .expect("a stage takes the order");
    let mut staged = Vec::new();
    while let Some(report) = stage
        .next_report(std::time::Duration::ZERO)
        .await
        .expect("a stage reports")
    {
        staged.push(report);
    }
    assert_eq!(state(&slow), before, "the venue changed");
    assert!(staged.iter().any(|r| r.fill().is_some()), "{staged:?}");

    slow.submit(intent.clone(), intent.created_at);
    assert!(drain(&mut slow).is_empty(), "the venue's latency holds it");
    x.submit(intent.clone(), intent.created_at);
    assert_eq!(staged, drain(&mut x), "as a venue without latency fills it");
}
