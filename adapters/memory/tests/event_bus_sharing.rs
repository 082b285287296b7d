//! The in-memory bus hands each consumer group the message it keeps, not a copy: a read costs
//! no allocation for the payload, the key or the topic's name, however many groups read, and
//! the value a publisher shared beside the bytes comes with it.
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

/// A value published beside its bytes reaches every group's delivery of that message (the same
/// value, not a copy) until every group present has read it, a message published without one
/// has none, and a batch may share some of its messages' values and not others.
#[tokio::test]
async fn every_group_reads_the_value_shared_beside_the_bytes() {
    use chimera_ports::Shared;
    let bus = MemoryEventBus::new();
    let mut router = bus.subscribe("orders", "router").await.unwrap();
    let mut venue = bus.subscribe("orders", "venue").await.unwrap();
    let messages = vec![
        ("p".to_owned(), b"{\"n\":1}".to_vec()),
        ("p".to_owned(), b"{\"n\":2}".to_vec()),
    ];
    bus.publish_batch_shared("orders", &messages, &[Some(Shared::new(1_u32))])
        .await
        .unwrap();
    bus.publish("orders", "p", b"{\"n\":3}").await.unwrap();

    let (a, b) = (next(&mut router).await, next(&mut venue).await);
    assert_eq!(a.shared.as_ref().and_then(|s| s.get::<u32>()), Some(&1));
    assert_eq!(a.shared, b.shared, "both groups read the same value");
    assert_eq!(a.shared.as_ref().and_then(|s| s.get::<String>()), None);
    assert_eq!(
        next(&mut router).await.shared,
        None,
        "none shared for the second"
    );
    assert_eq!(
        next(&mut router).await.shared,
        None,
        "none for a plain publish"
    );

    // Every group present read the first message: the bus let its value go, and a group
    // that joins now decodes the bytes.
    let mut late = bus.subscribe("orders", "late").await.unwrap();
    let first = next(&mut late).await;
    assert_eq!(&first.payload[..], b"{\"n\":1}");
    assert_eq!(first.shared, None);
}

/// A message published as a value is never encoded while every group takes the value, and is
/// encoded once, on the first read of its bytes, when one does not (a dead letter, a reader in
/// another process's shoes).
#[tokio::test]
async fn a_value_published_deferred_is_encoded_only_when_its_bytes_are_read() {
    use chimera_ports::Deferred;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static ENCODED: AtomicUsize = AtomicUsize::new(0);
    #[allow(
        clippy::ptr_arg,
        reason = "an encoder takes `&T` for its value type `T`"
    )]
    fn encode(n: &String) -> Vec<u8> {
        ENCODED.fetch_add(1, Ordering::SeqCst);
        format!("{{\"n\":{n}}}").into_bytes()
    }
    let bus = MemoryEventBus::new();
    let mut router = bus.subscribe("orders", "router").await.unwrap();
    let mut venue = bus.subscribe("orders", "venue").await.unwrap();
    bus.publish_deferred(
        "orders",
        &[("p".to_owned(), Deferred::new("1".to_owned(), encode))],
    )
    .await
    .unwrap();

    let (a, b) = (next(&mut router).await, next(&mut venue).await);
    let value = a.shared.as_ref().and_then(|s| s.get::<String>());
    assert_eq!(value.map(String::as_str), Some("1"));
    assert_eq!(a.shared, b.shared, "both groups read the same value");
    assert!(!a.payload.is_encoded(), "taken as a value: no bytes made");
    assert_eq!(ENCODED.load(Ordering::SeqCst), 0);

    assert_eq!(
        &b.payload[..],
        b"{\"n\":1}",
        "read, the bytes are the value encoded"
    );
    assert!(a.payload.is_encoded(), "made once for every delivery of it");
    let mut late = bus.subscribe("orders", "late").await.unwrap();
    let late = next(&mut late).await;
    assert_eq!(&late.payload[..], b"{\"n\":1}");
    assert_eq!(ENCODED.load(Ordering::SeqCst), 1, "encoded once");
}
