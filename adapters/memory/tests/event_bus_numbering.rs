//! A bus started again in a new process ([`MemoryEventBus::numbered_from`]) numbers its
//! messages above what readers of the last bus recorded, so none is skipped as applied.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use chimera_memory::{MemoryEventBus, DEFAULT_BUS_RETENTION};
use chimera_ports::{EventBus, Subscription};
use std::collections::BTreeMap;
use std::time::Duration;

const HIGH: i64 = 2 << 40;

async fn offsets(sub: &mut Box<dyn Subscription>) -> Vec<i64> {
    let mut seen = Vec::new();
    while let Some(d) = sub.poll(Duration::from_millis(20)).await.unwrap() {
        seen.push(d.offset);
    }
    seen
}

#[tokio::test]
async fn new_messages_are_numbered_above_what_a_reader_of_the_last_bus_recorded() {
    let bus = MemoryEventBus::numbered_from(DEFAULT_BUS_RETENTION, HIGH);
    // A reader whose checkpoint says it applied offset 3,923 of the last bus's topic, and one
    // that never read it.
    let after = BTreeMap::from([(0, 3_923)]);
    let mut gateway = bus
        .subscribe_from("orders", "gateway", &after)
        .await
        .unwrap();
    let mut fresh = bus.subscribe("orders", "fresh").await.unwrap();
    let batch: Vec<(String, Vec<u8>)> = vec![("k".into(), vec![1]), ("k".into(), vec![2])];
    bus.publish_batch("orders", &batch).await.unwrap();
    assert_eq!(
        offsets(&mut gateway).await,
        [HIGH, HIGH + 1],
        "nothing new is skipped"
    );
    assert_eq!(offsets(&mut fresh).await, [HIGH, HIGH + 1]);
    assert_eq!(bus.len("orders"), 2);
    assert_eq!(
        bus.last_offsets("orders").await.unwrap(),
        BTreeMap::from([(0, HIGH + 1)])
    );
    assert!(bus.last_offsets("never").await.unwrap().is_empty());
}
