//! One member of a consumer group over every stream of a topic.
//!
//! On joining, and whenever it finds a new stream in the topic's registry (checked at least
//! every [`REFRESH`]), the member creates the group on that stream (from its first entry) and
//! claims the group's pending entries there (delivered to a member that never acknowledged
//! them, e.g. one that crashed), oldest first. Then it reads new entries from all the streams
//! at once with one blocking `XREADGROUP`, up to [`READ_AHEAD`] per stream, and in the same
//! round trip one that does not block, for what came with the entry that ended the wait
//! ([`RedisStreamsSubscription::read`]).
//!
//! A poll's wait becomes `XREADGROUP`'s `BLOCK`, rounded up to whole milliseconds (its unit;
//! a zero wait reads without blocking). A message that arrives ends it at once. One that does
//! not ends it when Redis next turns its event loop: at once on a server with traffic, but on
//! an idle one at its next cron tick (every 100 ms at the default `hz 10`), so there an empty
//! poll may return later than its wait.
//!
//! `ack` acknowledges (XACK) the delivery and every earlier one this member handed out from the
//! same stream, which is the port's "same partition".
//!
//! All of a topic's streams are read by one command, which a single Redis server serves; on a
//! Redis Cluster that is only possible for streams sharing a hash tag (e.g. all of
//! `mkt:events:{perp}:*`).

use super::reply::{self, Entry};
use crate::error::port_error;
use chimera_ports::{Delivery, PortResult};
use redis::aio::ConnectionManager;
use redis::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How often the registry is checked for new streams while reading.
const REFRESH: Duration = Duration::from_millis(200);
/// How long to wait between registry checks while the topic has no stream at all.
const IDLE_STEP: Duration = Duration::from_millis(50);
/// Entries fetched per stream and read.
const READ_AHEAD: usize = 32;

pub(super) struct RedisStreamsSubscription {
    connection: ConnectionManager,
    topic: std::sync::Arc<str>,
    registry: String,
    group: String,
    consumer: String,
    /// Streams joined, in partition order.
    streams: Vec<String>,
    partition_of: HashMap<String, i32>,
    stream_of: HashMap<i32, String>,
    last_refresh: Option<Instant>,
    /// Fetched entries not yet handed out.
    ready: VecDeque<(i32, Entry)>,
    /// Handed out, not yet acknowledged, per partition: (offset, id).
    unacked: HashMap<i32, VecDeque<(i64, String)>>,
    /// Where a group created now starts, per partition (after this offset); the beginning
    /// elsewhere.
    after: BTreeMap<i32, i64>,
    /// Where this member began reading each stream it joined ([`chimera_ports::Subscription::starts`]).
    starts: BTreeMap<i32, i64>,
}

impl RedisStreamsSubscription {
    /// Joins `group` on every stream `registry` lists for `topic`; where the group does not
    /// exist yet it is created after `after[partition]` (at the beginning when not listed).
    ///
    /// # Errors
    /// A [`chimera_ports::PortError`] when Redis refuses or cannot be reached.
    pub(super) async fn join(
        connection: ConnectionManager,
        topic: &str,
        registry: String,
        group: &str,
        consumer: String,
        after: BTreeMap<i32, i64>,
    ) -> PortResult<Self> {
        let mut subscription = Self {
            connection,
            topic: topic.into(),
            registry,
            group: group.to_owned(),
            consumer,
            streams: Vec::new(),
            partition_of: HashMap::new(),
            stream_of: HashMap::new(),
            last_refresh: None,
            ready: VecDeque::new(),
            unacked: HashMap::new(),
            after,
            starts: BTreeMap::new(),
        };
        subscription.refresh().await?;
        Ok(subscription)
    }

