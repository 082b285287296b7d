//! A Kafka consumer-group member ([`KafkaSubscription`]) and partition assignment.

use crate::error::port_error;
use async_trait::async_trait;
use chimera_ports::{Bytes, Delivery, PortError, PortResult, Subscription};
use rdkafka::client::{Client, ClientContext};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
use std::future::Future as _;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// The partitions of `topic` (none for a topic that does not exist).
///
/// # Errors
/// Transient when the metadata cannot be read.
pub(crate) fn partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> PortResult<Vec<i32>> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| port_error("read topic metadata", e))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| {
            t.partitions()
                .iter()
                .map(rdkafka::metadata::MetadataPartition::id)
        })
        .collect();
    Ok(partitions)
}

/// Assigns every partition of `topic` to `consumer`, each from its group's committed offset,
/// else right after `after[partition]`, else the beginning; returns each partition's start
/// (the beginning resolved to the partition's earliest retained offset).
pub(crate) async fn assign(
    consumer: &Arc<StreamConsumer>,
    topic: &str,
    after: BTreeMap<i32, i64>,
) -> PortResult<BTreeMap<i32, i64>> {
    let starts = assign_starts(consumer, topic, after).await?;
    let mut start = TopicPartitionList::new();
    for (&partition, &offset) in &starts {
        start
            .add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| port_error("assign", e))?;
    }
    consumer
        .assign(&start)
        .map_err(|e| port_error("assign", e))?;
    Ok(starts)
}

/// Where each partition of `topic` starts for `consumer`'s group: its committed offset, else
/// right after `after[partition]`, else the partition's earliest retained offset.
///
/// # Errors
/// Transient when the topic has no partitions yet or its metadata or offsets cannot be read.
pub(crate) async fn assign_starts<C: Consumer + Send + Sync + 'static>(
    consumer: &Arc<C>,
    topic: &str,
    after: BTreeMap<i32, i64>,
) -> PortResult<BTreeMap<i32, i64>> {
    let consumer = Arc::clone(consumer);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let timeout = Duration::from_secs(10);
        let partitions = partitions(consumer.client(), &topic, timeout)?;
        if partitions.is_empty() {
            return Err(PortError::transient(
                "subscribe",
                format!("topic {topic} has no partitions yet"),
            ));
        }
        let mut wanted = TopicPartitionList::new();
        for p in &partitions {
            wanted.add_partition(&topic, *p);
        }
        let committed = consumer
            .committed_offsets(wanted, timeout)
            .map_err(|e| port_error("read committed offsets", e))?;
        let mut starts = BTreeMap::new();
        for element in committed.elements() {
            let partition = element.partition();
            let offset = match (element.offset(), after.get(&partition)) {
                (Offset::Offset(n), _) if n >= 0 => n,
                (_, Some(&done)) => done + 1,
                _ => {
                    consumer
                        .fetch_watermarks(&topic, partition, timeout)
                        .map_err(|e| port_error("read watermarks", e))?
                        .0
                }
            };
            starts.insert(partition, offset);
        }
        Ok(starts)
    })
    .await
    .map_err(|e| PortError::transient("subscribe", format!("assign task failed: {e}")))?
}

/// Turns messages into deliveries, naming each topic once.
#[derive(Default)]
pub(crate) struct Deliveries {
    /// The name of the topic last read, handed out with its deliveries without allocating.
    topic: Option<Arc<str>>,
}

impl Deliveries {
    pub(crate) fn delivery(&mut self, message: &BorrowedMessage<'_>) -> Delivery {
        let topic = match &self.topic {
            Some(topic) if **topic == *message.topic() => Arc::clone(topic),
            _ => Arc::clone(self.topic.insert(Arc::from(message.topic()))),
        };
        Delivery {
            topic,
            key: String::from_utf8_lossy(message.key().unwrap_or_default()).into(),
            payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()).into(),
            partition: message.partition(),
            offset: message.offset(),
            shared: None,
        }
    }
}

/// Commits acknowledged offsets under a consumer's group, once per offset.
pub(crate) struct Acknowledger<C> {
    consumer: Arc<C>,
    committed: HashMap<(Arc<str>, i32), i64>,
}

impl<C: Consumer + Send + Sync + 'static> Acknowledger<C> {
    pub(crate) fn new(consumer: Arc<C>) -> Self {
        Self {
            consumer,
            committed: HashMap::new(),
        }
    }

    /// Commits the offset after `delivery` (synchronously: `Ok` means committed), unless as
    /// much is committed already.
    ///
    /// # Errors
    /// What the commit failed with.
    pub(crate) async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        let key = (delivery.topic.clone(), delivery.partition);
        let next = delivery.offset + 1;
        if self.committed.get(&key).is_some_and(|&done| done >= next) {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&delivery.topic, delivery.partition, Offset::Offset(next))
            .map_err(|e| port_error("ack", e))?;
        let consumer = Arc::clone(&self.consumer);
        tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync))
            .await
            .map_err(|e| PortError::transient("ack", format!("commit task failed: {e}")))?
            .map_err(|e| port_error("ack", e))?;
        self.committed.insert(key, next);
        Ok(())
    }
}

/// One consumer-group member (or exclusive reader) with a consumer of its own. Dropping it
/// leaves the group; what it did not acknowledge goes to the next member.
pub(crate) struct KafkaSubscription {
    consumer: Arc<StreamConsumer>,
    deliveries: Deliveries,
    acks: Acknowledger<StreamConsumer>,
    /// Where each partition was assigned from.
    starts: BTreeMap<i32, i64>,
}

impl KafkaSubscription {
    pub(crate) fn new(consumer: Arc<StreamConsumer>, starts: BTreeMap<i32, i64>) -> Self {
        Self {
            acks: Acknowledger::new(Arc::clone(&consumer)),
            consumer,
            deliveries: Deliveries::default(),
            starts,
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        let received = if max_wait.is_zero() {
            // Not through a timer: tokio's count whole milliseconds, rounded up, so a zero
            // timeout waited for the next tick (1–2 ms) whenever nothing was queued. The
            // gateway's loop polls its market data and its next command that way between
            // orders: each of its fills on Kafka waited 1–3 ms for it.
            let mut recv = std::pin::pin!(self.consumer.recv());
            let ready = std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx))).await;
            let Poll::Ready(received) = ready else {
                return Ok(None);
            };
            received
        } else {
            let Ok(received) = tokio::time::timeout(max_wait, self.consumer.recv()).await else {
                return Ok(None);
            };
            received
        };
        let message = received.map_err(|e| port_error("consume", e))?;
        Ok(Some(self.deliveries.delivery(&message)))
    }

    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        self.acks.ack(delivery).await
    }

    fn starts(&self) -> BTreeMap<i32, i64> {
        self.starts.clone()
    }
}
