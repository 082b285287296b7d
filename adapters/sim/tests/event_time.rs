//! The event-time venue's bookkeeping: what it feeds, what it lets the gateway acknowledge,
//! and what a checkpoint makes it skip after a restart.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::Asset;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::order::{OrderKind, Side};
use chimera_kernel::testing::bar;
use chimera_kernel::testing::btc_perp;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_ports::Delivery;
use chimera_sim::{EventTimeVenue, SimState, TRADER_SILENCE};
use std::time::Instant;

mod common;

const TOPIC: &str = "market.data";
const MINUTE: i64 = 60_000;

fn delivery(offset: i64) -> Delivery {
    Delivery {
        topic: TOPIC.into(),
        key: "".into(),
        payload: chimera_ports::Bytes::from_static(b"{\"bar\":\"encoded\"}").into(),
        partition: 0,
        offset,
        shared: None,
    }
}

/// Offsets 0..6 on one partition: A and B interleaved, minutes 0, 1, 2.
fn interleaved() -> Vec<(MarketEvent, Delivery)> {
    (0..3)
        .flat_map(|minute| ["AAA", "BBB"].map(|s| bar(s, minute, Decimal::new(100 + minute, 0))))
        .enumerate()
        .map(|(offset, event)| (event, delivery(i64::try_from(offset).unwrap())))
        .collect()
}

/// A checkpoint's marks of the one partition: every offset up to, and those fed beyond it.
fn marks(checkpoint: &str) -> (i64, Vec<i64>) {
    let json: serde_json::Value = serde_json::from_str(checkpoint).unwrap();
    let marks = &json["marks"]["market.data/0"];
    (
        marks["upto"].as_i64().unwrap(),
        serde_json::from_value(marks["extra"].clone()).unwrap(),
    )
}

fn offsets(acks: &[Delivery]) -> Vec<i64> {
    acks.iter().map(|d| d.offset).collect()
}

#[test]
fn acknowledges_only_the_fed_prefix_of_a_partition() {
    let mut sim = EventTimeVenue::new(i64::MAX);
    for (event, d) in interleaved() {
        sim.buffer(event, d);
    }
    let (a, b) = (Symbol::new("AAA"), Symbol::new("BBB"));
    assert!(sim.covers(&a, Timestamp(2 * MINUTE)));
    assert!(!sim.covers(&a, Timestamp(3 * MINUTE)));
    assert!(sim.take_acks().is_empty(), "nothing fed yet");

    // A's minutes 0 and 1 (offsets 0 and 2); B's minute 0 (offset 1) still waits.
    assert_eq!(sim.feed_until(&a, Timestamp(MINUTE)), 2);
    let acks = sim.take_acks();
    assert_eq!(offsets(&acks), vec![0]);
    assert!(
        acks.iter().all(|d| d.payload.is_empty()),
        "a queued delivery keeps no payload"
    );

    // B's minute 0 completes the prefix up to A's minute 1.
    sim.feed_until(&b, Timestamp(0));
    assert_eq!(offsets(&sim.take_acks()), vec![2]);
    assert!(
        sim.take_acks().is_empty(),
        "each delivery is handed out once"
    );

    sim.feed_until(&b, Timestamp(2 * MINUTE));
    assert_eq!(offsets(&sim.take_acks()), vec![3]);
    sim.feed_until(&a, Timestamp(2 * MINUTE));
    assert_eq!(offsets(&sim.take_acks()), vec![5]);
}

#[test]
fn a_restored_venue_skips_what_its_checkpoint_consumed() {
    let mut sim = EventTimeVenue::new(i64::MAX);
    for (event, d) in interleaved() {
        sim.buffer(event, d);
    }
    let a = Symbol::new("AAA");
    sim.feed_until(&a, Timestamp(MINUTE));
    assert_eq!(offsets(&sim.take_acks()), vec![0]);
    let state = sim.checkpoint().unwrap();
    assert_eq!(marks(&state), (0, vec![2]));
    let json: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert_eq!(json["fed"]["AAA"], MINUTE);

    // A crash after that checkpoint: the bus redelivers from offset 1.
    let state: SimState = serde_json::from_str(&state).unwrap();
    let mut restored = EventTimeVenue::restore(state, i64::MAX);
    assert!(
        restored.covers(&a, Timestamp(MINUTE)),
        "what was fed counts"
    );
    for (event, d) in interleaved().into_iter().skip(1) {
        restored.buffer(event, d);
    }
    // Offset 2 (A's minute 1) was consumed before the crash: feeding B's minute 0 alone
    // completes the prefix through it.
    restored.feed_until(&Symbol::new("BBB"), Timestamp(0));
    assert_eq!(offsets(&restored.take_acks()), vec![2]);
    // A's minute 1 is not fed again: up to minute 1 there is nothing left to feed for A.
    assert_eq!(restored.feed_until(&a, Timestamp(MINUTE)), 0);
    assert!(restored.take_acks().is_empty());
    restored.feed_until(&a, Timestamp(2 * MINUTE));
    assert_eq!(marks(&restored.checkpoint().unwrap()), (2, vec![4]));
}

