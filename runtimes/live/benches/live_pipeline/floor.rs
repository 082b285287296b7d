//! The floor: one publish → poll hop through the bus adapter the runtimes use, built from the
//! same configuration (client library, producer and fetch settings, stream layout), at the
//! benchmark's rate, on a topic of its own. Tick-to-order crosses two such hops (feed → node,
//! node → observer), order-to-fill two more (node → gateway, gateway → observer); what is above
//! them is the runtimes' own time.

use super::pacing::Pacing;
use super::setup::Figures;
use chimera_ports::EventBus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Publishes `count` small messages at `rate`/s, one at a time as the node and gateway do, and
/// returns the time each took to reach a subscriber polling the topic. Published as the latency
/// phase publishes (`pacing`): in process, from the same place, so the hop is the one a bar
/// crosses to the node.
pub(crate) async fn hop(
    bus: &Arc<dyn EventBus>,
    topic: &str,
    count: usize,
    rate: u64,
    pacing: Pacing,
) -> Figures {
    let mut sub = bus
        .subscribe(topic, &format!("{topic}.floor"))
        .await
        .unwrap();
    // Warm-up: the topic exists and the subscriber is assigned before the clock starts.
    bus.publish(topic, "k", &u64::MAX.to_le_bytes())
        .await
        .unwrap();
    let warm = Instant::now();
    loop {
        if let Ok(Some(d)) = sub.poll(Duration::from_millis(100)).await {
            sub.ack(&d).await.unwrap();
            break;
        }
        assert!(
            warm.elapsed() < Duration::from_mins(1),
            "the floor's subscriber received nothing in 60 s on {topic}"
        );
    }
    let sent: Arc<Mutex<Vec<Option<Instant>>>> = Arc::new(Mutex::new(vec![None; count]));
    let publisher = {
        let (bus, sent, topic) = (Arc::clone(bus), Arc::clone(&sent), topic.to_owned());
        #[allow(clippy::cast_precision_loss, reason = "a rate")]
        let period = Duration::from_secs_f64(1.0 / rate.max(1) as f64);
        pacing.spawn(period, move |mut pacer| async move {
            for i in 0..count {
                pacer.until(period * u32::try_from(i).unwrap()).await;
                sent.lock().unwrap()[i] = Some(Instant::now());
                bus.publish(&topic, "k", &(i as u64).to_le_bytes())
                    .await
                    .unwrap();
            }
        })
    };
    let mut samples = Vec::with_capacity(count);
    let mut last = Instant::now();
    while samples.len() < count && last.elapsed() < Duration::from_secs(10) {
        let Ok(Some(d)) = sub.poll(Duration::from_millis(1)).await else {
            continue;
        };
        let now = Instant::now();
        last = now;
        let Ok(bytes) = <[u8; 8]>::try_from(&d.payload[..]) else {
            continue;
        };
        let i = usize::try_from(u64::from_le_bytes(bytes)).unwrap_or(usize::MAX);
        if let Some(Some(at)) = sent.lock().unwrap().get(i) {
            samples.push(now.duration_since(*at).as_secs_f64() * 1e3);
        }
        if samples.len() % 64 == 0 {
            sub.ack(&d).await.unwrap();
        }
    }
    publisher.await.unwrap();
    Figures::of(samples)
}

/// A backlog read: how long until the first message, and the rate from the first message to
/// the last (start-up, a consumer group's join for one, is not a rate).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) first_after: Duration,
    pub(crate) steady: f64,
}

impl Rate {
    /// `count` messages, the first at `first` and the last at `last`, after starting at
    /// `started`.
    pub(crate) fn of(started: Instant, first: (Instant, f64), last: (Instant, f64)) -> Self {
        let span = last.0.duration_since(first.0).as_secs_f64();
        Self {
            first_after: first.0.duration_since(started),
            steady: (last.1 - first.1) / span.max(1e-9),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.0} messages/s from the first to the last, the first {:.2} s after starting",
            self.steady,
            self.first_after.as_secs_f64()
        )
    }
}

/// The bus's own read rate: a subscriber of a fresh group on `topic` polls `count` messages
/// already there, decoding nothing. The ceiling of a node reading the same backlog through the
/// same adapter.
pub(crate) async fn read_rate(bus: &Arc<dyn EventBus>, topic: &str, count: usize) -> Rate {
    let started = Instant::now();
    let mut sub = bus
        .subscribe(topic, &format!("{topic}.floor-read"))
        .await
        .unwrap();
    let mut read = 0;
    let mut first = None;
    let mut last = None;
    while read < count && started.elapsed() < Duration::from_mins(5) {
        if let Ok(Some(d)) = sub.poll(Duration::from_millis(100)).await {
            read += 1;
            first.get_or_insert_with(Instant::now);
            last = Some(d);
        }
    }
    let finished = Instant::now();
    if let Some(d) = last {
        sub.ack(&d).await.unwrap();
    }
    assert_eq!(
        read, count,
        "the floor's reader got the whole backlog of {topic}"
    );
    #[allow(clippy::cast_precision_loss, reason = "a count")]
    let read = read as f64;
    Rate::of(started, (first.unwrap_or(started), 1.0), (finished, read))
}
