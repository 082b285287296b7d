//! In process, "intent published" can be read off the bus itself: [`StampedBus`] wraps the
//! in-memory bus the runtimes share and notes when each message of the watched topics was
//! published, so tick-to-order ends when the node published its intent, not when the
//! benchmark's own reader got a core to run on (on two cores, often after the gateway has
//! executed the order). Both are reported.

use async_trait::async_trait;
use chimera_ports::{EventBus, PortResult, Subscription};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// When each message of the watched topics was published, by `(topic, offset)`; taken out
/// when read.
#[derive(Default)]
pub(crate) struct Stamps {
    watched: Vec<String>,
    at: Mutex<HashMap<(String, i64), Instant>>,
}

impl Stamps {
    /// When the message at `offset` of `topic` was published (once).
    pub(crate) fn take(&self, topic: &str, offset: i64) -> Option<Instant> {
        self.at.lock().unwrap().remove(&(topic.to_owned(), offset))
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
        if self.stamps.watched.iter().any(|w| w == topic) {
            self.stamps
                .at
                .lock()
                .unwrap()
                .insert((topic.to_owned(), offset), now);
        }
        Ok((partition, offset))
    }

    async fn subscribe(&self, topic: &str, group: &str) -> PortResult<Box<dyn Subscription>> {
        self.inner.subscribe(topic, group).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        after: &BTreeMap<i32, i64>,
    ) -> PortResult<Box<dyn Subscription>> {
        self.inner.subscribe_from(topic, group, after).await
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        self.inner.last_offsets(topic).await
    }
}
