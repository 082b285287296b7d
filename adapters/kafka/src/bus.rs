//! [`KafkaEventBus`] and its subscriptions.

use crate::error::port_error;
use crate::settings::{self, base_config};
use crate::{shared, subscription};
use crate::{KafkaAdapterError, KafkaConfig};
use async_trait::async_trait;
use chimera_ports::{EventBus, PortError, PortResult, Subscription};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The event bus on Kafka. Cheap to clone; clones share the producer.
#[derive(Clone)]
pub struct KafkaEventBus {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: Arc<AdminClient<DefaultClientContext>>,
    provisioned: Arc<Mutex<HashSet<String>>>,
    /// The consumer exclusive subscriptions share, once one subscribed ([`shared`]).
    reader: Arc<Mutex<Option<Arc<shared::SharedReader>>>>,
}

impl std::fmt::Debug for KafkaEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaEventBus")
            .field("brokers", &self.config.brokers)
            .finish_non_exhaustive()
    }
}

/// Kafka's rule for topic names: 1–249 of `[a-zA-Z0-9._-]`.
fn check_name(what: &str, name: &str) -> PortResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 249
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(PortError::fatal(
            "validate name",
            format!("{what} {name:?} must be 1 to 249 of [a-zA-Z0-9._-]"),
        ))
    }
}

impl KafkaEventBus {
    /// Creates the producer and admin client (connections are made lazily by librdkafka).
    ///
    /// # Errors
    /// [`KafkaAdapterError::Config`] listing every bad field, or [`KafkaAdapterError::Client`]
    /// when librdkafka refuses the settings.
    pub fn connect(config: &KafkaConfig) -> Result<Self, KafkaAdapterError> {
        config.validate()?;
        let producer: FutureProducer = base_config(config)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "0")
            .set("message.timeout.ms", config.delivery_timeout_ms.to_string())
            .create()
            .map_err(|source| KafkaAdapterError::Client {
                what: "producer",
                source,
            })?;
        let admin: AdminClient<DefaultClientContext> =
            base_config(config)
                .create()
                .map_err(|source| KafkaAdapterError::Client {
                    what: "admin client",
                    source,
                })?;
        Ok(Self {
            config: config.clone(),
            producer,
            admin: Arc::new(admin),
            provisioned: Arc::new(Mutex::new(HashSet::new())),
            reader: Arc::default(),
        })
    }

    /// Asks the brokers for the cluster's metadata: proves they can be reached (start-up and
    /// health checks), which [`Self::connect`] does not, librdkafka connecting lazily.
    ///
    /// # Errors
    /// [`KafkaAdapterError::Unreachable`] when no broker answered within `timeout`.
    pub async fn ping(&self, timeout: std::time::Duration) -> Result<(), KafkaAdapterError> {
        let producer = self.producer.clone();
        let metadata = tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer as _;
            producer.client().fetch_metadata(None, timeout).map(drop)
        })
        .await;
        // A failed blocking task (it does not panic) counts as no answer.
        let source = match metadata {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(source)) => source,
            Err(_) => {
                rdkafka::error::KafkaError::MetadataFetch(rdkafka::types::RDKafkaErrorCode::Fail)
            }
        };
        Err(KafkaAdapterError::Unreachable {
            brokers: self.config.brokers.clone(),
            source,
        })
    }

    /// Creates `topic` with the configured partitions and replication unless it exists or
    /// auto-creation is off. Done once per topic per process.
    ///
    /// # Errors
    /// [`PortError::Transient`] when the broker cannot be asked; [`PortError::Fatal`] when it
    /// refuses the topic.
    pub async fn ensure_topic(&self, topic: &str) -> PortResult<()> {
        check_name("topic", topic)?;
        if !self.config.auto_create_topics || self.is_provisioned(topic) {
            return Ok(());
        }
        let new = NewTopic::new(
            topic,
            self.config.partitions,
            TopicReplication::Fixed(self.config.replication),
        );
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = self
            .admin
            .create_topics([&new], &opts)
            .await
            .map_err(|e| port_error("create topic", e))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(PortError::fatal(
                        "create topic",
                        format!("broker refused topic {name}: {code}"),
                    ))
                }
            }
        }
        self.provisioned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(topic.to_owned());
        Ok(())
    }

    async fn settle(future: rdkafka::producer::DeliveryFuture) -> PortResult<()> {
        match future.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((e, _))) => Err(port_error("publish", e)),
            Err(_) => Err(PortError::transient(
                "publish",
                "producer dropped the message",
            )),
        }
    }

    fn is_provisioned(&self, topic: &str) -> bool {
        self.provisioned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(topic)
    }
}

