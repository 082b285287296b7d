//! The Redis state store against the shared contract, on the real Redis the test command starts
//! (`CHIMERA_REDIS_URL`). Each test uses its own key prefix.

use async_trait::async_trait;
use chimera_ports::conformance::{event_bus_suite, state_store_suite, TimeTravel};
use chimera_ports::StateStore;
use chimera_redis::{RedisConfig, RedisStateStore, RedisStreamsEventBus, StreamRoute};
use std::time::Duration;

mod support;
use support::config;

struct RealTime;

#[async_trait]
impl TimeTravel for RealTime {
    async fn advance(&self, by: Duration) {
        tokio::time::sleep(by).await;
    }
}

#[tokio::test]
async fn redis_state_store_conforms() {
    let Some(config) = config("conformance") else {
        return;
    };
    let store = RedisStateStore::connect(&config).await.expect("connect");
    state_store_suite(&store, &RealTime, "cs").await;
}

#[tokio::test]
async fn concurrent_reservations_never_pass_the_ceiling() {
    let Some(config) = config("budget") else {
        return;
    };
    let store = RedisStateStore::connect(&config).await.expect("connect");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .increment_within("risk:{budget}:fut_margin:inuse", 7, 100)
                    .await
            })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        if matches!(
            task.await.expect("join").expect("increment"),
            chimera_ports::Increment::Applied(_)
        ) {
            applied += 1;
        }
    }
    assert_eq!(applied, 14, "only 14 reservations of 7 fit under 100");
    let value = store
        .get("risk:{budget}:fut_margin:inuse")
        .await
        .expect("get");
    assert_eq!(value, Some(b"98".to_vec()));
}

#[tokio::test]
async fn unreachable_server_is_a_client_error_and_bad_config_lists_problems() {
    let bad = RedisConfig {
        url: "http://nowhere".into(),
        key_prefix: "x y".into(),
        stream_max_len: None,
        streams: Vec::new(),
    };
    let err = RedisStateStore::connect(&bad)
        .await
        .expect_err("invalid config");
    assert!(
        err.to_string().contains("url") && err.to_string().contains("key_prefix"),
        "{err}"
    );
    let closed = RedisConfig {
        url: "redis://127.0.0.1:1".into(),
        key_prefix: String::new(),
        stream_max_len: None,
        streams: Vec::new(),
    };
    let err = RedisStateStore::connect(&closed)
        .await
        .expect_err("nothing listens on port 1");
    assert!(err.to_string().contains("connect"), "{err}");
}

#[tokio::test]
async fn redis_streams_event_bus_conforms() {
    let Some(config) = config("bus") else { return };
    let bus = RedisStreamsEventBus::connect(&config)
        .await
        .expect("connect");
    event_bus_suite(&bus, "rs").await;
}

/// The same contract when a topic spreads over one stream per key (`mkt:events:{perp}:<key>`
/// style): subscribers follow streams created after they joined, and acks stay per stream.
#[tokio::test]
async fn redis_streams_event_bus_conforms_with_a_stream_per_key() {
    let Some(mut config) = config("bus-per-key") else {
        return;
    };
    config.streams = [
        "order",
        "fanout",
        "redeliver",
        "empty",
        "newkeys",
        "partitions",
    ]
    .into_iter()
    .map(|rule| StreamRoute {
        topic: format!("rk.{rule}"),
        key: None,
        stream: format!("t:{{{rule}}}:<key>"),
    })
    .collect();
    let bus = RedisStreamsEventBus::connect(&config)
        .await
        .expect("connect");
    assert_eq!(
        bus.stream_name("rk.order", "a"),
        format!("{}t:{{order}}:a", config.key_prefix)
    );
    event_bus_suite(&bus, "rk").await;
}
