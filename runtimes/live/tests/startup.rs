//! A runtime that cannot reach a service at start-up says which service, at which address,
//! within the bounded time (`connect_timeout_ms`), instead of failing a minute later inside its
//! first operation. Nothing listens on port 1 of the loopback.
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_live::config::{BusConfig, StateConfig, StoreConfig};
use std::time::{Duration, Instant};

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    toml::from_str(text).unwrap()
}

/// Runs `attempt`, expecting its error to name the service and address, in time.
async fn refused<T, E: std::fmt::Display>(
    attempt: impl std::future::Future<Output = Result<T, E>>,
    expected: &str,
    limit: Duration,
) {
    let started = Instant::now();
    let Err(error) = attempt.await else {
        panic!("{expected}: connected to nothing")
    };
    let elapsed = started.elapsed();
    let text = error.to_string();
    assert!(text.starts_with(expected), "{text}");
    assert!(elapsed < limit, "took {elapsed:?}: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_kafka_broker_is_named_within_the_bound() {
    let bus: BusConfig =
        parse("kind = \"kafka\"\nbrokers = \"127.0.0.1:1\"\nconnect_timeout_ms = 1500\n");
    refused(
        bus.build("t", &[]),
        "cannot reach Kafka at 127.0.0.1:1 within 1500 ms",
        Duration::from_secs(6),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_is_named_within_the_bound() {
    let bus: BusConfig = parse(
        "kind = \"redis\"\nurl = \"redis://user:secret@127.0.0.1:1\"\nconnect_timeout_ms = 1500\n",
    );
    refused(
        bus.build("t", &[]),
        "cannot reach Redis at redis://user:***@127.0.0.1:1 within 1500 ms",
        Duration::from_secs(6),
    )
    .await;
    let state: StateConfig =
        parse("kind = \"redis\"\nurl = \"redis://127.0.0.1:1\"\nconnect_timeout_ms = 1500\n");
    refused(
        state.build("p."),
        "cannot reach Redis at redis://127.0.0.1:1 within 1500 ms",
        Duration::from_secs(6),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_is_named_within_the_bound() {
    let store: StoreConfig = parse(
        "kind = \"sql\"\nurl = \"postgres://postgres:pw@127.0.0.1:1/chimera\"\n\
         acquire_timeout_ms = 1500\n",
    );
    refused(
        store.build(),
        "cannot reach PostgreSQL at postgres://postgres:***@127.0.0.1:1/chimera",
        Duration::from_secs(15),
    )
    .await;
}
