//! The [`EventBus`] contract.

use crate::{Delivery, EventBus, Subscription};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn next(sub: &mut Box<dyn Subscription>, rule: &str) -> Delivery {
    match sub.poll(WAIT).await {
        Ok(Some(d)) => d,
        Ok(None) => panic!("{rule}: nothing delivered within {WAIT:?}"),
        Err(e) => panic!("{rule}: poll failed: {e}"),
    }
}

async fn drain(sub: &mut Box<dyn Subscription>, count: usize, rule: &str) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        out.push(next(sub, rule).await);
    }
    out
}

/// Runs every event-bus rule against `bus`, using topics and groups prefixed by `prefix`.
///
/// # Panics
/// When the bus breaks a rule of the [`EventBus`] contract.
pub async fn event_bus_suite(bus: &dyn EventBus, prefix: &str) {
    per_key_order_and_late_group_from_earliest(bus, prefix).await;
    groups_fan_out(bus, prefix).await;
    unacked_is_redelivered(bus, prefix).await;
    poll_times_out_empty(bus, prefix).await;
    new_keys_reach_existing_members(bus, prefix).await;
    ack_covers_only_its_partition(bus, prefix).await;
    subscribe_from_starts_after_the_given_offsets(bus, prefix).await;
    publish_batch_delivers_all_in_key_order(bus, prefix).await;
    in_process_means_no_wait(bus, prefix).await;
    shared_values_stay_in_process(bus, prefix).await;
    deferred_messages_read_as_encoded(bus, prefix).await;
}

/// Messages published as values ([`EventBus::publish_deferred`]) are delivered like any batch,
/// in order per key, and their bytes are what the encoder makes of each value, on every bus;
/// on a bus in this process the value comes with the delivery (as with
/// [`EventBus::publish_batch_shared`]), and nowhere else.
async fn deferred_messages_read_as_encoded(bus: &dyn EventBus, prefix: &str) {
    #[allow(
        clippy::ptr_arg,
        reason = "an encoder takes `&T` for its value type `T`"
    )]
    fn encode(n: &String) -> Vec<u8> {
        format!("n={n}").into_bytes()
    }
    let topic = format!("{prefix}.deferred");
    let messages: Vec<(String, crate::Deferred)> = (1..=3_u32)
        .map(|n| ("k".to_owned(), crate::Deferred::new(n.to_string(), encode)))
        .collect();
    bus.publish_deferred(&topic, &messages)
        .await
        .expect("publish values");
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-deferred"))
        .await
        .expect("subscribe");
    let got = drain(&mut sub, 3, "values published deferred are delivered").await;
    let payloads: Vec<&[u8]> = got.iter().map(|d| &d.payload[..]).collect();
    assert_eq!(
        payloads,
        [&b"n=1"[..], b"n=2", b"n=3"],
        "each message reads as its value encoded, in order"
    );
    let values: Vec<Option<&str>> = got
        .iter()
        .map(|d| {
            d.shared
                .as_ref()
                .and_then(|s| s.get::<String>())
                .map(String::as_str)
        })
        .collect();
    let expected = if bus.in_process() {
        vec![Some("1"), Some("2"), Some("3")]
    } else {
        vec![None, None, None]
    };
    assert_eq!(expected, values, "the values only within the process");
}

/// A batch published with values beside its bytes ([`EventBus::publish_batch_shared`]) is
/// delivered like any batch; the values come with the deliveries on a bus in this process and
/// never on one across a network (a consumer must not tell the two apart by anything else).
async fn shared_values_stay_in_process(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.shared");
    let messages = vec![("k".to_owned(), vec![1_u8]), ("k".to_owned(), vec![2_u8])];
    bus.publish_batch_shared(&topic, &messages, &[Some(crate::Shared::new(7_i64)), None])
        .await
        .expect("publish a batch with values");
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-shared"))
        .await
        .expect("subscribe");
    let got = drain(&mut sub, 2, "a batch with values is delivered whole").await;
    let payloads: Vec<u8> = got.iter().map(|d| d.payload[0]).collect();
    assert_eq!(payloads, [1, 2], "the bytes, in order");
    let values: Vec<Option<i64>> = got
        .iter()
        .map(|d| d.shared.as_ref().and_then(|s| s.get::<i64>()).copied())
        .collect();
    let expected = if bus.in_process() {
        vec![Some(7), None]
    } else {
        vec![None, None]
    };
    assert_eq!(values, expected, "values only within the process");
}

