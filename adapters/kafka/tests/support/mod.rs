//! What the Kafka adapter's tests share: a bus on the broker `CHIMERA_KAFKA_BROKERS` names
//! (`scripts/test.sh` starts one on loopback), and names no other run uses.
#![allow(dead_code, reason = "each test file uses part of it")]
#![allow(clippy::unwrap_used, reason = "tests")]

use chimera_kafka::{KafkaConfig, KafkaEventBus};

/// A bus on the test broker, exclusive reading or not; `None` (the reason printed) without one.
pub(crate) fn bus(exclusive: bool) -> Option<KafkaEventBus> {
    let Ok(brokers) = std::env::var("CHIMERA_KAFKA_BROKERS") else {
        println!("skipped: CHIMERA_KAFKA_BROKERS is not set (scripts/test.sh starts a broker)");
        return None;
    };
    let mut config = KafkaConfig::new(brokers);
    config.exclusive = exclusive;
    Some(KafkaEventBus::connect(&config).unwrap())
}

/// `chimera-test-{name}-{pid}-{nanos}`: a topic, group or prefix of this run alone.
pub(crate) fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("chimera-test-{name}-{}-{nanos}", std::process::id())
}
