//! [`MemoryEventBus`]: a single-process bus with one partition per topic, consumer groups and
//! commit-on-ack, so at-least-once behaviour (redelivery after a member drops without
//! acknowledging) is the same as on Kafka.
//!
//! Retention: a message is dropped once it is older than the bus's retention (a minute by
//! default, [`MemoryEventBus::with_retention`]) and every consumer group on its topic has
//! acknowledged it, so a process that runs for days (`chimera up` on a live feed) holds about a
//! minute of traffic plus what some group has yet to acknowledge. A group that stops reading
//! keeps the topic's messages from its position on; one never drops what a group has not
//! acknowledged. A group created later starts at the earliest message still kept, as on Kafka
//! once retention has passed: within the retention, that is the first one published.
//!
//! Wake-ups: each topic has its own notifier, so a publish wakes only the members waiting on
//! that topic (one notifier for the whole bus woke every subscription of the process on every
//! message, which put a dozen task wake-ups and lock acquisitions on each hop).
//!
//! The read path: each topic has its own lock, which a subscription reaches directly (it holds
//! its topic and the index of its group), and a delivery shares the message kept rather than
//! copying it (its key, payload and topic name are reference-counted). A read used to take the
//! whole bus's lock, look the topic and the group up by name, and copy the topic name, the key
//! and the payload: three allocations and two hashes per message and consumer group. A value a
//! publisher shares beside the bytes ([`EventBus::publish_batch_shared`]) is kept with the
//! message and handed out with its deliveries, so a consumer in the process can skip decoding
//! what its publisher had in hand; it is let go once every group present has read the message
//! (it doubled what `chimera up`'s minute of messages held), and a later reader decodes. A
//! message published deferred ([`EventBus::publish_deferred`]) is kept as its value alone: its
//! bytes are made by the first reader that reads them, and by nobody when every consumer takes
//! the value (as in `chimera up`, where encoding messages nobody read was a third of the
//! gateway's work per order).
//!
//! Numbering: a topic's offsets start at 0, or where [`MemoryEventBus::numbered_from`] says. The
//! bus ends with its process, but its readers' checkpoints do not: a process started again on
//! a new bus numbers its messages above anything the last one handed out, so no reader skips a
//! new message as one it applied.
//!
//! A topic's messages are kept in chunks ([`crate::chunked::ChunkedLog`]): a log that doubled its
//! one buffer moved a minute of messages at a time, in a publish, on the thread of `chimera up`.

use crate::chunked::ChunkedLog;
use crate::lock;
use async_trait::async_trait;
use chimera_ports::{Deferred, Delivery, EventBus, Payload, PortResult, Shared, Subscription};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a message is kept at least ([`MemoryEventBus::new`]).
pub const DEFAULT_BUS_RETENTION: Duration = Duration::from_mins(1);

#[derive(Default)]
struct Group {
    /// Next offset to process after a restart (everything before is acknowledged).
    committed: i64,
    /// Next offset to hand to a member.
    cursor: i64,
}

/// A message as kept: what every delivery of it shares, and when it was published.
struct Message {
    key: Arc<str>,
    /// Its bytes, or its value to encode when a consumer first reads them (published deferred).
    payload: Payload,
    /// The value the payload encodes, when its publisher shared it, until every group present
    /// has read the message.
    shared: Option<Shared>,
    at: Instant,
}

#[derive(Default)]
struct TopicLog {
    /// Offset of the topic's first message.
    first: i64,
    /// Offset of the first message kept (those before it every group acknowledged).
    base: i64,
    /// The messages kept, from offset `base` on (in chunks: growing never moves them).
    messages: ChunkedLog<Message>,
    /// The consumer groups, in the order they first joined (a subscription keeps its group's
    /// index: groups are never removed).
    groups: Vec<Group>,
    /// Each group's index in `groups`, by name.
    group_index: HashMap<String, usize>,
}

impl TopicLog {
    /// Offset of the next message published (messages ever published).
    fn end(&self) -> i64 {
        self.base + self.messages.len() as i64
    }

    fn push(&mut self, key: &str, payload: Payload, shared: Option<Shared>, at: Instant) -> i64 {
        self.messages.push_back(Message {
            key: Arc::from(key),
            payload,
            shared,
            at,
        });
        self.end() - 1
    }

