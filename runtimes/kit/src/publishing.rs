//! Publishing from a [`Runtime`]: envelopes made from this process's name, encoded, and
//! published with retries; on an in-process bus, with the envelopes shared beside the bytes
//! ([`chimera_ports::Shared`]).

use crate::runtime::{wall_clock, Runtime};
use chimera_kernel::time::Timestamp;
use chimera_messages::{encode, Envelope, MessageType, Topic};
use chimera_ports::PortResult;

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
        let name = self.topics.name(topic);
        self.retry("publish", || self.bus.publish(&name, key, &bytes))
            .await
    }

    /// Publishes `messages` (each `(key, message id, payload)`), in order per key, waiting once
    /// for all of them to be durable: the gateway's reports of one turn, for several
    /// portfolios, cost one round trip. A retry after a failure may publish a prefix twice;
    /// consumers are idempotent by message id. On an in-process bus each envelope also goes
    /// beside its bytes, with a copy of its payload ([`Self::publish_shared`]): the consumers
    /// take it rather than decode the bytes.
    ///
    /// # Errors
    /// As [`Self::publish`].
    pub async fn publish_keyed<T: serde::Serialize + Clone + Send + Sync + 'static>(
        &self,
        topic: Topic,
        kind: MessageType,
        messages: &[(&str, &str, &T)],
    ) -> PortResult<()> {
        let at = wall_clock();
        let share = self.bus.in_process();
        let mut shared = Vec::new();
        let mut encoded: Vec<(String, Vec<u8>)> = Vec::with_capacity(messages.len());
        for (key, id, payload) in messages {
            let id = (*id).to_owned();
            if share {
                let envelope = self.envelope(kind, id, at, key, (*payload).clone(), None);
                encoded.push(((*key).to_owned(), encode(&envelope)));
                shared.push(Some(chimera_ports::Shared::new(envelope)));
            } else {
                let bytes = self.encode_fenced(kind, id, at, key, payload, None);
                encoded.push(((*key).to_owned(), bytes));
            }
        }
        self.publish_shared(topic, &encoded, &shared).await
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
    /// encodes, kept whole to share beside its bytes ([`Self::publish_shared`]).
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
        self.publish_shared(topic, messages, &[]).await
    }

    /// As [`Self::publish_encoded`], with the envelope each message encodes beside it
    /// (`shared[i]` for `messages[i]`), which an in-process bus hands its consumers instead of
    /// making them decode the bytes ([`chimera_ports::Shared`]); other buses drop them.
    ///
    /// # Errors
    /// As [`Self::publish_encoded`].
    pub async fn publish_shared(
        &self,
        topic: Topic,
        messages: &[(String, Vec<u8>)],
        shared: &[Option<chimera_ports::Shared>],
    ) -> PortResult<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let name = self.topics.name(topic);
        self.retry("publish", || {
            self.bus.publish_batch_shared(&name, messages, shared)
        })
        .await
    }
}
