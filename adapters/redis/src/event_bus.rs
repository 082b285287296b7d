//! [`RedisStreamsEventBus`]: the [`EventBus`] port on Redis Streams, for small deployments.
//!
//! A topic is a stream (`<prefix>stream:<topic>`); a message is an entry with fields `k` (key)
//! and `p` (payload). Consumer groups start at the beginning of the stream. A subscription first
//! claims the group's pending (delivered, never acknowledged) entries, oldest first, so a member
//! that died without acknowledging has its messages redelivered; then it reads new entries.
//! `ack` acknowledges (XACK) the delivery and every earlier one this subscription received.
//! A stream is one partition, so per-key order is publish order.

use crate::config::RedisConfig;
use crate::error::{port_error, RedisAdapterError};
use async_trait::async_trait;
use chimera_ports::{Delivery, EventBus, PortError, PortResult, Subscription};
use redis::aio::MultiplexedConnection;
use redis::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static CONSUMERS: AtomicU64 = AtomicU64::new(0);

/// The event bus on Redis Streams.
#[derive(Clone)]
pub struct RedisStreamsEventBus {
    client: redis::Client,
    connection: MultiplexedConnection,
    prefix: String,
    max_len: Option<u64>,
    consumer_base: String,
}

impl std::fmt::Debug for RedisStreamsEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsEventBus")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStreamsEventBus {
    /// Validates the config and connects.
    ///
    /// # Errors
    /// [`RedisAdapterError::Config`] for a bad config; [`RedisAdapterError::Client`] when the
    /// server cannot be reached.
    pub async fn connect(config: &RedisConfig) -> Result<Self, RedisAdapterError> {
        let (client, connection) = crate::config::connect(config).await?;
        Ok(Self {
            client,
            connection,
            prefix: config.key_prefix.clone(),
            max_len: config.stream_max_len,
            consumer_base: format!("c{}", std::process::id()),
        })
    }

    fn stream(&self, topic: &str) -> String {
        format!("{}stream:{topic}", self.prefix)
    }
}

/// `ms-seq` → one ordered integer (the sequence stays below a million per millisecond).
fn offset_of(id: &str) -> i64 {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    ms.parse::<i64>()
        .unwrap_or(0)
        .saturating_mul(1_000_000)
        .saturating_add(seq.parse::<i64>().unwrap_or(0))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Parses `[[id, [field, value, ...]], ...]` into `(id, key, payload)`.
fn entries(value: &Value) -> PortResult<Vec<(String, String, Vec<u8>)>> {
    let malformed = || PortError::Codec {
        message: format!("unexpected stream reply: {value:?}"),
        bytes: Vec::new(),
    };
    let Value::Array(items) = value else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Array(pair) = item else {
            return Err(malformed());
        };
        let (Some(id), Some(Value::Array(fields))) = (pair.first().and_then(text), pair.get(1))
        else {
            continue;
        };
        let (mut key, mut payload) = (String::new(), Vec::new());
        for chunk in fields.chunks(2) {
            match (chunk.first().and_then(text).as_deref(), chunk.get(1)) {
                (Some("k"), Some(v)) => key = text(v).unwrap_or_default(),
                (Some("p"), Some(Value::BulkString(bytes))) => payload.clone_from(bytes),
                _ => {}
            }
        }
        out.push((id, key, payload));
    }
    Ok(out)
}

#[async_trait]
impl EventBus for RedisStreamsEventBus {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.stream(topic));
        if let Some(max_len) = self.max_len {
            cmd.arg("MAXLEN").arg("~").arg(max_len);
        }
        cmd.arg("*").arg("k").arg(key).arg("p").arg(payload);
        let id: String = cmd
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("XADD", e))?;
        Ok((0, offset_of(&id)))
    }

    async fn subscribe(&self, topic: &str, group: &str) -> PortResult<Box<dyn Subscription>> {
        let stream = self.stream(topic);
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.connection.clone())
            .await;
        if let Err(e) = created {
            if e.code() != Some("BUSYGROUP") {
                return Err(port_error("XGROUP CREATE", e));
            }
        }
        // A dedicated connection: blocking reads must not stall other users of the shared one.
        let connection = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| port_error("connect", e))?;
        let consumer = format!(
            "{}-{}",
            self.consumer_base,
            CONSUMERS.fetch_add(1, Ordering::Relaxed)
        );
        let mut subscription = RedisStreamsSubscription {
            connection,
            topic: topic.to_owned(),
            stream,
            group: group.to_owned(),
            consumer,
            ready: VecDeque::new(),
            unacked: VecDeque::new(),
        };
        subscription.claim_pending().await?;
        Ok(Box::new(subscription))
    }
}

struct RedisStreamsSubscription {
    connection: MultiplexedConnection,
    topic: String,
    stream: String,
    group: String,
    consumer: String,
    /// Claimed pending entries not yet handed out.
    ready: VecDeque<(String, String, Vec<u8>)>,
    /// Handed out, not yet acknowledged: (offset, id).
    unacked: VecDeque<(i64, String)>,
}

impl RedisStreamsSubscription {
    /// Takes over every pending entry of the group (members that died without acknowledging).
    async fn claim_pending(&mut self) -> PortResult<()> {
        let mut cursor = "0-0".to_owned();
        loop {
            let reply: Value = redis::cmd("XAUTOCLAIM")
                .arg(&self.stream)
                .arg(&self.group)
                .arg(&self.consumer)
                .arg(0)
                .arg(&cursor)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut self.connection)
                .await
                .map_err(|e| port_error("XAUTOCLAIM", e))?;
            let Value::Array(parts) = &reply else { break };
            let next = parts.first().and_then(text).unwrap_or_else(|| "0-0".into());
            if let Some(claimed) = parts.get(1) {
                self.ready.extend(entries(claimed)?);
            }
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        Ok(())
    }

    fn deliver(&mut self, (id, key, payload): (String, String, Vec<u8>)) -> Delivery {
        let offset = offset_of(&id);
        self.unacked.push_back((offset, id));
        Delivery {
            topic: self.topic.clone(),
            key,
            payload,
            partition: 0,
            offset,
        }
    }
}

#[async_trait]
impl Subscription for RedisStreamsSubscription {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        if let Some(entry) = self.ready.pop_front() {
            return Ok(Some(self.deliver(entry)));
        }
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(1);
        let block_ms = u64::try_from(max_wait.as_millis()).unwrap_or(u64::MAX);
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms);
            self.connection
                .set_response_timeout(max_wait + Duration::from_secs(5));
        }
        cmd.arg("STREAMS").arg(&self.stream).arg(">");
        let reply: Value = cmd
            .query_async(&mut self.connection)
            .await
            .map_err(|e| port_error("XREADGROUP", e))?;
        let Value::Array(streams) = &reply else {
            return Ok(None);
        };
        let Some(Value::Array(stream)) = streams.first() else {
            return Ok(None);
        };
        let Some(found) = stream.get(1) else {
            return Ok(None);
        };
        Ok(entries(found)?
            .into_iter()
            .next()
            .map(|entry| self.deliver(entry)))
    }

    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        let mut ids = Vec::new();
        while self
            .unacked
            .front()
            .is_some_and(|(offset, _)| *offset <= delivery.offset)
        {
            if let Some((_, id)) = self.unacked.pop_front() {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&ids)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| port_error("XACK", e))?;
        Ok(())
    }
}