    /// Drops what every group acknowledged and was published longer than `retention` ago.
    fn trim(&mut self, retention: Duration) {
        let Some(oldest) = self.groups.iter().map(|g| g.committed).min() else {
            return;
        };
        let acknowledged = usize::try_from(oldest.min(self.end()) - self.base).unwrap_or(0);
        let now = Instant::now();
        let expired = self
            .messages
            .iter()
            .take(acknowledged)
            .take_while(|m| now.duration_since(m.at) >= retention)
            .count();
        if expired > 0 {
            self.messages.drop_front(expired);
            self.base += expired as i64;
        }
    }
}

/// One topic: its log under its own lock, and the notifier of the members waiting on it.
struct Topic {
    name: Arc<str>,
    log: Mutex<TopicLog>,
    published: Notify,
}

struct Inner {
    topics: Mutex<HashMap<String, Arc<Topic>>>,
    /// How long a message is kept at least.
    retention: Duration,
    /// The offset of each topic's first message.
    first_offset: i64,
}

impl Inner {
    /// The topic `name`, created empty if it is new.
    fn topic(&self, name: &str) -> Arc<Topic> {
        let mut topics = lock(&self.topics);
        if let Some(topic) = topics.get(name) {
            return Arc::clone(topic);
        }
        let first = self.first_offset;
        let topic = Arc::new(Topic {
            name: Arc::from(name),
            log: Mutex::new(TopicLog {
                first,
                base: first,
                ..TopicLog::default()
            }),
            published: Notify::new(),
        });
        topics.insert(name.to_owned(), Arc::clone(&topic));
        topic
    }

    /// The topic `name` if anything ever published on or subscribed to it.
    fn existing(&self, name: &str) -> Option<Arc<Topic>> {
        lock(&self.topics).get(name).cloned()
    }
}

/// The in-memory bus. Cloning shares the same bus.
#[derive(Clone)]
pub struct MemoryEventBus {
    inner: Arc<Inner>,
}

impl Default for MemoryEventBus {
    fn default() -> Self {
        Self::with_retention(DEFAULT_BUS_RETENTION)
    }
}

impl std::fmt::Debug for MemoryEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEventBus").finish_non_exhaustive()
    }
}

impl MemoryEventBus {
    /// Appends a batch of messages (key, payload, shared value) under one lock, then wakes the
    /// topic's waiting members once.
    fn push_all<'a>(
        &self,
        topic: &str,
        messages: impl ExactSizeIterator<Item = (&'a str, Payload, Option<Shared>)>,
    ) {
        if messages.len() == 0 {
            return;
        }
        let topic = self.inner.topic(topic);
        {
            let mut log = lock(&topic.log);
            let at = Instant::now();
            for (key, payload, shared) in messages {
                log.push(key, payload, shared, at);
            }
        }
        topic.published.notify_waiters();
    }

    /// An empty bus keeping each message for [`DEFAULT_BUS_RETENTION`] at least.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty bus keeping each message for `retention` at least, and in any case until every
    /// consumer group on its topic has acknowledged it.
    pub fn with_retention(retention: Duration) -> Self {
        Self::numbered_from(retention, 0)
    }

