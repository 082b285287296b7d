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

use crate::lock;
use async_trait::async_trait;
use chimera_ports::{Delivery, EventBus, PortResult, Subscription};
use std::collections::{BTreeMap, HashMap, VecDeque};
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

#[derive(Default)]
struct TopicLog {
    /// Offset of the first message kept (those before it every group acknowledged).
    base: i64,
    /// The messages kept, from offset `base` on.
    messages: VecDeque<Message>,
    groups: HashMap<String, Group>,
    /// Wakes the members waiting for this topic's next message.
    published: Arc<Notify>,
}

/// A message as kept: key, payload, and when it was published.
type Message = (String, Arc<[u8]>, Instant);

impl TopicLog {
    /// Offset of the next message published (messages ever published).
    fn end(&self) -> i64 {
        self.base + self.messages.len() as i64
    }

    /// Drops what every group acknowledged and was published longer than `retention` ago.
    fn trim(&mut self, retention: Duration) {
        let Some(oldest) = self.groups.values().map(|g| g.committed).min() else {
            return;
        };
        let acknowledged = usize::try_from(oldest.min(self.end()) - self.base).unwrap_or(0);
        let now = Instant::now();
        let expired = self
            .messages
            .iter()
            .take(acknowledged)
            .take_while(|(_, _, at)| now.duration_since(*at) >= retention)
            .count();
        if expired > 0 {
            self.messages.drain(..expired);
            self.base += expired as i64;
        }
    }
}

struct Inner {
    topics: Mutex<HashMap<String, TopicLog>>,
    /// How long a message is kept at least.
    retention: Duration,
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
    /// An empty bus keeping each message for [`DEFAULT_BUS_RETENTION`] at least.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty bus keeping each message for `retention` at least, and in any case until every
    /// consumer group on its topic has acknowledged it.
    pub fn with_retention(retention: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::default(),
                retention,
            }),
        }
    }

    /// Number of messages ever published on `topic`.
    pub fn len(&self, topic: &str) -> usize {
        lock(&self.inner.topics)
            .get(topic)
            .map_or(0, |t| usize::try_from(t.end()).unwrap_or(0))
    }

    /// Number of messages of `topic` still kept (not yet acknowledged by every group).
    pub fn retained(&self, topic: &str) -> usize {
        lock(&self.inner.topics)
            .get(topic)
            .map_or(0, |t| t.messages.len())
    }

    /// Whether nothing was published on `topic`.
    pub fn is_empty(&self, topic: &str) -> bool {
        self.len(topic) == 0
    }
}

#[async_trait]
impl EventBus for MemoryEventBus {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        let (offset, published) = {
            let mut topics = lock(&self.inner.topics);
            let log = match topics.get_mut(topic) {
                Some(log) => log,
                None => topics.entry(topic.to_owned()).or_default(),
            };
            log.messages
                .push_back((key.to_owned(), Arc::from(payload), Instant::now()));
            (log.end() - 1, Arc::clone(&log.published))
        };
        published.notify_waiters();
        Ok((0, offset))
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
        let (start, published) = {
            let mut topics = lock(&self.inner.topics);
            let log = topics.entry(topic.to_owned()).or_default();
            let published = Arc::clone(&log.published);
            let base = log.base;
            let g = log.groups.entry(group.to_owned()).or_insert_with(|| {
                // What was dropped is gone: no earlier than the first message kept.
                let start = after.get(&0).map_or(0, |&offset| offset + 1).max(base);
                Group {
                    committed: start,
                    cursor: start,
                }
            });
            // A member joining rebalances the group: uncommitted messages are handed out again.
            g.cursor = g.committed;
            (g.committed, published)
        };
        Ok(Box::new(MemorySubscription {
            inner: Arc::clone(&self.inner),
            published,
            topic: topic.to_owned(),
            group: group.to_owned(),
            start,
        }))
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        Ok(lock(&self.inner.topics)
            .get(topic)
            .filter(|t| t.end() > 0)
            .map(|t| BTreeMap::from([(0, t.end() - 1)]))
            .unwrap_or_default())
    }

    fn in_process(&self) -> bool {
        true
    }
}

struct MemorySubscription {
    inner: Arc<Inner>,
    /// The topic's notifier.
    published: Arc<Notify>,
    topic: String,
    group: String,
    /// The group's committed position when this member joined (the one partition, 0).
    start: i64,
}

impl MemorySubscription {
    fn try_take(&self) -> Option<Delivery> {
        let mut topics = lock(&self.inner.topics);
        let log = topics.get_mut(&self.topic)?;
        let group = log.groups.get_mut(&self.group)?;
        let offset = group.cursor;
        let kept = usize::try_from(offset.checked_sub(log.base)?).ok()?;
        let (key, payload, _) = log.messages.get(kept)?;
        group.cursor += 1;
        Some(Delivery {
            topic: self.topic.clone(),
            key: key.clone(),
            payload: payload.to_vec(),
            partition: 0,
            offset,
        })
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        let deadline = tokio::time::Instant::now() + max_wait;
        loop {
            let notified = self.published.notified();
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
        let mut topics = lock(&self.inner.topics);
        if let Some(log) = topics.get_mut(&self.topic) {
            if let Some(group) = log.groups.get_mut(&self.group) {
                group.committed = group.committed.max(delivery.offset + 1);
            }
            log.trim(self.inner.retention);
        }
        Ok(())
    }

    fn starts(&self) -> BTreeMap<i32, i64> {
        BTreeMap::from([(0, self.start)])
    }
}
