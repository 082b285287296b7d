//! [`EventBus`]: topic publish/subscribe with consumer groups and explicit acknowledgement.
//!
//! Contract (checked by `conformance::event_bus`):
//! - `publish` returns once the message is durable on the bus; messages with the same key on the
//!   same topic are delivered in publish order.
//! - A new consumer group starts from the earliest retained message.
//! - Every group receives every message (fan-out between groups; within a group, each message is
//!   handed to one member).
//! - At-least-once: a delivery that was not acknowledged is delivered again to the next
//!   subscription of the group (for instance after a crash). `ack` marks the delivery and every
//!   earlier delivery of the same partition as processed; acknowledging twice is harmless.
//! - `subscribe_from` creates a group positioned after given offsets, and `last_offsets` tells
//!   where each partition ends: together they let a process that takes over a consumer (a
//!   portfolio moved to another node) read exactly what its checkpoint has not applied, and know
//!   when it has caught up.

pub use crate::shared::{Deferred, Payload, Shared};
use crate::PortResult;
use async_trait::async_trait;
pub use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A message handed to a subscriber.
///
/// Its topic, key and payload are shared rather than owned (`Arc<str>`, [`Payload`]): an
/// in-process bus hands every consumer group the message it keeps without copying it, and a
/// subscription hands out its topic's name without allocating per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Topic it was published on.
    pub topic: Arc<str>,
    /// Partitioning key.
    pub key: Arc<str>,
    /// Raw payload: bytes in hand, or made at the first read when the message was published
    /// deferred on an in-process bus ([`EventBus::publish_deferred`]).
    pub payload: Payload,
    /// Partition within the topic.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// The value `payload` encodes, when the bus lives in this process and the publisher handed
    /// it over ([`EventBus::publish_batch_shared`]); `None` on a bus that crosses a process
    /// boundary. A consumer that knows the value's type may take it instead of decoding the
    /// payload, which says the same: an order command read this way costs the gateway a clone
    /// of data the node's core just wrote, rather than a parse of it.
    pub shared: Option<Shared>,
}

impl Delivery {
    /// What [`Subscription::ack`] needs of this delivery: its topic, key, partition and
    /// offset, without its payload or shared value. A consumer that keeps deliveries until
    /// their effects are durable keeps these: a node behind a backlog held a second's worth
    /// of messages, payloads and all (tens of MiB on Kafka).
    #[must_use]
    pub fn acknowledgeable(mut self) -> Self {
        self.payload = Payload::default();
        self.shared = None;
        self
    }
}

/// The newest of `deliveries` in each topic and partition, in the order their partitions first
/// appear: what acknowledging every one of them comes to, an acknowledgement covering what came
/// before it in its partition ([`Subscription::ack`]). A consumer that keeps a delivery per
/// read until a checkpoint covers it acknowledges these instead of each: every acknowledgement
/// is a round trip to the bus (a synchronous offset commit on Kafka), which the consumer's loop
/// waits for.
#[must_use]
pub fn newest_per_partition(deliveries: impl IntoIterator<Item = Delivery>) -> Vec<Delivery> {
    // A consumer reads one topic or a few, so the partitions are few: a short list, searched.
    let mut newest: Vec<Delivery> = Vec::new();
    for d in deliveries {
        match newest
            .iter_mut()
            .find(|n| n.partition == d.partition && n.topic == d.topic)
        {
            Some(n) if n.offset <= d.offset => *n = d,
            Some(_) => {}
            None => newest.push(d),
        }
    }
    newest
}