    /// An empty bus keeping each message for `retention` at least, whose topics number their
    /// messages from `first_offset` on (see the module's "Numbering"). A negative
    /// `first_offset` counts as 0.
    pub fn numbered_from(retention: Duration, first_offset: i64) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                retention,
                first_offset: first_offset.max(0),
            }),
        }
    }

    /// Number of messages ever published on `topic`.
    pub fn len(&self, topic: &str) -> usize {
        self.inner.existing(topic).map_or(0, |t| {
            let log = lock(&t.log);
            usize::try_from(log.end() - log.first).unwrap_or(0)
        })
    }

    /// Number of messages of `topic` still kept (not yet acknowledged by every group).
    pub fn retained(&self, topic: &str) -> usize {
        self.inner
            .existing(topic)
            .map_or(0, |t| lock(&t.log).messages.len())
    }

    /// Whether nothing was published on `topic`.
    pub fn is_empty(&self, topic: &str) -> bool {
        self.len(topic) == 0
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        let topic = self.inner.topic(topic);
        let payload = Payload::from(chimera_ports::Bytes::copy_from_slice(payload));
        let offset = lock(&topic.log).push(key, payload, None, Instant::now());
        topic.published.notify_waiters();
        Ok((0, offset))
    }

    /// One lock and one wake-up for the whole batch.
    async fn publish_batch(&self, topic: &str, messages: &[(String, Vec<u8>)]) -> PortResult<()> {
        self.publish_batch_shared(topic, messages, &[]).await
    }

    /// Keeps each value beside its message, for every delivery of it ([`Delivery::shared`]).
    async fn publish_batch_shared(
        &self,
        topic: &str,
        messages: &[(String, Vec<u8>)],
        shared: &[Option<Shared>],
    ) -> PortResult<()> {
        self.push_all(
            topic,
            messages.iter().enumerate().map(|(n, (key, payload))| {
                let payload = Payload::from(chimera_ports::Bytes::copy_from_slice(payload));
                (key.as_str(), payload, shared.get(n).cloned().flatten())
            }),
        );
        Ok(())
    }

    /// Keeps each value, its bytes made only if a consumer reads them.
    async fn publish_deferred(
        &self,
        topic: &str,
        messages: &[(String, Deferred)],
    ) -> PortResult<()> {
        self.push_all(
            topic,
            messages.iter().map(|(key, message)| {
                let shared = Some(message.shared().clone());
                (key.as_str(), Payload::deferred(message.clone()), shared)
            }),
        );
        Ok(())
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
        let topic = self.inner.topic(topic);
        let (index, start) = {
            let mut log = lock(&topic.log);
            let index = if let Some(&index) = log.group_index.get(group) {
                index
            } else {
                // What was dropped is gone: no earlier than the first message kept.
                let start = after.get(&0).map_or(0, |&offset| offset + 1).max(log.base);
                log.groups.push(Group {
                    committed: start,
                    cursor: start,
                });
                let index = log.groups.len() - 1;
                log.group_index.insert(group.to_owned(), index);
                index
            };
            // A member joining rebalances the group: uncommitted messages are handed out again.
            let g = &mut log.groups[index];
            g.cursor = g.committed;
            (index, g.committed)
        };
        Ok(Box::new(MemorySubscription {
            topic,
            group: index,
            start,
            retention: self.inner.retention,
        }))
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        Ok(self
            .inner
            .existing(topic)
            .map(|t| {
                let log = lock(&t.log);
                (log.first, log.end())
            })
            .filter(|&(first, end)| end > first)
            .map(|(_, end)| BTreeMap::from([(0, end - 1)]))
            .unwrap_or_default())
    }

    fn in_process(&self) -> bool {
        true
    }
}

struct MemorySubscription {
    topic: Arc<Topic>,
    /// The group's index in its topic's log.
    group: usize,
    /// The group's committed position when this member joined (the one partition, 0).
    start: i64,
    retention: Duration,
}

impl MemorySubscription {
    fn try_take(&self) -> Option<Delivery> {
        let mut log = lock(&self.topic.log);
        let base = log.base;
        let group = log.groups.get_mut(self.group)?;
        let offset = group.cursor;
        let kept = usize::try_from(offset.checked_sub(base)?).ok()?;
        let message = log.messages.get(kept)?;
        let delivery = Delivery {
            topic: Arc::clone(&self.topic.name),
            key: Arc::clone(&message.key),
            payload: message.payload.clone(),
            partition: 0,
            offset,
            shared: message.shared.clone(),
        };
        log.groups[self.group].cursor += 1;
        // Once every group has read it, the value goes: the bus keeps a minute of messages,
        // and a redelivery or a later group decodes the bytes instead.
        if delivery.shared.is_some() && log.groups.iter().all(|g| g.cursor > offset) {
            if let Some(message) = log.messages.get_mut(kept) {
                message.shared = None;
            }
        }
        Some(delivery)
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        // A look without waiting (the readers' common case) needs no clock and no notifier.
        if max_wait.is_zero() {
            return Ok(self.try_take());
        }
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let notified = self.topic.published.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(delivery) = self.try_take() {
                return Ok(Some(delivery));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Ok(None);
            }
        }
    }

    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        let mut log = lock(&self.topic.log);
        if let Some(group) = log.groups.get_mut(self.group) {
            group.committed = group.committed.max(delivery.offset + 1);
        }
        log.trim(self.retention);
        Ok(())
    }

    fn starts(&self) -> BTreeMap<i32, i64> {
        BTreeMap::from([(0, self.start)])
    }
}