#[test]
fn events_older_than_the_hold_are_fed_without_an_order() {
    let mut sim = EventTimeVenue::new(MINUTE);
    for (offset, minute) in [0, 1, 2].into_iter().enumerate() {
        sim.buffer(
            bar("AAA", minute, Decimal::ONE_HUNDRED),
            delivery(i64::try_from(offset).unwrap()),
        );
    }
    sim.flush_old(Instant::now());
    // Newest is minute 2: minute 0 is more than a minute behind it, minute 1 is not.
    assert_eq!(offsets(&sim.take_acks()), vec![0]);
    let skipped = Delivery {
        payload: chimera_ports::Bytes::from_static(b"not a market event").into(),
        ..delivery(3)
    };
    sim.skip(skipped);
    sim.buffer(bar("AAA", 3, Decimal::ONE_HUNDRED), delivery(4));
    sim.flush_old(Instant::now());
    assert_eq!(
        offsets(&sim.take_acks()),
        vec![1],
        "minute 1 fed; minute 2 is within the hold of minute 3, the skipped delivery behind it"
    );
    sim.feed_until(&Symbol::new("AAA"), Timestamp(3 * MINUTE));
    assert_eq!(offsets(&sim.take_acks()), vec![4]);
}

/// A replay: the data runs a day ahead of the portfolio in event time, while the portfolio is
/// still reading it. The hold must not feed past it (its next order would fill at a later
/// price than it was decided on); the venue says it holds, so the gateway reads no more.
#[test]
fn the_hold_does_not_feed_past_a_portfolio_still_reading() {
    let start = Instant::now();
    let mut sim = EventTimeVenue::new(MINUTE);
    let symbol = Symbol::new("AAA");
    let reader = PortfolioId::new("reader");
    sim.trade(&reader, std::slice::from_ref(&symbol), start);
    for minute in 0..5 {
        sim.buffer(bar("AAA", minute, Decimal::ONE_HUNDRED), delivery(minute));
    }
    assert!(sim.flush_old(start), "promised nothing yet, and heard from");
    assert!(sim.take_acks().is_empty());
    // It has read minute 1: minute 0 may go, minutes 1..3 are older than the hold but wait.
    sim.promise(&reader, Timestamp(MINUTE), start);
    assert_eq!(offsets(&sim.take_acks()), vec![0]);
    assert!(sim.flush_old(start));
    assert!(sim.take_acks().is_empty());
    // Its order stamped minute 3 feeds up to it, and the hold has nothing left to do.
    assert_eq!(sim.feed_until(&symbol, Timestamp(3 * MINUTE)), 3);
    assert!(!sim.fed_past(&symbol, Timestamp(3 * MINUTE)));
    assert!(
        sim.fed_past(&symbol, Timestamp(2 * MINUTE)),
        "an order stamped minute 2 would now be priced late"
    );
    sim.promise(&reader, Timestamp(3 * MINUTE), start);
    assert!(!sim.flush_old(start));
    assert_eq!(offsets(&sim.take_acks()), vec![3]);
    // Silent for long enough while far behind: it no longer holds the rest back.
    for minute in 5..8 {
        sim.buffer(bar("AAA", minute, Decimal::ONE_HUNDRED), delivery(minute));
    }
    assert!(sim.flush_old(start + TRADER_SILENCE / 2));
    assert!(!sim.flush_old(start + TRADER_SILENCE));
    assert_eq!(offsets(&sim.take_acks()), vec![5]);
}

