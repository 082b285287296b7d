//! # chimera-kafka
//!
//! [`KafkaEventBus`]: the [`chimera_ports::EventBus`] port on Apache Kafka (or any broker that
//! speaks its protocol) through rdkafka.
//!
//! - The producer is idempotent with `acks=all`: [`chimera_ports::EventBus::publish`] returns
//!   only once every in-sync replica has the message, and a retried send is never stored twice.
//!   Messages are partitioned by key, so one key's messages stay in order.
//! - Each subscription is one member of a consumer group with automatic commits off: an offset is
//!   committed only when the caller acknowledges a delivery, which it does once the message's
//!   effects are durable (at-least-once delivery; idempotent handling makes it effectively once).
//! - With `exclusive` (the live runtimes), a subscription reads every partition of its topic
//!   without joining its group, and commits there. Such subscriptions share the process's one
//!   fetching consumer, each with queues of its own, so a process reading several topics keeps
//!   one fetch loop rather than one per topic.
//! - Topics are created on first use when `auto_create_topics` is on (development); production
//!   clusters provision them ahead.

mod bus;
mod config;
mod error;
mod settings;
mod shared;
mod subscription;

pub use bus::KafkaEventBus;
pub use config::{KafkaConfig, KafkaConfigError};
pub use error::KafkaAdapterError;
