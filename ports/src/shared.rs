//! What an in-process bus carries beside (or instead of) a message's bytes: the value the
//! bytes encode ([`Shared`]), a value whose bytes are made only when someone reads them
//! ([`Deferred`]), and the payload a delivery hands out, ready or deferred ([`Payload`]).
//!
//! Why deferred: in `chimera up` every consumer of market data, order commands and execution
//! reports takes the shared value, so the bytes of those messages were made and never read.
//! Encoding them was about a third of the gateway's work per order (two reports of ~450 bytes
//! of JSON) and most of the node's publish, on the one thread that carries tick-to-order and
//! order-to-fill. A deferred message is encoded at most once, by whoever first reads its bytes
//! (a dead letter, a consumer in another thread, a redelivery), and never when nobody does.

use bytes::Bytes;
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// The value behind a [`Shared`]: any `Send + Sync` value, with bytes made on demand when it
/// came with an encoder.
trait SharedValue: Send + Sync {
    fn value(&self) -> &dyn Any;
    /// The value's bytes (made at the first call), or `None` when it has no encoder.
    fn encoded(&self) -> Option<&Bytes>;
    /// Whether [`Self::encoded`] has made the bytes already (without making them).
    fn encoded_yet(&self) -> bool;
}

struct Plain<T>(T);

impl<T: Any + Send + Sync> SharedValue for Plain<T> {
    fn value(&self) -> &dyn Any {
        &self.0
    }

    fn encoded(&self) -> Option<&Bytes> {
        None
    }

    fn encoded_yet(&self) -> bool {
        false
    }
}

struct Encodable<T> {
    value: T,
    encode: fn(&T) -> Vec<u8>,
    bytes: OnceLock<Bytes>,
}

impl<T: Any + Send + Sync> SharedValue for Encodable<T> {
    fn value(&self) -> &dyn Any {
        &self.value
    }

    fn encoded(&self) -> Option<&Bytes> {
        Some(
            self.bytes
                .get_or_init(|| Bytes::from((self.encode)(&self.value))),
        )
    }

    fn encoded_yet(&self) -> bool {
        self.bytes.get().is_some()
    }
}

/// A message's decoded value, kept by an in-process bus beside its bytes
/// ([`crate::Delivery::shared`]).
///
/// Why: on the in-memory bus of `chimera up`, decoding a message its publisher had in hand a
/// moment before was the largest single step of an order between node and gateway (about 10 µs
/// of the gateway's 50 on a cold core). The bytes stay the contract: every bus carries them,
/// dead letters and other processes read them, and a publisher must share only the value it
/// encoded into them (or, with [`Deferred`], the value they are encoded from).
#[derive(Clone)]
pub struct Shared(Arc<dyn SharedValue>);

impl Shared {
    /// Shares `value`.
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Self(Arc::new(Plain(value)))
    }

    /// The value, if it is a `T`.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.0.value().downcast_ref()
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared(..)")
    }
}

/// The same shared value (not merely an equal one): deliveries of one message compare equal.
impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Shared {}

/// A message to publish as a value and the function that encodes it, for
/// [`crate::EventBus::publish_deferred`]: an in-process bus keeps the value and makes the
/// bytes only if a consumer reads them; any other bus encodes it as it publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deferred(Shared);

impl Deferred {
    /// `value`, to be encoded by `encode` when its bytes are first read. `encode` must be
    /// what the publisher would otherwise have published (consumers may read either).
    pub fn new<T: Any + Send + Sync>(value: T, encode: fn(&T) -> Vec<u8>) -> Self {
        Self(Shared(Arc::new(Encodable {
            value,
            encode,
            bytes: OnceLock::new(),
        })))
    }

    /// The value, shared: what a consumer finds in [`crate::Delivery::shared`].
    pub fn shared(&self) -> &Shared {
        &self.0
    }

    /// The encoded bytes (encoded at the first call, on the caller's thread).
    pub fn bytes(&self) -> &Bytes {
        // A `Deferred` is only ever made with an encoder (`Self::new`).
        static EMPTY: Bytes = Bytes::new();
        self.0 .0.encoded().unwrap_or(&EMPTY)
    }
}

/// A delivery's payload: bytes in hand, or a [`Deferred`] message's, made at the first read.
/// It reads as `&[u8]` ([`std::ops::Deref`]); cloning it is cheap either way.
#[derive(Clone)]
pub struct Payload(Repr);

