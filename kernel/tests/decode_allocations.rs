//! How many heap allocations decoding the hot messages costs: every price, quantity and amount
//! is parsed where the input holds its text, and every id is copied once, so a bar allocates
//! only its symbol. Counted on this thread by `allocation_counter`, which puts a
//! counting allocator in this test binary.

use chimera_kernel::engine::Command;
use chimera_kernel::event::{Bar, MarketEvent};
use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce};
use chimera_kernel::time::Timestamp;

/// Allocations made by `f` on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let mut value = None;
    let info = allocation_counter::measure(|| value = Some(f()));
    (info.count_total, value.expect("measured"))
}

#[test]
fn a_bar_allocates_only_its_symbol() {
    let bar = MarketEvent::Bar(Bar {
        symbol: Symbol::new("BTCUSDT"),
        ts: Timestamp(1_700_000_000_000),
        open: "42000.5".parse().unwrap(),
        high: "42100".parse().unwrap(),
        low: "41950.25".parse().unwrap(),
        close: "42050".parse().unwrap(),
        volume: "12.345".parse().unwrap(),
    });
    let bytes = serde_json::to_vec(&bar).unwrap();
    let (n, decoded) = allocations(|| serde_json::from_slice::<MarketEvent>(&bytes).unwrap());
    assert_eq!(decoded, bar);
    assert_eq!(n, 1, "one allocation (the symbol), got {n}");
}

#[test]
fn an_order_command_allocates_only_its_ids() {
    let intent_id = IntentId::new("p1-7");
    let intent = OrderIntent {
        client_order_id: ClientOrderId::for_intent(&intent_id),
        intent_id,
        portfolio_id: PortfolioId::new("p1"),
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: "0.25".parse().unwrap(),
        kind: OrderKind::Limit {
            price: "42000.5".parse().unwrap(),
            post_only: false,
        },
        time_in_force: TimeInForce::Gtc,
        reduce_only: false,
        close_position: false,
        created_at: Timestamp(1_700_000_000_000),
        tag: "".into(),
    };
    let command = Command::Submit(intent);
    let bytes = serde_json::to_vec(&command).unwrap();
    let (n, decoded) = allocations(|| serde_json::from_slice::<Command>(&bytes).unwrap());
    assert_eq!(decoded, command);
    // Its five ids (the tag among them), once each: nothing for the price, the quantity or
    // the order kind (serde's decoder of an internally tagged enum buffered its fields: one more).
    assert_eq!(n, 5, "five, got {n}");
}
