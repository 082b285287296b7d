//! One fetching consumer for a process's exclusive subscriptions ([`SharedReader`]).
//!
//! With exclusive reading (`KafkaConfig::exclusive`) a subscription is assigned every partition
//! of its topic and commits under its group name without joining the group, so nothing ties it
//! to a consumer of its own. A runtime reads four or more topics, most of them quiet: each
//! librdkafka consumer keeps a fetch loop of its own, one fetch request after another for each
//! (a broker that answers fetches at once, without waiting for data, then serves thousands of
//! empty fetches a second per quiet topic: measured, the node's three quiet consumers took a
//! sixth of a 2-core machine while it routed a backlog). Here the process's exclusive
//! subscriptions share one consumer, which fetches every partition they read in one request,
//! and each subscription takes its partitions' messages from queues of their own
//! (`split_partition_queue`), so a slow reader holds back only its own partitions. Offsets are
//! read and committed per subscription through a consumer of its group that never fetches.
//!
//! A topic partition is read by one subscription of the shared consumer at a time; a second
//! exclusive subscription of the same topic in the process (another group) gets a consumer of
//! its own, as before.

use crate::error::port_error;
use crate::subscription::{assign_starts, Acknowledger, Deliveries};
use async_trait::async_trait;
use chimera_ports::{Delivery, PortError, PortResult, Subscription};
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashSet};
use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

type PartitionQueue = StreamPartitionQueue<DefaultConsumerContext>;

/// The process's fetching consumer and which partitions it reads for whom.
pub(crate) struct SharedReader {
    consumer: Arc<StreamConsumer>,
    /// Topic partitions assigned to a subscription now.
    assigned: Mutex<HashSet<(String, i32)>>,
    /// Messages that reached the consumer's own queue rather than a subscription's (none
    /// should: queues are split before their partitions are assigned). Counted so the
    /// subscriptions fail loudly rather than skip a message.
    strays: Arc<AtomicU64>,
    serving: tokio::task::JoinHandle<()>,
}