#[async_trait]
impl EventBus for KafkaEventBus {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> PortResult<(i32, i64)> {
        self.ensure_topic(topic).await?;
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match self
            .producer
            .send(
                record,
                Duration::from_millis(self.config.delivery_timeout_ms),
            )
            .await
        {
            Ok(delivery) => Ok((delivery.partition, delivery.offset)),
            Err((error, _message)) => Err(port_error("publish", error)),
        }
    }

    async fn publish_batch(&self, topic: &str, messages: &[(String, Vec<u8>)]) -> PortResult<()> {
        self.ensure_topic(topic).await?;
        let mut pending = std::collections::VecDeque::with_capacity(messages.len());
        for (key, payload) in messages {
            loop {
                let record = FutureRecord::to(topic)
                    .key(key.as_str())
                    .payload(payload.as_slice());
                match self.producer.send_result(record) {
                    Ok(future) => {
                        pending.push_back(future);
                        break;
                    }
                    Err((e, _)) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::QueueFull) => {
                        // Let the oldest in-flight messages complete, then enqueue again.
                        let Some(oldest) = pending.pop_front() else {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            continue;
                        };
                        Self::settle(oldest).await?;
                    }
                    Err((e, _)) => return Err(port_error("publish", e)),
                }
            }
        }
        for future in pending {
            Self::settle(future).await?;
        }
        Ok(())
    }

    async fn subscribe(&self, topic: &str, group: &str) -> PortResult<Box<dyn Subscription>> {
        self.join(topic, group, None).await
    }

    async fn subscribe_from(
        &self,
        topic: &str,
        group: &str,
        after: &BTreeMap<i32, i64>,
    ) -> PortResult<Box<dyn Subscription>> {
        // A group positioned by the caller is read by this member alone: its partitions are
        // assigned, not balanced.
        self.join(topic, group, Some(after)).await
    }

    async fn last_offsets(&self, topic: &str) -> PortResult<BTreeMap<i32, i64>> {
        check_name("topic", topic)?;
        let producer = self.producer.clone();
        let topic = topic.to_owned();
        tokio::task::spawn_blocking(move || {
            let client = producer.client();
            let timeout = Duration::from_secs(10);
            let mut last = BTreeMap::new();
            for partition in subscription::partitions(client, &topic, timeout)? {
                let (low, high) = client
                    .fetch_watermarks(&topic, partition, timeout)
                    .map_err(|e| port_error("read watermarks", e))?;
                if high > low {
                    last.insert(partition, high - 1);
                }
            }
            Ok(last)
        })
        .await
        .map_err(|e| PortError::transient("last offsets", format!("task failed: {e}")))?
    }
}

