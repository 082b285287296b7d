//! How the adapter configures its librdkafka clients, and the fetch defaults it picks where
//! `[bus.extra]` is silent.

use crate::KafkaConfig;
use rdkafka::ClientConfig;

/// librdkafka's bound on how long a fetch waits for data (default 500 ms there).
const FETCH_WAIT: &str = "fetch.wait.max.ms";
/// How much a consumer fetches ahead of its reader (one queue for all its partitions: it
/// stops fetching once that holds this much, so one fetch can overshoot it; per partition for
/// the shared consumer, whose partitions have queues of their own), and our default.
const PREFETCH_KIB: &str = "queued.max.messages.kbytes";
pub(crate) const DEFAULT_PREFETCH_KIB: &str = "4096";
/// The most one fetch brings back, all partitions together, and ours.
const FETCH_MAX_BYTES: &str = "fetch.max.bytes";
const DEFAULT_FETCH_MAX_BYTES: u64 = 4 << 20;

/// Ours, unless `[bus.extra]` sets it.
const DEFAULT_FETCH_WAIT_MS: &str = "50";
/// How long librdkafka postpones the next fetch once its prefetch is full, and ours.
const FETCH_QUEUE_BACKOFF: &str = "fetch.queue.backoff.ms";
const DEFAULT_FETCH_QUEUE_BACKOFF_MS: &str = "10";

/// Our `fetch.max.bytes`: [`DEFAULT_FETCH_MAX_BYTES`], or `message.max.bytes` when `extra`
/// sets that higher (librdkafka refuses a fetch smaller than the largest message).
fn fetch_max_bytes(extra: &std::collections::BTreeMap<String, String>) -> String {
    let largest = extra
        .get("message.max.bytes")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    DEFAULT_FETCH_MAX_BYTES.max(largest).to_string()
}

/// What every client of the adapter is configured with: the brokers, its id, and
/// `[bus.extra]`.
pub(crate) fn base_config(config: &KafkaConfig) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &config.brokers)
        .set("client.id", &config.client_id)
        .set("log_level", "3")
        // librdkafka leaves Nagle's algorithm on: a small request written in two parts then
        // waits for the broker's delayed acknowledgement (up to 40 ms on Linux). Orders and
        // market events are small and latency-bound, so every socket sends at once.
        .set("socket.nagle.disable", "true");
    for (k, v) in &config.extra {
        c.set(k, v);
    }
    c
}

/// A consumer of `group` that commits only when told to.
pub(crate) fn group_settings(config: &KafkaConfig, group: &str) -> ClientConfig {
    let mut settings = base_config(config);
    settings
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        .set("session.timeout.ms", config.session_timeout_ms.to_string())
        .set(
            "heartbeat.interval.ms",
            (config.session_timeout_ms / 4).to_string(),
        );
    settings
}

/// `settings` with our fetch defaults, unless `[bus.extra]` sets them; `prefetch_kib` is
/// the default prefetch bound.
pub(crate) fn reading_settings(
    config: &KafkaConfig,
    settings: &ClientConfig,
    prefetch_kib: &str,
) -> ClientConfig {
    let mut settings = settings.clone();
    if !config.extra.contains_key(FETCH_WAIT) {
        // A broker without long-poll wake-ups (the development broker) answers a fetch only
        // when this wait ends, however soon a message arrives: it bounds delivery latency
        // (a fail-over's schedule update, a kill switch's announcement). A broker that
        // wakes fetches on arrival is unaffected but for idle polls.
        settings.set(FETCH_WAIT, DEFAULT_FETCH_WAIT_MS);
    }
    if !config.extra.contains_key(PREFETCH_KIB) {
        // librdkafka prefetches up to 64 MiB per consumer by default: a process with a
        // few members behind a backlog held hundreds of MiB of messages it had not asked
        // for yet. 4 MiB routed a backlog fastest (docs/benchmarks.md: 1 MiB cost the
        // node about a quarter of its rate for 10-25 MiB less memory, 2 MiB saved none).
        settings.set(PREFETCH_KIB, prefetch_kib);
    }
    if !config.extra.contains_key(FETCH_MAX_BYTES) {
        // Unless told otherwise, librdkafka shrinks a fetch to the prefetch above, so a
        // smaller prefetch meant smaller fetches, and a broker that answers each fetch in
        // about the same time (the development broker) delivered proportionally less: a
        // third of the prefetch read at 40 % of the rate. Set on its own, a fetch keeps its
        // size while the prefetch bounds what waits, so lowering the prefetch to save
        // memory no longer cuts the read rate (the bus's read floor stayed put).
        settings.set(FETCH_MAX_BYTES, fetch_max_bytes(&config.extra));
    }
    if !config.extra.contains_key(FETCH_QUEUE_BACKOFF) {
        // librdkafka's default (1 s) stops fetching for a second each time a reader slower
        // than the broker lets the prefetch fill: a node reading a backlog stood idle for a
        // second every 4 MiB, having drained its queue long before, and routed at less
        // than half the rate the bus delivers. Checking again after 10 ms costs nothing.
        settings.set(FETCH_QUEUE_BACKOFF, DEFAULT_FETCH_QUEUE_BACKOFF_MS);
    }
    settings
}

/// The shared consumer's default prefetch per partition: about [`DEFAULT_PREFETCH_KIB`] per
/// topic of `partitions` partitions (as a consumer of its own held), at least 1 MiB.
pub(crate) fn shared_prefetch_kib(partitions: i32) -> String {
    let per_topic: u32 = 4096;
    (per_topic / u32::try_from(partitions).unwrap_or(1).max(1))
        .max(1024)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_fetch_stays_four_mib_unless_a_larger_message_is_allowed() {
        assert_eq!(fetch_max_bytes(&BTreeMap::new()), "4194304");
        let small = BTreeMap::from([("message.max.bytes".to_owned(), "1000000".to_owned())]);
        assert_eq!(fetch_max_bytes(&small), "4194304");
        let large = BTreeMap::from([("message.max.bytes".to_owned(), " 10000000".to_owned())]);
        assert_eq!(fetch_max_bytes(&large), "10000000");
    }

    #[test]
    fn the_shared_prefetch_splits_a_topics_share_between_its_partitions() {
        assert_eq!(shared_prefetch_kib(1), DEFAULT_PREFETCH_KIB);
        assert_eq!(shared_prefetch_kib(3), "1365");
        assert_eq!(shared_prefetch_kib(12), "1024", "at least 1 MiB each");
        assert_eq!(
            shared_prefetch_kib(0),
            DEFAULT_PREFETCH_KIB,
            "never divided by zero"
        );
    }
}
