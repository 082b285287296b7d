//! The in-memory bus hands each consumer group the message it keeps, not a copy: a read costs
//! no allocation for the payload, the key or the topic's name, however many groups read.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use chimera_memory::MemoryEventBus;
use chimera_ports::{EventBus, Subscription};
use std::time::Duration;

async fn next(sub: &mut Box<dyn Subscription>) -> chimera_ports::Delivery {
    sub.poll(Duration::ZERO).await.unwrap().expect("a message")
}

#[tokio::test]
async fn every_group_reads_the_same_bytes_and_names() {
    let bus = MemoryEventBus::new();
    let mut router = bus.subscribe("market.data", "router").await.unwrap();
    let mut venue = bus.subscribe("market.data", "venue").await.unwrap();
    bus.publish("market.data", "BTCUSDT", b"{\"bar\":1}")
        .await
        .unwrap();
    bus.publish("market.data", "BTCUSDT", b"{\"bar\":2}")
        .await
        .unwrap();

    let (a, b) = (next(&mut router).await, next(&mut venue).await);
    assert_eq!(&a.payload[..], b"{\"bar\":1}");
    assert_eq!(a, b, "both groups read the same message");
    assert_eq!(
        a.payload.as_ptr(),
        b.payload.as_ptr(),
        "the payload is shared, not copied per group"
    );
    assert!(
        std::sync::Arc::ptr_eq(&a.key, &b.key),
        "the key is shared, not copied per group"
    );

    let later = next(&mut router).await;
    assert_eq!(&later.payload[..], b"{\"bar\":2}");
    assert!(
        std::sync::Arc::ptr_eq(&a.topic, &later.topic),
        "a subscription hands out its topic's name without copying it"
    );
}
