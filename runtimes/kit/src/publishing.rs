//! Publishing from a [`Runtime`]: envelopes made from this process's name, encoded, and
//! published with retries; on an in-process bus, as values encoded only if a consumer reads
//! their bytes ([`chimera_ports::Deferred`]).

use crate::runtime::{wall_clock, Runtime};
use chimera_kernel::time::Timestamp;
use chimera_messages::{encode, Envelope, MessageType, Topic};
use chimera_ports::{Deferred, PortResult};

impl Runtime {
    /// Publishes an envelope on `topic`, retrying transient failures.
    ///
    /// # Errors
    /// A fatal bus error, or a transient one once shutdown was asked.
    pub async fn publish<T: serde::Serialize + Sync>(
        &self,
        topic: Topic,
        kind: MessageType,
        id: String,
        key: &str,
        payload: &T,
    ) -> PortResult<(i32, i64)> {
        self.publish_fenced(topic, kind, id, key, payload, None)
            .await
    }

    /// [`Self::publish`] with the sender's fencing token on the envelope.
    ///
    /// # Errors
    /// As [`Self::publish`].
    pub async fn publish_fenced<T: serde::Serialize + Sync>(
        &self,
        topic: Topic,
        kind: MessageType,
        id: String,
        key: &str,
        payload: &T,
        epoch: Option<u64>,
    ) -> PortResult<(i32, i64)> {
        let bytes = self.encode_fenced(kind, id, wall_clock(), key, payload, epoch);
        let name = self.topics.full_name(topic);
        self.retry("publish", || self.bus.publish(name, key, &bytes))
            .await
    }

    /// Publishes `messages` (each `(key, message id, payload)`), in order per key, waiting once
    /// for all of them to be durable: the gateway's reports of one turn, for several
    /// portfolios, cost one round trip. A retry after a failure may publish a prefix twice;
    /// consumers are idempotent by message id. Each envelope goes as a value
    /// ([`Self::publish_deferred`]): in process the consumers take it rather than decode
    /// bytes, which are made only if one reads them.
    ///
    /// # Errors
    /// As [`Self::publish`].
    pub async fn publish_keyed<'a, T: serde::Serialize + Send + Sync + 'static>(
        &self,
        topic: Topic,
        kind: MessageType,
        messages: impl IntoIterator<Item = (&'a str, String, T)> + Send,
    ) -> PortResult<()> {
        let deferred = self.deferred_keyed(kind, messages);
        self.publish_deferred(topic, &deferred).await
    }

    /// What [`Self::publish_keyed`] publishes: each `(key, message id, payload)` in an
    /// envelope from this process, stamped now, with its encoder. A rehearsal makes them and
    /// drops them.
    pub fn deferred_keyed<'a, T: serde::Serialize + Send + Sync + 'static>(
        &self,
        kind: MessageType,
        messages: impl IntoIterator<Item = (&'a str, String, T)>,
    ) -> Vec<(String, Deferred)> {
        let at = wall_clock();
        messages
            .into_iter()
            .map(|(key, id, payload)| {
                let envelope = self.envelope(kind, id, at, key, payload, None);
                (key.to_owned(), Deferred::new(envelope, encode::<T>))
            })
            .collect()
    }

    /// `payload` in an envelope from this process, stamped `at`, encoded: what
    /// [`Self::publish_encoded`] publishes, for a batch of messages of different types.
    pub fn encode_fenced<T: serde::Serialize>(
        &self,
        kind: MessageType,
        id: String,
        at: Timestamp,
        key: &str,
        payload: &T,
        epoch: Option<u64>,
    ) -> Vec<u8> {
        encode(&self.envelope(kind, id, at, key, payload, epoch))
    }

    /// `payload` in an envelope from this process, stamped `at`: what [`Self::encode_fenced`]
    /// encodes, kept whole to publish as a value ([`Self::publish_deferred`]).
    pub fn envelope<T>(
        &self,
        kind: MessageType,
        id: String,
        at: Timestamp,
        key: &str,
        payload: T,
        epoch: Option<u64>,
    ) -> Envelope<T> {
        Envelope::new(kind, id, at, self.source.clone(), key, payload).with_epoch(epoch)
    }

    /// Publishes `(key, encoded envelope)` pairs ([`Self::encode_fenced`]) on `topic` in one
    /// batch, in order per key, waiting once for all of them to be durable (a node's orders of
    /// one batch and its promise cost one round trip). A retry after a failure may publish a
    /// prefix twice; consumers are idempotent by message id.
    ///
    /// # Errors
    /// A fatal bus error, or a transient one once shutdown was asked.
    pub async fn publish_encoded(
        &self,
        topic: Topic,
        messages: &[(String, Vec<u8>)],
    ) -> PortResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let name = self.topics.full_name(topic);
        self.retry("publish", || self.bus.publish_batch(name, messages))
            .await
    }

    /// Publishes `messages` (key, envelope with its encoder) on `topic` in one batch, as
    /// [`Self::publish_encoded`] does: an in-process bus makes the bytes only if a consumer
    /// reads them ([`chimera_ports::EventBus::publish_deferred`]), any other encodes them now.
    ///
    /// # Errors
    /// As [`Self::publish_encoded`].
    pub async fn publish_deferred(
        &self,
        topic: Topic,
        messages: &[(String, Deferred)],
    ) -> PortResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let name = self.topics.full_name(topic);
        self.retry("publish", || self.bus.publish_deferred(name, messages))
            .await
    }
}
