//! The adapter's errors, and their one mapping into [`PortError`].

use chimera_ports::PortError;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What went wrong setting up the Kafka adapter.
#[derive(Debug, thiserror::Error)]
pub enum KafkaAdapterError {
    /// The configuration was rejected.
    #[error(transparent)]
    Config(#[from] crate::KafkaConfigError),
    /// The client could not be created.
    #[error("cannot create the Kafka {what}: {source}")]
    Client {
        /// Producer, consumer or admin client.
        what: &'static str,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// No broker answered a metadata request in time.
    #[error("no Kafka broker at {brokers} answered: {source}")]
    Unreachable {
        /// The brokers asked.
        brokers: String,
        /// What librdkafka reported.
        #[source]
        source: KafkaError,
    },
}

fn is_transient(error: &KafkaError) -> bool {
    match error.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::GroupAuthorizationFailed
            | RDKafkaErrorCode::InvalidTopic
            | RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidConfig,
        ) => false,
        _ => !matches!(
            error,
            KafkaError::ClientCreation(_) | KafkaError::Subscription(_)
        ),
    }
}

/// Classifies a client error: broker and network trouble is transient, a refused topic, group
/// or oversize message is fatal.
pub(crate) fn port_error(operation: &'static str, source: KafkaError) -> PortError {
    PortError::from_client(is_transient(&source), operation, source)
}
