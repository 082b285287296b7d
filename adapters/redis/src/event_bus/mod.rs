//! [`RedisStreamsEventBus`]: the [`EventBus`] port on Redis Streams, for small deployments.
//!
//! A message is a stream entry with fields `k` (key) and `p` (payload). Which stream is set by
//! the [`StreamRoute`]s of the config: a topic may be one stream (`ord:{results}`) or one stream
//! per key (`mkt:events:{perp}:<key>`, a stream per symbol); a topic without a route is the
//! single stream `stream:<topic>`. A key always maps to the same stream, so per-key order is
//! publish order.
//!
//! Every stream of a topic is listed in the topic's registry, a hash
//! `bus:{registry}:<topic>` from stream name to partition number, assigned once (atomically,
//! in Lua) by the first publisher of the stream and never changed: a stream is a partition, and
//! its entry ids give the offsets. Subscribers read the registry, so they follow streams that
//! appear after they joined without knowing the routes.
//!
//! A subscriber to a topic that has a single stream registers it itself, so it reads from its
//! first message on without waiting for the registry check. Consumer groups start at the
//! beginning of each stream. See [`subscription`] for delivery and
//! acknowledgement.

mod reply;
mod subscription;

use crate::config::RedisConfig;
use crate::error::{port_error, RedisAdapterError};
use async_trait::async_trait;
use chimera_ports::{EventBus, PortResult, Subscription};
use redis::aio::ConnectionManager;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

static CONSUMERS: AtomicU64 = AtomicU64::new(0);

/// Registers a stream in its topic's registry and returns its partition: the existing number,
/// or the next free one.
const REGISTER: &str = r"
local p = redis.call('HGET', KEYS[1], ARGV[1])
if p then return tonumber(p) end
p = redis.call('HLEN', KEYS[1])
redis.call('HSET', KEYS[1], ARGV[1], p)
return p
";

/// The event bus on Redis Streams.
#[derive(Clone)]
pub struct RedisStreamsEventBus {
    client: redis::Client,
    connection: ConnectionManager,
    config: Arc<RedisConfig>,
    /// Streams this process has registered, with their partition.
    registered: Arc<Mutex<HashMap<String, i32>>>,
    register: Arc<redis::Script>,
    consumer_base: String,
}

impl std::fmt::Debug for RedisStreamsEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsEventBus")
            .field("prefix", &self.config.key_prefix)
            .field("routes", &self.config.streams)
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
        let (client, connection) =
            crate::config::connect(config, std::time::Duration::from_secs(5)).await?;
        Ok(Self {
            client,
            connection,
            config: Arc::new(config.clone()),
            registered: Arc::default(),
            register: Arc::new(redis::Script::new(REGISTER)),
            consumer_base: format!("c{}", std::process::id()),
        })
    }

    /// `PING`: proves the server answers (start-up and health checks).
    ///
    /// # Errors
    /// [`RedisAdapterError::Client`] when it does not.
    pub async fn ping(&self) -> Result<(), RedisAdapterError> {
        crate::ping(&mut self.connection.clone()).await
    }

    /// The full name of the stream a message with `key` on `topic` goes to.
    pub fn stream_name(&self, topic: &str, key: &str) -> String {
        self.config.stream_name(topic, key)
    }

    /// The registry of `topic`'s streams.
    fn registry(&self, topic: &str) -> String {
        format!("{}bus:{{registry}}:{topic}", self.config.key_prefix)
    }

    /// The `XADD` of one message to `stream` (trimmed as configured).
    fn xadd(&self, stream: &str, key: &str, payload: &[u8]) -> redis::Cmd {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(stream);
        if let Some(max_len) = self.config.stream_max_len {
            cmd.arg("MAXLEN").arg("~").arg(max_len);
        }
        cmd.arg("*").arg("k").arg(key).arg("p").arg(payload);
        cmd
    }

    /// The partition of `stream`, registering it on first use.
    async fn partition(&self, topic: &str, stream: &str) -> PortResult<i32> {
        let known = self
            .registered
            .lock()
            .ok()
            .and_then(|map| map.get(stream).copied());
        if let Some(partition) = known {
            return Ok(partition);
        }
        let partition: i32 = self
            .register
            .key(self.registry(topic))
            .arg(stream)
            .invoke_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("register stream", e))?;
        if let Ok(mut map) = self.registered.lock() {
            map.insert(stream.to_owned(), partition);
        }
        Ok(partition)
    }
}

#[async_trait]
impl EventBus for RedisStreamsEventBus {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        let stream = self.stream_name(topic, key);
        // Registered before the first entry, so a subscriber never misses a stream's start.
        let partition = self.partition(topic, &stream).await?;
        let id: String = self
            .xadd(&stream, key, payload)
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("XADD", e))?;
        Ok((partition, reply::offset_of(&id)))
    }

    /// One round trip for the whole batch: every stream registered first, then the `XADD`s
    /// pipelined in order (so per-key order is the batch's). Not atomic: after an error a
    /// prefix may be on the bus, as after an interrupted series of single publishes.
    async fn publish_batch(&self, topic: &str, messages: &[(String, Vec<u8>)]) -> PortResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (key, payload) in messages {
            let stream = self.stream_name(topic, key);
            self.partition(topic, &stream).await?;
            pipe.add_command(self.xadd(&stream, key, payload));
        }
        let _: Vec<String> = pipe
            .query_async(&mut self.connection.clone())
            .await
            .map_err(|e| port_error("XADD", e))?;
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
        // A topic written to one stream whatever the key (`ord:{results}`) has it registered
        // now, so the member joins it at once. Otherwise a member that came before the first
        // message found the stream at its next registry check, up to 200 ms after it
        // appeared (the first fills a node or a reader of reports received).
        if let Some(stream) = self.config.single_stream(topic) {
            self.partition(topic, &stream).await?;
        }
        // A dedicated connection: blocking reads must not stall other users of the shared one.
        let connection = crate::config::managed(&self.client, None)
            .await
            .map_err(|e| port_error("connect", e))?;
        let consumer = format!(
            "{}-{}",
            self.consumer_base,
            CONSUMERS.fetch_add(1, Ordering::Relaxed)
        );
        let subscription = subscription::RedisStreamsSubscription::join(
            connection,
            topic,
            self.registry(topic),
            group,
            consumer,
            after.clone(),
        )
        .await?;
        Ok(Box::new(subscription))
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        let mut connection = self.connection.clone();
        let streams: HashMap<String, i32> = redis::cmd("HGETALL")
            .arg(self.registry(topic))
            .query_async(&mut connection)
            .await
            .map_err(|e| port_error("HGETALL", e))?;
        let mut last = BTreeMap::new();
        for (stream, partition) in streams {
            let newest: redis::Value = redis::cmd("XREVRANGE")
                .arg(&stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut connection)
                .await
                .map_err(|e| port_error("XREVRANGE", e))?;
            if let Some(entry) = reply::entries(newest)?.first() {
                last.insert(partition, reply::offset_of(&entry.id));
            }
        }
        Ok(last)
    }
}
