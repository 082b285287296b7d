//! In process, "intent published" can be read off the bus itself: [`StampedBus`] wraps the
//! in-memory bus the runtimes share and notes when each message of the watched topics was
//! published, so tick-to-order ends when the node published its intent, not when the
//! benchmark's own reader got a core to run on (on two cores, often after the gateway has
//! executed the order). Both are reported. It also notes when the gateway read each intent,
//! which splits order-to-fill into the wait for the gateway's turn and the gateway's own work.

use async_trait::async_trait;
use chimera_kernel::engine::Command;
use chimera_messages::Envelope;
use chimera_ports::{Deferred, EventBus, PortResult, Subscription};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// When each message of the watched topics was published, by `(topic, offset)`; taken out
/// when read.
#[derive(Default)]
pub(crate) struct Stamps {
    watched: Vec<String>,
    at: Mutex<HashMap<(std::sync::Arc<str>, i64), Instant>>,
    /// How long after its publish each order command was read by the gateway: the first of
    /// its batch, then the others (which wait for the ones before them to execute).
    read_after: Mutex<(Vec<std::time::Duration>, Vec<std::time::Duration>)>,
    /// The publish of the last command read (a batch's commands share it).
    last_read_batch: Mutex<Option<Instant>>,
}

impl Stamps {
    /// The read delays noted so far (taken): of each batch's first command, and of the
    /// others.
    pub(crate) fn take_read_after(&self) -> (Vec<std::time::Duration>, Vec<std::time::Duration>) {
        std::mem::take(&mut *self.read_after.lock().unwrap())
    }

    /// Notes how long after its publish `d` was read, if it is an order command (progress
    /// messages, most of the topic, cost only the look at their first bytes).
    fn note_read(&self, d: &chimera_ports::Delivery) {
        let read = Instant::now();
        let command = match &d.shared {
            // In process, without making the bytes of a message published as a value.
            Some(shared) => shared.get::<Envelope<Command>>().is_some(),
            None => is_order_command(&d.payload),
        };
        if !command {
            return;
        }
        super::timeline::mark(super::timeline::Mark::GatewayRead);
        let at = self
            .at
            .lock()
            .unwrap()
            .get(&(d.topic.clone(), d.offset))
            .copied();
        if let Some(at) = at {
            let waited = read.saturating_duration_since(at);
            let first = self.last_read_batch.lock().unwrap().replace(at) != Some(at);
            let mut read_after = self.read_after.lock().unwrap();
            if first {
                read_after.0.push(waited);
            } else {
                read_after.1.push(waited);
            }
        }
    }

    /// When the message at `offset` of `topic` was published (once).
    pub(crate) fn take(&self, topic: &str, offset: i64) -> Option<Instant> {
        self.at
            .lock()
            .unwrap()
            .remove(&(std::sync::Arc::from(topic), offset))
    }
}

/// Whether `payload` is an order command. The envelope's type is its second field: a look at
/// the first bytes, not a parse, on the thread measured.
fn is_order_command(payload: &[u8]) -> bool {
    payload
        .get(..40)
        .is_some_and(|head| head.windows(15).any(|w| w == b"\"order_command\""))
}

/// What the timeline notes of a publish on `topic` (when it is traced): `commands` says
/// whether the batch held an order command.
fn note_publish(topic: &str, commands: impl FnOnce() -> bool) {
    use super::timeline::{mark, wanted, Mark};
    if !wanted() {
        return;
    }
    if topic.ends_with("orders.submission") {
        mark(if commands() {
            Mark::Intent
        } else {
            Mark::Progress
        });
    } else if topic.ends_with("orders.feedback") {
        mark(Mark::Report);
    } else if topic.ends_with("market.data") {
        mark(Mark::Bar);
    }
}

/// A bus that stamps what is published on the watched topics, then passes everything on.
pub(crate) struct StampedBus {
    inner: Arc<dyn EventBus>,
    stamps: Arc<Stamps>,
}

impl StampedBus {
    pub(crate) fn new(inner: Arc<dyn EventBus>, watched: Vec<String>) -> (Self, Arc<Stamps>) {
        let stamps = Arc::new(Stamps {
            watched,
            at: Mutex::default(),
            read_after: Mutex::default(),
            last_read_batch: Mutex::default(),
        });
        let bus = Self {
            inner,
            stamps: Arc::clone(&stamps),
        };
        (bus, stamps)
    }
}

