//! [`DeadLetters`]: where undecodable messages go, with their reason and bytes.

use crate::envelope::{encode, DecodeError, Envelope, MessageType};
use crate::topics::{Topic, Topics};
use chimera_kernel::time::Timestamp;
use chimera_ports::{Delivery, EventBus, PortResult};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

/// A message that could not be decoded, as published on the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Topic it arrived on.
    pub topic: String,
    /// Its key.
    pub key: String,
    /// Partition and offset it arrived at.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
    /// Why it was rejected.
    pub reason: String,
    /// The raw bytes as text, when they are UTF-8.
    pub raw_utf8: Option<String>,
    /// The raw bytes in hex, when they are not UTF-8.
    pub raw_hex: Option<String>,
}

impl DeadLetter {
    /// The dead letter for a delivery that failed to decode.
    pub fn new(delivery: &Delivery, error: &DecodeError) -> Self {
        let (raw_utf8, raw_hex) = match std::str::from_utf8(&error.bytes) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (None, Some(hex(&error.bytes))),
        };
        Self {
            topic: delivery.topic.to_string(),
            key: delivery.key.to_string(),
            partition: delivery.partition,
            offset: delivery.offset,
            reason: error.reason.clone(),
            raw_utf8,
            raw_hex,
        }
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// Publishes dead letters and counts them.
#[derive(Debug)]
pub struct DeadLetters {
    topic: String,
    source: String,
    count: AtomicU64,
}

impl DeadLetters {
    /// Dead letters go to `topics`' dead-letter topic, stamped with `source`.
    pub fn new(topics: &Topics, source: impl Into<String>) -> Self {
        Self {
            topic: topics.name(Topic::DeadLetters),
            source: source.into(),
            count: AtomicU64::new(0),
        }
    }

    /// Publishes the dead letter for `delivery` and counts it. Call before acknowledging the
    /// delivery, so a crash in between redelivers rather than loses it.
    ///
    /// # Errors
    /// The bus's error when the dead letter could not be published (do not acknowledge then).
    pub async fn publish(
        &self,
        bus: &dyn EventBus,
        delivery: &Delivery,
        error: &DecodeError,
        now: Timestamp,
    ) -> PortResult<()> {
        let letter = DeadLetter::new(delivery, error);
        let id = format!(
            "dl:{}:{}:{}",
            delivery.topic, delivery.partition, delivery.offset
        );
        let envelope = Envelope::new(
            MessageType::DeadLetter,
            id,
            now,
            self.source.clone(),
            delivery.key.to_string(),
            letter,
        );
        bus.publish(&self.topic, &delivery.key, &encode(&envelope))
            .await?;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Dead letters published so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}