    /// Joins the streams registered since the last look.
    async fn refresh(&mut self) -> PortResult<()> {
        self.last_refresh = Some(Instant::now());
        let count: usize = redis::cmd("HLEN")
            .arg(&self.registry)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| port_error("HLEN", e))?;
        if count == self.streams.len() {
            return Ok(());
        }
        let registered: HashMap<String, i32> = redis::cmd("HGETALL")
            .arg(&self.registry)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| port_error("HGETALL", e))?;
        let fresh: BTreeMap<i32, String> = registered
            .into_iter()
            .filter(|(stream, _)| !self.partition_of.contains_key(stream))
            .map(|(stream, partition)| (partition, stream))
            .collect();
        for (partition, stream) in fresh {
            self.join_stream(&stream, partition).await?;
            self.partition_of.insert(stream.clone(), partition);
            self.stream_of.insert(partition, stream.clone());
            self.streams.push(stream);
        }
        Ok(())
    }

    async fn join_stream(&mut self, stream: &str, partition: i32) -> PortResult<()> {
        let start = self
            .after
            .get(&partition)
            .map_or_else(|| "0".to_owned(), |&offset| reply::id_of(offset));
        let created: Result<(), redis::RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream)
            .arg(&self.group)
            .arg(start)
            .arg("MKSTREAM")
            .query_async(&mut self.connection)
            .await;
        if let Err(e) = created {
            if e.code() != Some("BUSYGROUP") {
                return Err(port_error("XGROUP CREATE", e));
            }
        }
        self.claim_pending(stream, partition).await?;
        // The oldest entry it hands out first: the group's oldest pending one, else the first
        // after the group's last delivered entry (ids only grow, so nothing lies between).
        let start = match self.ready.iter().find(|(p, _)| *p == partition) {
            Some((_, entry)) => reply::offset_of(&entry.id),
            None => reply::offset_of(&self.last_delivered(stream).await?).saturating_add(1),
        };
        self.starts.insert(partition, start);
        Ok(())
    }

    /// The id of the last entry the group was handed on `stream` (`XINFO GROUPS`).
    async fn last_delivered(&mut self, stream: &str) -> PortResult<String> {
        let reply: Value = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(stream)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| port_error("XINFO GROUPS", e))?;
        reply::group_field(&reply, &self.group, "last-delivered-id").ok_or_else(|| {
            chimera_ports::PortError::Codec {
                message: format!(
                    "XINFO GROUPS {stream}: no last-delivered-id for {}",
                    self.group
                ),
                bytes: Vec::new(),
            }
        })
    }

    /// Takes over every pending entry of the group on `stream`.
    async fn claim_pending(&mut self, stream: &str, partition: i32) -> PortResult<()> {
        let mut cursor = "0-0".to_owned();
        loop {
            let reply: Value = redis::cmd("XAUTOCLAIM")
                .arg(stream)
                .arg(&self.group)
                .arg(&self.consumer)
                .arg(0)
                .arg(&cursor)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut self.connection)
                .await
                .map_err(|e| port_error("XAUTOCLAIM", e))?;
            let Value::Array(parts) = reply else { break };
            let next = parts
                .first()
                .and_then(reply::text)
                .unwrap_or_else(|| "0-0".into());
            if let Some(claimed) = parts.into_iter().nth(1) {
                self.ready.extend(
                    reply::entries(claimed)?
                        .into_iter()
                        .map(|entry| (partition, entry)),
                );
            }
            if next == "0-0" {
                break;
            }
            cursor = next;
        }
        Ok(())
    }

    /// Reads new entries from every stream, waiting up to `block` (not at all when zero).
    ///
    /// A blocking read goes out with a second read that does not block, in one round trip.
    /// Redis serves a blocked `XREADGROUP` as soon as the first entry lands, with that entry
    /// alone (and only from the stream it landed on), even when the same pipeline of a
    /// publisher adds nine more right after it: the member would learn of those only a round
    /// trip later (measured: half a millisecond on a loaded 2-core machine, for every bar but
    /// the first of a feed's batch, a reversal's second order, a fill behind its
    /// acknowledgement). The second read runs when Redis takes up the woken member's next
    /// command, after the rest of that event-loop turn (the whole pipeline), so it takes
    /// everything else already there; both replies come back together. At most
    /// `2 × READ_AHEAD` entries per stream are fetched ahead this way.
    async fn read(&mut self, block: Duration) -> PortResult<()> {
        let block_ms = block_millis(block);
        let replies: Vec<Value> = if block_ms > 0 {
            redis::pipe()
                .add_command(self.xreadgroup(Some(block_ms)))
                .add_command(self.xreadgroup(None))
                .query_async(&mut self.connection)
                .await
        } else {
            self.xreadgroup(None)
                .query_async(&mut self.connection)
                .await
                .map(|reply| vec![reply])
        }
        .map_err(|e| port_error("XREADGROUP", e))?;
        for reply in replies {
            for (stream, entries) in reply::streams(reply)? {
                if let Some(&partition) = self.partition_of.get(&stream) {
                    self.ready
                        .extend(entries.into_iter().map(|entry| (partition, entry)));
                }
            }
        }
        Ok(())
    }

    /// `XREADGROUP` of new entries from every stream, up to [`READ_AHEAD`] each, blocking up
    /// to `block_ms` when given.
    fn xreadgroup(&self, block_ms: Option<u64>) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(READ_AHEAD);
        if let Some(block_ms) = block_ms {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(&self.streams);
        for _ in &self.streams {
            cmd.arg(">");
        }
        cmd
    }

    fn deliver(&mut self, (partition, entry): (i32, Entry)) -> Delivery {
        let offset = reply::offset_of(&entry.id);
        self.unacked
            .entry(partition)
            .or_default()
            .push_back((offset, entry.id));
        Delivery {
            topic: std::sync::Arc::clone(&self.topic),
            key: entry.key.into(),
            payload: entry.payload.into(),
            partition,
            offset,
            shared: None,
        }
    }
}