#[derive(Clone)]
enum Repr {
    Ready(Bytes),
    Deferred(Deferred),
}

impl Payload {
    /// The payload of a message published deferred: its bytes are made when first read.
    pub fn deferred(message: Deferred) -> Self {
        Self(Repr::Deferred(message))
    }

    /// The bytes (encoding a deferred message now if nobody has yet), shared, not copied.
    pub fn bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Ready(bytes) => bytes.clone(),
            Repr::Deferred(message) => message.bytes().clone(),
        }
    }

    /// Whether the bytes were made (always, unless deferred and not read yet), without
    /// making them: for tests and figures.
    pub fn is_encoded(&self) -> bool {
        match &self.0 {
            Repr::Ready(_) => true,
            Repr::Deferred(message) => message.0 .0.encoded_yet(),
        }
    }
}

impl Default for Payload {
    fn default() -> Self {
        Self(Repr::Ready(Bytes::new()))
    }
}

impl std::ops::Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.0 {
            Repr::Ready(bytes) => bytes,
            Repr::Deferred(message) => message.bytes(),
        }
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Self(Repr::Ready(bytes))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Repr::Ready(Bytes::from(bytes)))
    }
}

impl From<&'static [u8]> for Payload {
    fn from(bytes: &'static [u8]) -> Self {
        Self(Repr::Ready(Bytes::from_static(bytes)))
    }
}

/// Payloads compare by their bytes (a deferred one is encoded to compare).
impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for Payload {}

impl PartialEq<[u8]> for Payload {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<&[u8]> for Payload {
    fn eq(&self, other: &&[u8]) -> bool {
        **self == **other
    }
}

impl PartialEq<Vec<u8>> for Payload {
    fn eq(&self, other: &Vec<u8>) -> bool {
        **self == other[..]
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Payload {
    fn eq(&self, other: &[u8; N]) -> bool {
        **self == other[..]
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Payload {
    fn eq(&self, other: &&[u8; N]) -> bool {
        **self == other[..]
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&Bytes::copy_from_slice(self), f)
    }
}

#[cfg(test)]
mod tests {
    use super::{Deferred, Payload, Shared};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static ENCODED: AtomicUsize = AtomicUsize::new(0);

    #[allow(
        clippy::ptr_arg,
        reason = "an encoder takes `&T` for its value type `T`"
    )]
    fn counted(n: &String) -> Vec<u8> {
        ENCODED.fetch_add(1, Ordering::SeqCst);
        n.clone().into_bytes()
    }

    #[test]
    fn a_deferred_payload_is_encoded_once_and_only_when_read() {
        let before = ENCODED.load(Ordering::SeqCst);
        let message = Deferred::new("42".to_owned(), counted);
        let payload = Payload::deferred(message.clone());
        let copy = payload.clone();
        let shared = message.shared().get::<String>().map(String::as_str);
        assert_eq!(shared, Some("42"), "the value, shared");
        assert!(!payload.is_encoded(), "nothing read, nothing encoded");
        assert_eq!(ENCODED.load(Ordering::SeqCst), before);

        assert_eq!(&payload[..], b"42");
        assert!(copy.is_encoded(), "its clones read the same bytes");
        assert_eq!(copy.bytes(), payload.bytes());
        assert_eq!(message.bytes().as_ref(), b"42");
        assert_eq!(
            ENCODED.load(Ordering::SeqCst),
            before + 1,
            "encoded once for every reader"
        );
    }

    #[test]
    fn payloads_compare_by_bytes_whatever_they_hold() {
        let deferred = Payload::deferred(Deferred::new("7".to_owned(), |s| s.clone().into_bytes()));
        assert_eq!(deferred, Payload::from(b"7".to_vec()));
        assert_eq!(deferred, b"7");
        assert_ne!(Payload::from(vec![1_u8]), Payload::default());
        assert!(Payload::from(vec![1_u8]).is_encoded());
    }

    #[test]
    fn a_plain_shared_value_is_the_same_value_not_an_equal_one() {
        let a = Shared::new(1_u8);
        assert_eq!(a, a.clone());
        assert_ne!(a, Shared::new(1_u8));
        assert_eq!(a.get::<u8>(), Some(&1));
        assert_eq!(a.get::<u16>(), None);
    }
}