/// A bus that says it is in process ([`EventBus::in_process`]) has a published message ready
/// for a member of the same process at once: a poll that does not wait finds it.
async fn in_process_means_no_wait(bus: &dyn EventBus, prefix: &str) {
    if !bus.in_process() {
        return;
    }
    let topic = format!("{prefix}.in-process");
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-in-process"))
        .await
        .expect("subscribe");
    for i in 0..3_u8 {
        bus.publish(&topic, "k", &[i]).await.expect("publish");
        let got = sub.poll(Duration::ZERO).await.expect("poll");
        assert_eq!(
            got.map(|d| d.payload.to_vec()),
            Some(vec![i]),
            "an in-process bus hands a published message over without waiting"
        );
    }
}

async fn publish_batch_delivers_all_in_key_order(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.batch");
    let messages: Vec<(String, Vec<u8>)> = (0..30_u8)
        .map(|i| ((if i % 3 == 0 { "a" } else { "b" }).to_owned(), vec![i]))
        .collect();
    bus.publish_batch(&topic, &messages)
        .await
        .expect("publish batch");
    bus.publish_batch(&topic, &[])
        .await
        .expect("an empty batch");
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-batch"))
        .await
        .expect("subscribe");
    let got = drain(&mut sub, messages.len(), "a batch is delivered whole").await;
    for key in ["a", "b"] {
        let sent: Vec<u8> = messages
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, p)| p[0])
            .collect();
        let received: Vec<u8> = got
            .iter()
            .filter(|d| &*d.key == key)
            .map(|d| d.payload[0])
            .collect();
        assert_eq!(received, sent, "a batch keeps the order of each key");
    }
}

async fn subscribe_from_starts_after_the_given_offsets(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.from");
    assert!(
        bus.last_offsets(&topic)
            .await
            .expect("last offsets")
            .is_empty(),
        "a topic never written has no last offset"
    );
    let mut written = Vec::new();
    for i in 0..6_u8 {
        written.push(bus.publish(&topic, "k", &[i]).await.expect("publish"));
    }
    let (partition, third) = written[2];
    let last = bus.last_offsets(&topic).await.expect("last offsets");
    assert_eq!(
        last.get(&partition).copied(),
        Some(written[5].1),
        "the last offset is that of the newest message"
    );
    let after = BTreeMap::from([(partition, third)]);
    let group = format!("{prefix}-from");
    let mut sub = bus
        .subscribe_from(&topic, &group, &after)
        .await
        .expect("subscribe from");
    let starts = sub.starts();
    assert!(
        starts.is_empty() || starts.get(&partition) == Some(&(third + 1)),
        "a new group starts right after the given offset, and says so: {starts:?}"
    );
    let got = drain(&mut sub, 3, "a new group starts after the given offset").await;
    assert_eq!(
        got.iter().map(|d| d.payload[0]).collect::<Vec<_>>(),
        vec![3, 4, 5],
        "nothing at or before the given offset is delivered"
    );
    sub.ack(&got[0]).await.expect("ack");
    drop(sub);
    let mut again = bus
        .subscribe_from(&topic, &group, &BTreeMap::new())
        .await
        .expect("subscribe from again");
    let resumed = next(&mut again, "an existing group keeps its position").await;
    assert_eq!(resumed.payload, vec![4], "the group resumes after its ack");
    let starts = again.starts();
    // Past what was acknowledged, at or before the first message it hands out (offsets need
    // not be consecutive: Redis Streams' are entry ids).
    assert!(
        starts.is_empty()
            || starts
                .get(&partition)
                .is_some_and(|&start| start > got[0].offset && start <= resumed.offset),
        "a member says it starts past its group's committed position: {starts:?}"
    );
    assert!(
        starts
            .get(&partition)
            .is_none_or(|&start| resumed.offset >= start),
        "nothing below the start is delivered"
    );
}

async fn per_key_order_and_late_group_from_earliest(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.order");
    for i in 0..20 {
        let key = if i % 2 == 0 { "a" } else { "b" };
        bus.publish(&topic, key, format!("{key}{i}").as_bytes())
            .await
            .expect("publish");
    }
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-late"))
        .await
        .expect("subscribe");
    let got = drain(
        &mut sub,
        20,
        "a group created after publishing starts from the earliest",
    )
    .await;
    for key in ["a", "b"] {
        let seq: Vec<String> = got
            .iter()
            .filter(|d| &*d.key == key)
            .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
            .collect();
        let expected: Vec<String> = (0..20)
            .filter(|i| (i % 2 == 0) == (key == "a"))
            .map(|i| format!("{key}{i}"))
            .collect();
        assert_eq!(
            seq, expected,
            "messages with one key arrive in publish order"
        );
    }
    assert!(
        got.iter().all(|d| *d.topic == *topic),
        "deliveries name their topic"
    );
}