impl SharedReader {
    /// Wraps `consumer` (configured for reading, never committing) and starts the task that
    /// serves its own queue: librdkafka reports client-wide events there.
    pub(crate) fn start(consumer: StreamConsumer) -> Self {
        let consumer = Arc::new(consumer);
        let strays = Arc::new(AtomicU64::new(0));
        let serving = {
            let (consumer, strays) = (Arc::clone(&consumer), Arc::clone(&strays));
            tokio::spawn(async move {
                loop {
                    // Errors here are client-wide (brokers down, say): librdkafka logs them
                    // and keeps retrying; each subscription sees its own partitions' errors.
                    if consumer.recv().await.is_ok() {
                        strays.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        Self {
            consumer,
            assigned: Mutex::default(),
            strays,
            serving,
        }
    }

    /// Topic partitions assigned to a subscription now.
    pub(crate) fn assigned(&self) -> std::sync::MutexGuard<'_, HashSet<(String, i32)>> {
        self.assigned.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reserves every partition of `topic` for one subscription; false when another
    /// subscription of this reader holds one of them.
    fn reserve(&self, topic: &str, partitions: &[i32]) -> bool {
        let mut assigned = self.assigned();
        if partitions
            .iter()
            .any(|p| assigned.contains(&(topic.to_owned(), *p)))
        {
            return false;
        }
        assigned.extend(partitions.iter().map(|p| (topic.to_owned(), *p)));
        true
    }

    fn release(&self, topic: &str, partitions: &[i32]) {
        let mut assigned = self.assigned();
        for p in partitions {
            assigned.remove(&(topic.to_owned(), *p));
        }
    }
}

impl Drop for SharedReader {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// Subscribes `topic` on `reader` for the group of `committer`: every partition, each from
/// the group's committed offset, else the beginning. `Ok(None)` when the reader already reads
/// one of its partitions for another subscription (the caller then uses a consumer of its own).
///
/// # Errors
/// Transient when the topic's partitions or offsets cannot be read; fatal when librdkafka
/// refuses the assignment (nothing stays reserved then).
pub(crate) async fn subscribe(
    reader: &Arc<SharedReader>,
    committer: BaseConsumer,
    topic: &str,
) -> PortResult<Option<Box<dyn Subscription>>> {
    let committer = Arc::new(committer);
    let starts = assign_starts(&committer, topic, BTreeMap::new()).await?;
    let partitions: Vec<i32> = starts.keys().copied().collect();
    // Reserved before any queue is split: splitting a partition another subscription reads
    // would take its messages.
    if !reader.reserve(topic, &partitions) {
        return Ok(None);
    }
    let queues = match split_and_assign(reader, topic, &starts) {
        Ok(queues) => queues,
        Err(e) => {
            reader.release(topic, &partitions);
            return Err(e);
        }
    };
    let strays = reader.strays.load(Ordering::Relaxed);
    Ok(Some(Box::new(SharedSubscription {
        reader: Arc::clone(reader),
        topic_name: topic.to_owned(),
        partitions,
        queues,
        next: 0,
        strays,
        deliveries: Deliveries::default(),
        acks: Acknowledger::new(committer),
        starts,
    })))
}

/// Gives each partition of `topic` a queue of its own, then assigns them to the reader from
/// `starts` (split first: nothing of a partition reaches the reader's own queue).
fn split_and_assign(
    reader: &SharedReader,
    topic: &str,
    starts: &BTreeMap<i32, i64>,
) -> PortResult<Vec<PartitionQueue>> {
    let mut queues = Vec::with_capacity(starts.len());
    let mut list = TopicPartitionList::new();
    for (&partition, &offset) in starts {
        let queue = reader
            .consumer
            .split_partition_queue(topic, partition)
            .ok_or_else(|| {
                PortError::fatal("subscribe", format!("no queue for {topic}/{partition}"))
            })?;
        queues.push(queue);
        list.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| port_error("assign", e))?;
    }
    reader
        .consumer
        .incremental_assign(&list)
        .map_err(|e| port_error("assign", e))?;
    Ok(queues)
}

/// One exclusive subscription on the shared reader.
struct SharedSubscription {
    reader: Arc<SharedReader>,
    topic_name: String,
    partitions: Vec<i32>,
    /// One per partition, in `partitions` order.
    queues: Vec<PartitionQueue>,
    /// The queue polled first next time, so a busy partition does not starve the others.
    next: usize,
    /// The reader's stray count when this subscription began.
    strays: u64,
    deliveries: Deliveries,
    acks: Acknowledger<BaseConsumer>,
    starts: BTreeMap<i32, i64>,
}

impl SharedSubscription {
    /// The first message any queue has, polling them from `next` on; `Pending` registers the
    /// waker with every queue, each for as long as `receiving` lives.
    fn poll_queues<'q>(
        receiving: &mut [Receiving<'q>],
        cx: &mut std::task::Context<'_>,
    ) -> Poll<(usize, Received<'q>)> {
        for (k, recv) in receiving.iter_mut().enumerate() {
            if let Poll::Ready(received) = recv.as_mut().poll(cx) {
                return Poll::Ready((k, received));
            }
        }
        Poll::Pending
    }
}

type Received<'a> = Result<rdkafka::message::BorrowedMessage<'a>, rdkafka::error::KafkaError>;
/// One queue's receive in progress.
type Receiving<'a> = Pin<Box<dyn std::future::Future<Output = Received<'a>> + Send + 'a>>;

impl Drop for SharedSubscription {
    fn drop(&mut self) {
        let mut list = TopicPartitionList::new();
        for p in &self.partitions {
            list.add_partition(&self.topic_name, *p);
        }
        // Unassigned first, so no more is fetched for queues about to go. A failure leaves
        // the partitions assigned and reserved: a later subscription of the topic in this
        // process then reads with a consumer of its own.
        if self.reader.consumer.incremental_unassign(&list).is_ok() {
            self.reader.release(&self.topic_name, &self.partitions);
        }
    }
}

#[async_trait]
impl Subscription for SharedSubscription {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        if self.reader.strays.load(Ordering::Relaxed) != self.strays {
            return Err(PortError::fatal(
                "consume",
                "a message reached the shared Kafka consumer outside its subscription's queue",
            ));
        }
        let n = self.queues.len();
        let first = self.next;
        // What a queue holds already, without allocating: each receive polled once, its waker
        // let go with it.
        let queues = &self.queues;
        let ready = std::future::poll_fn(|cx| {
            for k in 0..n {
                let mut recv = std::pin::pin!(queues[(first + k) % n].recv());
                if let Poll::Ready(received) = recv.as_mut().poll(cx) {
                    return Poll::Ready(Some((k, received)));
                }
            }
            Poll::Ready(None)
        })
        .await;
        let ready = match ready {
            Some(ready) => ready,
            None if max_wait.is_zero() => return Ok(None),
            None => {
                // Nothing yet: wait on every queue at once, each receive kept (with its waker)
                // until one delivers or the wait ends.
                let mut receiving: Vec<Receiving<'_>> = (0..n)
                    .map(|k| Box::pin(queues[(first + k) % n].recv()) as Receiving<'_>)
                    .collect();
                let waiting = std::future::poll_fn(|cx| Self::poll_queues(&mut receiving, cx));
                match tokio::time::timeout(max_wait, waiting).await {
                    Ok(ready) => ready,
                    Err(_) => return Ok(None),
                }
            }
        };
        let (k, received) = ready;
        let message = received.map_err(|e| port_error("consume", e))?;
        let delivery = self.deliveries.delivery(&message);
        self.next = (first + k + 1) % n;
        Ok(Some(delivery))
    }

    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        self.acks.ack(delivery).await
    }

    fn starts(&self) -> BTreeMap<i32, i64> {
        self.starts.clone()
    }
}
