//! A member woken by a batch reads the whole batch in that round trip. Redis serves a blocked
//! `XREADGROUP` with the one entry that woke it, even when the same pipeline adds more right
//! after (to that stream or another of the topic); the subscription's blocking read carries a
//! second read that does not block and takes the rest. Seen from outside: once the first
//! delivery is back, every entry of the batch is already pending for the member. On the real
//! Redis the test command starts (`CHIMERA_REDIS_URL`).

use chimera_ports::EventBus;
use chimera_redis::RedisStreamsEventBus;
use std::sync::Arc;
use std::time::Duration;

mod support;

const BATCH: usize = 10;

#[tokio::test]
async fn a_member_woken_by_a_batch_has_read_all_of_it() {
    let Some(config) = support::config_routed("woken-read", "bars", "bars:{w}:<key>") else {
        return;
    };
    let bus = Arc::new(
        RedisStreamsEventBus::connect(&config)
            .await
            .expect("connect"),
    );
    // Both streams exist and the member has joined and drained them.
    for key in ["A", "B"] {
        bus.publish("bars", key, b"first").await.expect("publish");
    }
    let mut subscription = bus.subscribe("bars", "g").await.expect("subscribe");
    for _ in ["A", "B"] {
        let delivery = subscription
            .poll(Duration::from_secs(5))
            .await
            .expect("poll")
            .expect("the first message of each stream");
        subscription.ack(&delivery).await.expect("ack");
    }

    // Published while the member waits on the server.
    let publisher = Arc::clone(&bus);
    let batch = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let messages: Vec<(String, Vec<u8>)> = (0..BATCH)
            .map(|i| {
                let key = if i % 2 == 0 { "A" } else { "B" };
                (key.to_owned(), format!("bar {i}").into_bytes())
            })
            .collect();
        publisher
            .publish_batch("bars", &messages)
            .await
            .expect("publish the batch");
    });
    let first = subscription
        .poll(Duration::from_secs(5))
        .await
        .expect("poll")
        .expect("the batch wakes the member");
    assert_eq!(&*first.payload, b"bar 0");
    batch.await.expect("publisher");

    let client = redis::Client::open(config.url.as_str()).expect("url");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let mut pending = 0;
    for key in ["A", "B"] {
        let summary: (usize, redis::Value, redis::Value, redis::Value) = redis::cmd("XPENDING")
            .arg(bus.stream_name("bars", key))
            .arg("g")
            .query_async(&mut raw)
            .await
            .expect("XPENDING");
        pending += summary.0;
    }
    assert_eq!(
        pending, BATCH,
        "read with the entry that ended the wait: the whole batch, from both streams"
    );
    // And they are handed out without another wait, each stream in its order.
    let mut payloads = vec![first.payload.to_vec()];
    for _ in 1..BATCH {
        let delivery = subscription
            .poll(Duration::ZERO)
            .await
            .expect("poll")
            .expect("already read");
        payloads.push(delivery.payload.to_vec());
    }
    let of_key = |parity: usize| -> Vec<String> {
        payloads
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .filter(|p| p[4..].parse::<usize>().is_ok_and(|i| i % 2 == parity))
            .collect()
    };
    assert_eq!(of_key(0), ["bar 0", "bar 2", "bar 4", "bar 6", "bar 8"]);
    assert_eq!(of_key(1), ["bar 1", "bar 3", "bar 5", "bar 7", "bar 9"]);
}
