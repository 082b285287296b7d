//! A subscriber that joins a topic before its first message reads that message as soon as it
//! is published: a topic written to one stream is registered and joined at subscribe time,
//! not found at a registry check after the stream appears (50 ms steps while a member has no
//! stream, 200 ms once it has some). On the real Redis the test command starts
//! (`CHIMERA_REDIS_URL`).

use chimera_ports::EventBus;
use chimera_redis::RedisStreamsEventBus;

mod support;

#[tokio::test]
async fn a_single_stream_topic_is_joined_before_its_first_message() {
    let Some(config) = support::config_routed("first-message", "per-key", "per:{k}:<key>") else {
        return;
    };
    let bus = RedisStreamsEventBus::connect(&config)
        .await
        .expect("connect");
    let _results = bus.subscribe("results", "g").await.expect("subscribe");
    let _per_key = bus.subscribe("per-key", "g").await.expect("subscribe");

    let client = redis::Client::open(config.url.as_str()).expect("url");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    // The single stream exists with the group on it before anything was published.
    let groups: Vec<std::collections::HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(bus.stream_name("results", "any"))
        .query_async(&mut raw)
        .await
        .expect("the stream and its group exist");
    let names: Vec<String> = groups
        .iter()
        .filter_map(|g| g.get("name"))
        .filter_map(|name| redis::from_redis_value(name).ok())
        .collect();
    assert_eq!(names, ["g"]);
    // Nothing is published by joining: a topic never written has no offsets.
    assert!(bus
        .last_offsets("results")
        .await
        .expect("offsets")
        .is_empty());
    // A stream per key cannot be known before its key: nothing is made for it.
    let exists: i64 = redis::cmd("EXISTS")
        .arg(bus.stream_name("per-key", "BTC"))
        .query_async(&mut raw)
        .await
        .expect("exists");
    assert_eq!(exists, 0);
}
