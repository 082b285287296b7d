//! Exclusive subscriptions share one fetching consumer: each still gets exactly its own topic's
//! messages, a second group on the same topic reads it all too, and a subscription dropped and
//! taken again resumes after its acknowledged offset while the others keep reading.
#![expect(clippy::unwrap_used, reason = "tests")]

mod support;

use chimera_ports::{Delivery, EventBus, Subscription};
use std::time::{Duration, Instant};

async fn take(sub: &mut Box<dyn Subscription>, n: usize, what: &str) -> Vec<Vec<u8>> {
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: {} of {n} in 30 s",
            got.len()
        );
        if let Some(d) = sub.poll(Duration::from_millis(200)).await.unwrap() {
            got.push(d);
        }
    }
    // Nothing more than asked for.
    assert!(
        sub.poll(Duration::from_millis(300))
            .await
            .unwrap()
            .is_none(),
        "{what}: more than {n}"
    );
    got.iter().map(|d: &Delivery| d.payload.to_vec()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_on_the_shared_consumer_read_their_own_topics() {
    let Some(bus) = support::bus(true) else {
        return;
    };
    let prefix = support::unique("shared");
    let (a, b) = (format!("{prefix}.a"), format!("{prefix}.b"));
    for topic in [&a, &b] {
        bus.ensure_topic(topic).await.unwrap();
    }
    let mut on_a = bus.subscribe(&a, &format!("{prefix}.ga")).await.unwrap();
    let mut on_b = bus.subscribe(&b, &format!("{prefix}.gb")).await.unwrap();
    // Another group on topic a: the shared consumer reads a for the first already.
    let mut also_on_a = bus.subscribe(&a, &format!("{prefix}.ga2")).await.unwrap();

    for i in 0..3_u8 {
        bus.publish(&a, "k", &[b'a', i]).await.unwrap();
        bus.publish(&b, "k", &[b'b', i]).await.unwrap();
    }
    let expected_a: Vec<Vec<u8>> = (0..3).map(|i| vec![b'a', i]).collect();
    let expected_b: Vec<Vec<u8>> = (0..3).map(|i| vec![b'b', i]).collect();
    assert_eq!(take(&mut on_a, 3, "topic a").await, expected_a);
    assert_eq!(take(&mut on_b, 3, "topic b").await, expected_b);
    assert_eq!(
        take(&mut also_on_a, 3, "topic a, second group").await,
        expected_a
    );

    // Group ga3 reads a from the start (a consumer of its own: the shared one reads a for
    // ga), acknowledges the second message and goes (a crash: the third unacknowledged).
    let acked = {
        let mut reread = bus.subscribe(&a, &format!("{prefix}.ga3")).await.unwrap();
        let started = Instant::now();
        let mut ds = Vec::new();
        while ds.len() < 3 && started.elapsed() < Duration::from_secs(30) {
            if let Some(d) = reread.poll(Duration::from_millis(200)).await.unwrap() {
                ds.push(d);
            }
        }
        assert_eq!(ds.len(), 3);
        reread.ack(&ds[1]).await.unwrap();
        ds
    };
    assert_eq!(acked[1].payload.to_vec(), vec![b'a', 1]);
    drop(on_a);

    // ga's subscription goes: a's partitions leave the shared consumer while the others read.
    bus.publish(&b, "k", b"b3").await.unwrap();
    bus.publish(&a, "k", b"a3").await.unwrap();
    assert_eq!(
        take(&mut on_b, 1, "topic b after a left").await,
        vec![b"b3".to_vec()]
    );
    assert_eq!(
        take(&mut also_on_a, 1, "topic a, second group, after a left").await,
        vec![b"a3".to_vec()]
    );

    // ga3 again, now on the shared consumer: resumes right after what it acknowledged.
    let mut resumed = bus.subscribe(&a, &format!("{prefix}.ga3")).await.unwrap();
    assert_eq!(
        take(&mut resumed, 2, "topic a resumed after its acknowledgement").await,
        vec![vec![b'a', 2], b"a3".to_vec()]
    );
}
