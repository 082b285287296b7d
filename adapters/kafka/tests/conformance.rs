//! The Kafka adapter against the shared event-bus contract, on the broker named by
//! `CHIMERA_KAFKA_BROKERS` (`scripts/test.sh` starts one on loopback). Every run uses topics and
//! groups of its own.

mod support;

use chimera_kafka::{KafkaConfig, KafkaEventBus};
use chimera_ports::conformance;
use support::{bus, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_bus_conforms() {
    let Some(bus) = bus(false) else { return };
    conformance::event_bus_suite(&bus, &unique("conform")).await;
}

/// Exclusive reading, as the live runtimes use it: subscriptions share the process's one
/// fetching consumer (a second group on the same topic gets a consumer of its own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclusive_event_bus_conforms() {
    let Some(bus) = bus(true) else { return };
    conformance::event_bus_suite(&bus, &unique("exclusive")).await;
}

#[test]
fn bad_config_lists_every_field() {
    let mut config = KafkaConfig::new("nohostport");
    config.partitions = 0;
    config.session_timeout_ms = 10;
    config
        .extra
        .insert("enable.idempotence".into(), "false".into());
    let err = KafkaEventBus::connect(&config).unwrap_err().to_string();
    for field in [
        "brokers",
        "partitions",
        "session_timeout_ms",
        "extra.enable.idempotence",
    ] {
        assert!(err.contains(field), "{field} missing from: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_topic_is_fatal() {
    use chimera_ports::EventBus;
    let Some(bus) = bus(false) else { return };
    let err = bus
        .publish("no spaces allowed", "k", b"x")
        .await
        .unwrap_err();
    assert!(!err.is_transient(), "{err}");
}
