//! The in-memory bus drops what every consumer group acknowledged once it is older than the
//! retention (a long-running `chimera up` must not hold every message it ever carried), and
//! never what a group has yet to read.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use chimera_memory::MemoryEventBus;
use chimera_ports::{Delivery, EventBus, Subscription};
use std::collections::BTreeMap;
use std::time::Duration;

async fn next(sub: &mut Box<dyn Subscription>) -> Delivery {
    sub.poll(Duration::from_secs(1))
        .await
        .unwrap()
        .expect("a message")
}

/// Reads `n` messages and returns the last (to acknowledge everything read).
async fn read(sub: &mut Box<dyn Subscription>, n: usize) -> Delivery {
    let mut last = None;
    for _ in 0..n {
        last = Some(next(sub).await);
    }
    last.expect("n > 0")
}

#[tokio::test]
async fn messages_every_group_acknowledged_are_dropped_and_offsets_go_on() {
    let bus = MemoryEventBus::with_retention(Duration::ZERO);
    let mut fast = bus.subscribe("t", "fast").await.unwrap();
    let mut slow = bus.subscribe("t", "slow").await.unwrap();
    for i in 0..10_u8 {
        bus.publish("t", "k", &[i]).await.unwrap();
    }

    // One group done with everything: the other still needs it all.
    let last = read(&mut fast, 10).await;
    fast.ack(&last).await.unwrap();
    assert_eq!(bus.retained("t"), 10);

    // The slow group acknowledges the first five: those go.
    let fifth = read(&mut slow, 5).await;
    assert_eq!(fifth.offset, 4);
    slow.ack(&fifth).await.unwrap();
    assert_eq!(bus.retained("t"), 5);
    assert_eq!(bus.len("t"), 10, "len counts every message ever published");
    assert_eq!(
        bus.last_offsets("t").await.unwrap(),
        BTreeMap::from([(0, 9)])
    );

    // The slow group goes on where it was; offsets are those of the whole log.
    let sixth = next(&mut slow).await;
    assert_eq!((sixth.offset, sixth.payload.to_vec()), (5, vec![5]));

    // A group rejoining starts at its acknowledged position, which is still kept.
    drop(slow);
    let mut again = bus.subscribe("t", "slow").await.unwrap();
    assert_eq!(next(&mut again).await.offset, 5);

    // A new group starts at the first message kept, asked for earlier or not.
    let mut late = bus.subscribe("t", "late").await.unwrap();
    assert_eq!(next(&mut late).await.offset, 5);
    let mut from = bus
        .subscribe_from("t", "from", &BTreeMap::from([(0, 1)]))
        .await
        .unwrap();
    assert_eq!(next(&mut from).await.offset, 5);
    let mut after = bus
        .subscribe_from("t", "after", &BTreeMap::from([(0, 7)]))
        .await
        .unwrap();
    assert_eq!(next(&mut after).await.offset, 8);

    // New messages continue the offsets.
    let (_, offset) = bus.publish("t", "k", &[10]).await.unwrap();
    assert_eq!(offset, 10);
}

#[tokio::test]
async fn a_topic_nobody_reads_keeps_its_messages_for_the_first_group() {
    let bus = MemoryEventBus::with_retention(Duration::ZERO);
    for i in 0..3_u8 {
        bus.publish("quiet", "k", &[i]).await.unwrap();
    }
    assert_eq!(bus.retained("quiet"), 3);
    let mut first = bus.subscribe("quiet", "first").await.unwrap();
    assert_eq!(next(&mut first).await.offset, 0);
}

#[tokio::test]
async fn acknowledged_messages_stay_for_the_retention_for_groups_that_join_later() {
    let bus = MemoryEventBus::with_retention(Duration::from_millis(300));
    let mut early = bus.subscribe("t", "early").await.unwrap();
    for i in 0..3_u8 {
        bus.publish("t", "k", &[i]).await.unwrap();
    }
    let last = read(&mut early, 3).await;
    early.ack(&last).await.unwrap();
    assert_eq!(bus.retained("t"), 3, "younger than the retention");
    let mut late = bus.subscribe("t", "late").await.unwrap();
    assert_eq!(next(&mut late).await.offset, 0);

    tokio::time::sleep(Duration::from_millis(350)).await;
    // The late group has not acknowledged: still kept.
    early.ack(&last).await.unwrap();
    assert_eq!(bus.retained("t"), 3);
    // Once it has, the expired messages go.
    let last = read(&mut late, 2).await;
    late.ack(&last).await.unwrap();
    assert_eq!(bus.retained("t"), 0);
}
