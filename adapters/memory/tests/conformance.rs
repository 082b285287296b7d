//! The in-memory adapters against the shared port contracts.

use async_trait::async_trait;
use chimera_kernel::time::Timestamp;
use chimera_memory::{
    ManualClock, MemoryEventBus, MemoryRegistry, MemoryRepository, MemoryStateStore, MemoryTreasury,
};
use chimera_ports::conformance::{self, TimeTravel};
use std::sync::Arc;
use std::time::Duration;

struct Manual(Arc<ManualClock>);

#[async_trait]
impl TimeTravel for Manual {
    async fn advance(&self, by: Duration) {
        self.0.advance(by);
    }
}

#[tokio::test]
async fn event_bus_conforms() {
    conformance::event_bus_suite(&MemoryEventBus::new(), "mem").await;
}

/// A bus started again after a process that had one ([`MemoryEventBus::numbered_from`]).
#[tokio::test]
async fn event_bus_numbered_from_high_conforms() {
    let bus = MemoryEventBus::numbered_from(chimera_memory::DEFAULT_BUS_RETENTION, 3 << 40);
    conformance::event_bus_suite(&bus, "mem-high").await;
}

#[tokio::test]
async fn state_store_conforms() {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let store = MemoryStateStore::new(clock.clone());
    conformance::state_store_suite(&store, &Manual(clock), "mem").await;
}

#[tokio::test]
async fn repositories_conform() {
    let repo = MemoryRepository::new();
    conformance::order_repository_suite(&repo, "mem").await;
    conformance::fill_repository_suite(&repo, "mem").await;
    conformance::execution_journal_suite(&repo, "mem").await;
    conformance::position_repository_suite(&repo, "mem").await;
    conformance::signal_repository_suite(&repo, "mem").await;
}

#[tokio::test]
async fn market_data_conforms() {
    use chimera_kernel::event::{BookDelta, BookLevel, BookSnapshot, MarketEvent};
    use chimera_kernel::ids::Symbol;
    use chimera_kernel::testing::{px, qty};
    let level = |p: i64, q: i64| BookLevel {
        price: px(p.into()),
        qty: qty(q.into()),
    };
    let symbol = Symbol::new("BTCUSDT");
    let mut events = vec![MarketEvent::BookSnapshot(BookSnapshot {
        symbol: symbol.clone(),
        ts: Timestamp(1),
        last_update_id: 10,
        bids: vec![level(100, 1)],
        asks: vec![level(101, 1)],
    })];
    for id in 11..20 {
        events.push(MarketEvent::BookDelta(BookDelta {
            symbol: symbol.clone(),
            ts: Timestamp(i64::try_from(id).unwrap_or(0)),
            first_update_id: id,
            final_update_id: id,
            prev_final_update_id: None,
            bids: vec![level(100, i64::try_from(id).unwrap_or(1))],
            asks: vec![],
        }));
    }
    let mut source = chimera_memory::MemoryMarketData::new(events);
    let expect = conformance::MarketDataExpectations {
        symbols: vec![symbol],
        events: 100,
        at_least: 10,
        has_book: true,
        finite: true,
    };
    conformance::market_data_source_suite(&mut source, &expect).await;
}

#[tokio::test]
async fn treasury_conforms() {
    conformance::treasury_repository_suite(&MemoryTreasury::new(), "mem").await;
}

#[tokio::test]
async fn registry_conforms() {
    let registry = MemoryRegistry::new();
    conformance::portfolio_repository_suite(&registry, "mem").await;
    conformance::checkpoint_repository_suite(&registry, "mem").await;
    conformance::audit_repository_suite(&registry, "mem").await;
    conformance::audit_query_suite(&registry, "mem").await;
    conformance::token_repository_suite(&registry, "mem").await;
}

#[tokio::test]
async fn event_bus_wakes_a_waiting_subscriber() {
    use chimera_ports::EventBus;
    let bus = MemoryEventBus::new();
    let mut sub = bus.subscribe("t", "g").await.unwrap();
    let publisher = bus.clone();
    let handle = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        publisher.publish("t", "k", b"late").await.unwrap();
    });
    let got = sub.poll(Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.map(|d| d.payload.to_vec()), Some(b"late".to_vec()));
    handle.await.unwrap();
}
