//! The port's promise that a zero wait never blocks, on Kafka: a poll with nothing queued
//! returns at once rather than waiting for a timer. Checked on a paused clock, which moves only
//! when the runtime, idle, has a timer to wait for: a poll that armed one (tokio counts whole
//! milliseconds, rounded up, so between two ticks a zero timeout waited for the next) moves it.
#![expect(clippy::unwrap_used, reason = "tests")]

mod support;

use chimera_ports::EventBus;
use std::time::Duration;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_zero_wait_returns_at_once_and_still_delivers() {
    zero_wait_never_blocks(false).await;
}

/// The same through the consumer exclusive subscriptions share.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_zero_wait_on_the_shared_consumer_returns_at_once_and_still_delivers() {
    zero_wait_never_blocks(true).await;
}

async fn zero_wait_never_blocks(exclusive: bool) {
    let Some(bus) = support::bus(exclusive) else {
        return;
    };
    let topic = support::unique("zero-wait");
    let mut sub = bus.subscribe(&topic, &format!("{topic}.g")).await.unwrap();

    // Between two ticks, as a real clock almost always is (on a tick a zero timeout is due).
    tokio::time::advance(Duration::from_micros(500)).await;
    for _ in 0..20 {
        let before = tokio::time::Instant::now();
        assert!(sub.poll(Duration::ZERO).await.unwrap().is_none());
        assert_eq!(
            tokio::time::Instant::now(),
            before,
            "a zero-wait poll of an empty topic waited for a timer"
        );
    }

    // Zero-wait polls still deliver what arrives (real time: the broker's, not the clock's).
    bus.publish(&topic, "k", b"hello").await.unwrap();
    let started = std::time::Instant::now();
    let delivered = loop {
        if let Some(d) = sub.poll(Duration::ZERO).await.unwrap() {
            break d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing delivered to zero-wait polls in 30 s"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!(&delivered.payload[..], b"hello");
}