/// The `BLOCK` argument for a wait of `wait`: whole milliseconds, rounded up. Redis counts
/// `BLOCK` in milliseconds and reads without it at once, so a wait under a millisecond
/// truncated to 0 was a read that returned at once, and [`RedisStreamsSubscription::poll`]
/// with a 1 ms wait spun through dozens of them until its deadline (a gateway between market
/// data turns sent about 16,000 reads a second, loading Redis and the host for nothing).
fn block_millis(wait: Duration) -> u64 {
    u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[async_trait::async_trait]
impl chimera_ports::Subscription for RedisStreamsSubscription {
    async fn poll(&mut self, max_wait: Duration) -> PortResult<Option<Delivery>> {
        let deadline = Instant::now() + max_wait;
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Ok(Some(self.deliver(entry)));
            }
            if self.last_refresh.is_none_or(|at| at.elapsed() >= REFRESH) {
                self.refresh().await?;
                if !self.ready.is_empty() {
                    continue;
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if self.streams.is_empty() {
                if remaining.is_zero() {
                    return Ok(None);
                }
                tokio::time::sleep(remaining.min(IDLE_STEP)).await;
                self.last_refresh = None;
                continue;
            }
            self.read(remaining.min(REFRESH)).await?;
            if self.ready.is_empty() && Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn ack(&mut self, delivery: &Delivery) -> PortResult<()> {
        let (Some(stream), Some(unacked)) = (
            self.stream_of.get(&delivery.partition),
            self.unacked.get_mut(&delivery.partition),
        ) else {
            return Ok(());
        };
        let mut ids = Vec::new();
        while unacked
            .front()
            .is_some_and(|(offset, _)| *offset <= delivery.offset)
        {
            if let Some((_, id)) = unacked.pop_front() {
                ids.push(id);
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        let _: i64 = redis::cmd("XACK")
            .arg(stream)
            .arg(&self.group)
            .arg(&ids)
            .query_async(&mut self.connection)
            .await
            .map_err(|e| port_error("XACK", e))?;
        Ok(())
    }

    fn starts(&self) -> BTreeMap<i32, i64> {
        self.starts.clone()
    }
}