#[async_trait]
impl EventBus for StampedBus {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        let (partition, offset) = self.inner.publish(topic, key, payload).await?;
        let now = Instant::now();
        note_publish(topic, || is_order_command(payload));
        if self.stamps.watched.iter().any(|w| w == topic) {
            self.stamps
                .at
                .lock()
                .unwrap()
                .insert((std::sync::Arc::from(topic), offset), now);
        }
        Ok((partition, offset))
    }

    /// Passed on as one batch, as `chimera up`'s bus receives it (one lock, one wake-up), then
    /// stamped: the batch holds the newest offsets of the topic. Exact here, where node and
    /// gateway publish from one thread and the in-memory bus's batch and offsets do not wait.
    async fn publish_batch(&self, topic: &str, messages: &[(String, Vec<u8>)]) -> PortResult<()> {
        self.publish_batch_shared(topic, messages, &[]).await
    }

    /// As [`Self::publish_batch`], passing the shared values on.
    async fn publish_batch_shared(
        &self,
        topic: &str,
        messages: &[(String, Vec<u8>)],
        shared: &[Option<chimera_ports::Shared>],
    ) -> PortResult<()> {
        self.inner
            .publish_batch_shared(topic, messages, shared)
            .await?;
        let now = Instant::now();
        note_publish(topic, || messages.iter().any(|(_, p)| is_order_command(p)));
        self.stamp_batch(topic, messages.len(), now).await
    }

    /// As [`Self::publish_batch`], for values encoded only if read: passed on as they are.
    async fn publish_deferred(
        &self,
        topic: &str,
        messages: &[(String, Deferred)],
    ) -> PortResult<()> {
        self.inner.publish_deferred(topic, messages).await?;
        let now = Instant::now();
        note_publish(topic, || {
            messages
                .iter()
                .any(|(_, m)| m.shared().get::<Envelope<Command>>().is_some())
        });
        self.stamp_batch(topic, messages.len(), now).await
    }

    async fn subscribe(&self, topic: &str, group: &str) -> PortResult<Box<dyn Subscription>> {
        self.subscribe_from(topic, group, &BTreeMap::new()).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        after: &BTreeMap<i32, i64>,
    ) -> PortResult<Box<dyn Subscription>> {
        let inner = self.inner.subscribe_from(topic, group, after).await?;
        // Only the gateway's reading of the intents: the bench's own readers take the stamps.
        if !topic.ends_with("orders.submission") || group.ends_with("bench.intents") {
            return Ok(inner);
        }
        Ok(Box::new(NotedReads {
            inner,
            stamps: Arc::clone(&self.stamps),
        }))
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        self.inner.last_offsets(topic).await
    }

    fn in_process(&self) -> bool {
        self.inner.in_process()
    }
}

impl StampedBus {
    /// Stamps the `count` messages just published on `topic` (its newest offsets) at `now`.
    async fn stamp_batch(&self, topic: &str, count: usize, now: Instant) -> PortResult<()> {
        if count == 0 || !self.stamps.watched.iter().any(|w| w == topic) {
            return Ok(());
        }
        let Some(&last) = self.inner.last_offsets(topic).await?.get(&0) else {
            return Ok(());
        };
        let name: std::sync::Arc<str> = std::sync::Arc::from(topic);
        let first = last + 1 - count as i64;
        let mut at = self.stamps.at.lock().unwrap();
        for offset in first..=last {
            at.insert((std::sync::Arc::clone(&name), offset), now);
        }
        Ok(())
    }
}

/// The gateway's subscription to the intents: notes when each command was read.
struct NotedReads {
    inner: Box<dyn Subscription>,
    stamps: Arc<Stamps>,
}

#[async_trait]
impl Subscription for NotedReads {
    async fn poll(
        &mut self,
        max_wait: std::time::Duration,
    ) -> PortResult<Option<chimera_ports::Delivery>> {
        let polled = self.inner.poll(max_wait).await?;
        if let Some(d) = &polled {
            self.stamps.note_read(d);
        }
        Ok(polled)
    }

    async fn ack(&mut self, delivery: &chimera_ports::Delivery) -> PortResult<()> {
        self.inner.ack(delivery).await
    }

    fn starts(&self) -> BTreeMap<i32, i64> {
        self.inner.starts()
    }
}