async fn groups_fan_out(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.fanout");
    let mut g1 = bus
        .subscribe(&topic, &format!("{prefix}-g1"))
        .await
        .expect("subscribe");
    let mut g2 = bus
        .subscribe(&topic, &format!("{prefix}-g2"))
        .await
        .expect("subscribe");
    for i in 0..3 {
        bus.publish(&topic, "k", &[i]).await.expect("publish");
    }
    for sub in [&mut g1, &mut g2] {
        let got = drain(sub, 3, "every group receives every message").await;
        assert_eq!(
            got.iter().map(|d| d.payload[0]).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        for d in &got {
            sub.ack(d).await.expect("ack");
        }
    }
}

async fn unacked_is_redelivered(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.redeliver");
    let group = format!("{prefix}-worker");
    for i in 0..4_u8 {
        bus.publish(&topic, "k", &[i]).await.expect("publish");
    }
    {
        let mut sub = bus.subscribe(&topic, &group).await.expect("subscribe");
        let got = drain(&mut sub, 4, "first member gets the messages").await;
        // An acknowledgement needs no payload: consumers drop it from what waits for one.
        sub.ack(&got[1].clone().acknowledgeable())
            .await
            .expect("ack up to the second");
        sub.ack(&got[1])
            .await
            .expect("acknowledging twice is harmless");
        // dropped here without acknowledging 2 and 3: a crash
    }
    let mut sub = bus.subscribe(&topic, &group).await.expect("resubscribe");
    let first = next(&mut sub, "unacknowledged messages are delivered again").await;
    assert_eq!(
        first.payload,
        vec![2],
        "redelivery resumes after the last acknowledged message"
    );
    let second = next(&mut sub, "redelivery continues").await;
    assert_eq!(second.payload, vec![3]);
    sub.ack(&second).await.expect("ack");
}

async fn poll_times_out_empty(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.empty");
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-idle"))
        .await
        .expect("subscribe");
    let got = sub.poll(Duration::from_millis(200)).await.expect("poll");
    assert!(
        got.is_none(),
        "poll on an empty topic returns None after the wait"
    );
}

async fn new_keys_reach_existing_members(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.newkeys");
    let mut sub = bus
        .subscribe(&topic, &format!("{prefix}-early"))
        .await
        .expect("subscribe");
    let keys = ["x", "y", "z"];
    for round in 0..2 {
        for key in keys {
            bus.publish(&topic, key, format!("{key}{round}").as_bytes())
                .await
                .expect("publish");
        }
    }
    let got = drain(
        &mut sub,
        6,
        "keys first published after a member joined reach it",
    )
    .await;
    for key in keys {
        let seq: Vec<String> = got
            .iter()
            .filter(|d| &*d.key == key)
            .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
            .collect();
        assert_eq!(seq, vec![format!("{key}0"), format!("{key}1")]);
    }
}

async fn ack_covers_only_its_partition(bus: &dyn EventBus, prefix: &str) {
    let topic = format!("{prefix}.partitions");
    let group = format!("{prefix}-partial");
    for round in 0..3 {
        for k in 0..6 {
            bus.publish(&topic, &format!("p{k}"), format!("p{k}-{round}").as_bytes())
                .await
                .expect("publish");
        }
    }
    let first = {
        let mut sub = bus.subscribe(&topic, &group).await.expect("subscribe");
        let got = drain(&mut sub, 18, "every message is delivered").await;
        let last_of_p0 = got
            .iter()
            .find(|d| d.payload == b"p0-2"[..])
            .expect("p0-2 delivered")
            .clone();
        sub.ack(&last_of_p0).await.expect("ack");
        (got, last_of_p0)
        // dropped: a crash after acknowledging one key's messages
    };
    let (got, acked) = first;
    let mut expected: Vec<Vec<u8>> = got
        .iter()
        .filter(|d| !(d.partition == acked.partition && d.offset <= acked.offset))
        .map(|d| d.payload.to_vec())
        .collect();
    expected.sort();
    let mut sub = bus.subscribe(&topic, &group).await.expect("resubscribe");
    let mut again: Vec<Vec<u8>> = drain(
        &mut sub,
        expected.len(),
        "what was not acknowledged in its partition is delivered again",
    )
    .await
    .into_iter()
    .map(|d| d.payload.to_vec())
    .collect();
    again.sort();
    assert_eq!(
        again, expected,
        "an ack covers its own partition only, up to its offset"
    );
    let extra = sub
        .poll(Duration::from_millis(300))
        .await
        .expect("poll after redelivery");
    assert!(
        extra.is_none(),
        "acknowledged messages are not delivered again: {extra:?}"
    );
}