#[test]
fn promises_feed_a_symbol_up_to_just_before_the_slowest_clock_of_its_traders() {
    let mut sim = EventTimeVenue::new(i64::MAX);
    for (event, d) in interleaved() {
        sim.buffer(event, d);
    }
    let (a, b) = (Symbol::new("AAA"), Symbol::new("BBB"));
    let (both, only_a) = (PortfolioId::new("both"), PortfolioId::new("only-a"));
    assert_eq!(
        sim.promise(&both, Timestamp(MINUTE), Instant::now()),
        0,
        "not a known trader"
    );
    sim.trade(&both, &[a.clone(), b.clone()], Instant::now());
    sim.trade(&only_a, std::slice::from_ref(&a), Instant::now());
    assert!(sim.knows_trader(&only_a));

    // B has one trader, who has read up to minute 2: B's minutes 0 and 1 (offsets 1, 3). A
    // waits for its other trader, who has promised nothing.
    assert_eq!(sim.promise(&both, Timestamp(2 * MINUTE), Instant::now()), 2);
    assert!(
        sim.take_acks().is_empty(),
        "offset 0 (A's minute 0) still waits"
    );
    // A's second trader has read up to minute 1: A's minute 0.
    assert_eq!(sim.promise(&only_a, Timestamp(MINUTE), Instant::now()), 1);
    assert_eq!(offsets(&sim.take_acks()), vec![1]);
    assert_eq!(
        sim.promise(&only_a, Timestamp(MINUTE), Instant::now()),
        0,
        "no news"
    );
    // Now A is held by the other's minute 2: its minute 1 (offset 2), not minute 2.
    assert_eq!(
        sim.promise(&only_a, Timestamp(5 * MINUTE), Instant::now()),
        1
    );
    assert_eq!(offsets(&sim.take_acks()), vec![3]);
    // An order stamped minute 2 feeds the rest as before.
    assert_eq!(sim.feed_until(&a, Timestamp(2 * MINUTE)), 1);
    assert_eq!(sim.feed_until(&b, Timestamp(2 * MINUTE)), 1);
    assert_eq!(offsets(&sim.take_acks()), vec![5]);
}

#[test]
fn data_read_after_a_promise_is_fed_when_asked() {
    let mut sim = EventTimeVenue::new(i64::MAX);
    let trader = PortfolioId::new("p");
    sim.trade(&trader, &[Symbol::new("AAA")], Instant::now());
    assert_eq!(
        sim.promise(&trader, Timestamp(2 * MINUTE), Instant::now()),
        0,
        "nothing read yet"
    );
    for (event, d) in interleaved() {
        sim.buffer(event, d);
    }
    // A's minutes 0 and 1; B is nobody's.
    assert_eq!(sim.feed_all_promised(Instant::now()), 2);
    assert_eq!(offsets(&sim.take_acks()), vec![0]);
    assert_eq!(sim.feed_all_promised(Instant::now()), 0);
}

#[test]
fn a_fill_is_the_same_whether_promises_fed_the_data_or_the_order_did() {
    let reports = |promised: bool| {
        let mut sim = EventTimeVenue::new(i64::MAX);
        let p = PortfolioId::new("p");
        sim.venue().with_exchange(|x| {
            x.add_instrument(btc_perp());
            x.deposit(
                &p,
                Asset::new("USDT"),
                Amount::new(Decimal::from(1_000_000)),
            );
        });
        let symbol = Symbol::new(common::SYMBOL);
        for minute in 0..4 {
            let event = bar(common::SYMBOL, minute, Decimal::new(100 + minute, 0));
            sim.buffer(event, delivery(minute));
        }
        if promised {
            sim.trade(&p, std::slice::from_ref(&symbol), Instant::now());
            assert_eq!(sim.promise(&p, Timestamp(2 * MINUTE), Instant::now()), 2);
        }
        // The gateway's order path: the data up to the order's stamp, then the order.
        let mut intent = common::order(&p, 1, Side::Buy, Decimal::ONE, OrderKind::Market);
        intent.created_at = Timestamp(2 * MINUTE);
        sim.feed_until(&symbol, intent.created_at);
        sim.venue().with_exchange(|x| {
            let now = x.now();
            x.submit(intent, now);
        });
        sim.feed_until(&symbol, Timestamp(3 * MINUTE));
        sim.venue().with_exchange(|x| {
            std::iter::from_fn(|| x.pop_report())
                .filter_map(|r| r.fill().map(|f| (f.price, f.qty, r.ts)))
                .collect::<Vec<_>>()
        })
    };
    let fills = reports(true);
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(fills, reports(false));
}