/// A topic-based message bus.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes a message and waits until the bus has made it durable. Returns the
    /// `(partition, offset)` it was stored at.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the bus is unreachable or did not confirm in time (the
    /// message may or may not have been stored: publish with idempotent payloads).
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)>;

    /// Publishes `messages` (key, payload) in order and waits until all are durable. Adapters
    /// that can pipeline (Kafka) override it; the default publishes one after the other.
    ///
    /// # Errors
    /// As [`Self::publish`]; on error, a prefix of the batch may have been stored.
    async fn publish_batch(&self, topic: &str, messages: &[(String, Vec<u8>)]) -> PortResult<()> {
        for (key, payload) in messages {
            self.publish(topic, key, payload).await?;
        }
        Ok(())
    }

    /// As [`Self::publish_batch`], with the value each message encodes beside it (`shared[i]`
    /// for `messages[i]`, `None` for one without), which an in-process bus hands its consumers
    /// in [`Delivery::shared`]. Other buses drop the values (the default); a wrapper of another
    /// bus passes them on.
    ///
    /// # Errors
    /// As [`Self::publish_batch`].
    async fn publish_batch_shared(
        &self,
        topic: &str,
        messages: &[(String, Vec<u8>)],
        shared: &[Option<Shared>],
    ) -> PortResult<()> {
        let _ = shared;
        self.publish_batch(topic, messages).await
    }

    /// Publishes `messages` (key, value with its encoder) in order and waits until all are
    /// durable. An in-process bus keeps each value and makes its bytes only when a consumer
    /// reads them ([`Delivery::payload`]), handing the value in [`Delivery::shared`]; the
    /// default encodes each message now and publishes it with [`Self::publish_batch_shared`].
    ///
    /// # Errors
    /// As [`Self::publish_batch`].
    async fn publish_deferred(
        &self,
        topic: &str,
        messages: &[(String, Deferred)],
    ) -> PortResult<()> {
        let encoded: Vec<(String, Vec<u8>)> = messages
            .iter()
            .map(|(key, message)| (key.clone(), message.bytes().to_vec()))
            .collect();
        let shared: Vec<Option<Shared>> = messages
            .iter()
            .map(|(_, message)| Some(message.shared().clone()))
            .collect();
        self.publish_batch_shared(topic, &encoded, &shared).await
    }

    /// Joins consumer group `group` on `topic`.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the bus is unreachable; [`crate::PortError::Fatal`] for
    /// an invalid topic or group name.
    async fn subscribe(&self, topic: &str, group: &str) -> PortResult<Box<dyn Subscription>>;

    /// Joins consumer group `group` on `topic`; when the group is new, it starts right after
    /// `after[partition]` for the partitions listed and at the earliest retained message of the
    /// others. An existing group keeps its own position (so a restarted reader resumes).
    /// Offsets are those [`Delivery::offset`] reports.
    ///
    /// # Errors
    /// As [`Self::subscribe`].
    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        after: &BTreeMap<i32, i64>,
    ) -> PortResult<Box<dyn Subscription>>;

    /// The offset of the newest message of each partition of `topic` that holds one (empty for
    /// a topic never written). A reader that has been handed (or has skipped) an offset at or
    /// past it in every partition has seen everything published before the call.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the bus is unreachable.
    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>>;

    /// Whether a publish is a call inside this process rather than a round trip to a broker
    /// (`false`, the default). Publishers batch to pay one round trip for many messages; on
    /// an in-process bus a batch saves nothing, so they may publish each message as soon as
    /// it is ready (a gateway publishes each command's fills before executing the next
    /// command). Wrappers of another bus answer as the bus they wrap.
    fn in_process(&self) -> bool {
        false
    }
}

/// One member of a consumer group.
#[async_trait]
pub trait Subscription: Send {
    /// Waits up to `max_wait` for the next delivery; `Ok(None)` when none arrived in time. A
    /// zero wait never blocks. A networked bus counts the wait in its timers' units, rounded
    /// up (a millisecond), and may return an empty poll late (see the adapter); a delivery
    /// that arrives ends the wait at once.
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] on connection trouble (call again).
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>>;

    /// Acknowledges `delivery` (and everything before it in its partition) as processed. Call it
    /// only once the message's effects are durable.
    ///
    /// Reads only the delivery's topic, partition and offset, so a consumer holding many
    /// deliveries until their effects are durable may drop their payloads first
    /// ([`Delivery::acknowledgeable`]).
    ///
    /// # Errors
    /// [`crate::PortError::Transient`] when the commit could not be made (the message will be
    /// delivered again, which idempotent handling absorbs).
    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()>;

    /// Where this member began reading, per partition it was handed on joining: the offset
    /// below which it never delivers anything (its group's committed position, or where a new
    /// group starts). A node uses it to know which older messages a portfolio joining its
    /// routers must read for itself. Empty when the adapter cannot tell (the default): the
    /// node then learns it from the first delivery of each partition.
    fn starts(&self) -> BTreeMap<i32, i64> {
        BTreeMap::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(topic: &str, partition: i32, offset: i64) -> Delivery {
        Delivery {
            topic: Arc::from(topic),
            key: Arc::from("k"),
            payload: Payload::default(),
            partition,
            offset,
            shared: None,
        }
    }

    #[test]
    fn the_newest_delivery_of_each_partition_stands_for_the_others() {
        let kept = newest_per_partition([
            delivery("market", 0, 1),
            delivery("market", 1, 5),
            delivery("market", 0, 3),
            delivery("orders", 0, 2),
            delivery("market", 1, 4),
            delivery("market", 1, 7),
        ]);
        let kept: Vec<(&str, i32, i64)> = kept
            .iter()
            .map(|d| (&*d.topic, d.partition, d.offset))
            .collect();
        assert_eq!(kept, [("market", 0, 3), ("market", 1, 7), ("orders", 0, 2)]);
        assert!(newest_per_partition(Vec::new()).is_empty());
    }
}