impl KafkaEventBus {
    /// A member of `group` on `topic`: balanced with the group's other members, or, with
    /// `after` (or the exclusive option), assigned every partition from the group's committed
    /// offset, else right after `after[partition]`, else the beginning. Exclusive subscriptions
    /// without `after` read through the process's shared consumer ([`shared`]) when it does
    /// not read their topic for another group already.
    async fn join(
        &self,
        topic: &str,
        group: &str,
        after: Option<&BTreeMap<i32, i64>>,
    ) -> PortResult<Box<dyn Subscription>> {
        check_name("consumer group", group)?;
        self.ensure_topic(topic).await?;
        if after.is_none() && self.config.exclusive {
            let committer: BaseConsumer = settings::group_settings(&self.config, group)
                .create()
                .map_err(|e| port_error("create consumer", e))?;
            let reader = self.shared_reader()?;
            if let Some(subscription) = shared::subscribe(&reader, committer, topic).await? {
                return Ok(subscription);
            }
        }
        let consumer: StreamConsumer = settings::reading_settings(
            &self.config,
            &settings::group_settings(&self.config, group),
            settings::DEFAULT_PREFETCH_KIB,
        )
        .create()
        .map_err(|e| port_error("create consumer", e))?;
        let consumer = Arc::new(consumer);
        // Balanced members do not know their partitions (or starts) until the group assigns them.
        let starts = match after {
            Some(after) => subscription::assign(&consumer, topic, after.clone()).await?,
            None if self.config.exclusive => {
                subscription::assign(&consumer, topic, BTreeMap::new()).await?
            }
            None => {
                consumer
                    .subscribe(&[topic])
                    .map_err(|e| port_error("subscribe", e))?;
                BTreeMap::new()
            }
        };
        Ok(Box::new(subscription::KafkaSubscription::new(
            consumer, starts,
        )))
    }

    /// The process's shared consumer, started on first use.
    fn shared_reader(&self) -> PortResult<Arc<shared::SharedReader>> {
        let mut reader = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(reader) = reader.as_ref() {
            return Ok(Arc::clone(reader));
        }
        // It never commits: the group name only satisfies librdkafka.
        let group = format!("{}.reader", self.config.client_id);
        let per_partition = settings::shared_prefetch_kib(self.config.partitions);
        let consumer: StreamConsumer = settings::reading_settings(
            &self.config,
            &settings::group_settings(&self.config, &group),
            &per_partition,
        )
        .create()
        .map_err(|e| port_error("create consumer", e))?;
        Ok(Arc::clone(
            reader.insert(Arc::new(shared::SharedReader::start(consumer))),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which topics the shared consumer reads now.
    fn shared_topics(bus: &KafkaEventBus) -> std::collections::BTreeSet<String> {
        bus.reader
            .lock()
            .unwrap()
            .as_ref()
            .map(|r| r.assigned().iter().map(|(t, _)| t.clone()).collect())
            .unwrap_or_default()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn exclusive_subscriptions_share_one_consumer_one_group_per_topic() {
        let Ok(brokers) = std::env::var("CHIMERA_KAFKA_BROKERS") else {
            println!("skipped: CHIMERA_KAFKA_BROKERS is not set (scripts/test.sh starts a broker)");
            return;
        };
        let mut config = KafkaConfig::new(brokers);
        config.exclusive = true;
        let bus = KafkaEventBus::connect(&config).unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let prefix = format!("chimera-test-sharing-{}-{nanos}", std::process::id());
        let (a, b) = (format!("{prefix}.a"), format!("{prefix}.b"));
        let on_a = bus.subscribe(&a, &format!("{prefix}.g1")).await.unwrap();
        let on_b = bus.subscribe(&b, &format!("{prefix}.g1")).await.unwrap();
        let both = std::collections::BTreeSet::from([a.clone(), b.clone()]);
        assert_eq!(
            shared_topics(&bus),
            both,
            "both read by the shared consumer"
        );
        let partitions = bus
            .reader
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .assigned()
            .len();
        assert_eq!(partitions, 2 * usize::try_from(config.partitions).unwrap());

        // Another group on a: a consumer of its own; the shared one's assignment is unchanged.
        let other = bus.subscribe(&a, &format!("{prefix}.g2")).await.unwrap();
        assert_eq!(shared_topics(&bus), both);
        drop(other);
        assert_eq!(
            shared_topics(&bus),
            both,
            "its going leaves the shared consumer alone"
        );

        drop(on_a);
        assert_eq!(
            shared_topics(&bus),
            std::collections::BTreeSet::from([b.clone()]),
            "a's partitions released"
        );
        let again = bus.subscribe(&a, &format!("{prefix}.g2")).await.unwrap();
        assert_eq!(shared_topics(&bus), both, "a taken again, by g2 now");
        drop((again, on_b));
        assert!(shared_topics(&bus).is_empty());
    }
}
