//! Names and identifiers: [`Symbol`], [`Asset`], [`PortfolioId`], [`IntentId`],
//! [`ClientOrderId`], [`VenueOrderId`], [`TradeId`], [`SignalId`], [`Tag`].
//!
//! All are cheap-to-clone shared strings (`Arc<str>`), compared by content, serialised as plain
//! JSON strings. Identifiers the kernel generates itself (intent and client order ids) are
//! derived deterministically from the portfolio id and a sequence number, so a replay produces
//! the same ids, which is what makes them usable as idempotency keys.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl<'de> Deserialize<'de> for $name {
            /// Read in place: serde's own `Arc<str>` reads a `String` first, then copies it.
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::value::from_text(deserializer, stringify!($name), |text| {
                    Ok::<_, std::convert::Infallible>(Self::new(text))
                })
            }
        }

        impl PartialEq for $name {
            #[inline]
            fn eq(&self, other: &Self) -> bool {
                // Clones share the allocation: compare pointers before contents.
                Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
            }
        }

        impl std::hash::Hash for $name {
            #[inline]
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                // Must agree with `eq`: equal contents hash equally, whatever the allocation.
                self.0.hash(state);
            }
        }

        impl Ord for $name {
            #[inline]
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                if Arc::ptr_eq(&self.0, &other.0) {
                    std::cmp::Ordering::Equal
                } else {
                    self.0.cmp(&other.0)
                }
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// Wraps a string.
            pub fn new(value: impl AsRef<str>) -> Self {
                Self(Arc::from(value.as_ref()))
            }

            /// The string itself.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An instrument's trading symbol as the venue spells it, e.g. `BTCUSDT`.
    Symbol
);
string_id!(
    /// An asset / currency code, e.g. `BTC`, `USDT`.
    Asset
);
string_id!(
    /// A portfolio's stable identifier.
    PortfolioId
);
string_id!(
    /// The idempotency key of an order intent (or of one slice of an execution algorithm).
    /// Replaying an intent with the same id never creates a second order.
    IntentId
);
string_id!(
    /// The exchange-level idempotency key of an order, chosen by us.
    ClientOrderId
);
string_id!(
    /// The venue's own order identifier.
    VenueOrderId
);
string_id!(
    /// The venue's trade (execution) identifier; unique per fill on a venue.
    TradeId
);
string_id!(
    /// The idempotency key of a strategy signal.
    SignalId
);
string_id!(
    /// A strategy's own label on an order or a signal (`entry`, `close`, `cross_up`, ...), for
    /// reports and queries. Owned, so a strategy may build it at run time.
    Tag
);

/// The parts of `prefix` followed by `n`, in one allocation and without the formatting
/// machinery (ids are minted per order and per fill).
pub fn numbered(prefix: &[&str], n: u64) -> String {
    let mut out = String::with_capacity(prefix.iter().map(|p| p.len()).sum::<usize>() + 20);
    for part in prefix {
        out.push_str(part);
    }
    crate::value::write_integer(&mut out, i64::try_from(n).unwrap_or(i64::MAX));
    out
}

impl IntentId {
    /// The deterministic intent id for the `seq`-th intent of a portfolio: `<portfolio>-<seq>`.
    pub fn for_portfolio(portfolio: &PortfolioId, seq: u64) -> Self {
        Self::new(numbered(&[portfolio.as_str(), "-"], seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable() {
        let intent = IntentId::for_portfolio(&PortfolioId::new("p1"), 42);
        assert_eq!(intent.as_str(), "p1-42");
        assert_eq!(ClientOrderId::for_intent(&intent).as_str(), "c-p1-42");
        assert_eq!(numbered(&["sim-t-"], 7), "sim-t-7");
        assert_eq!(numbered(&["c-p1-42", "."], 12), "c-p1-42.12");
    }

    #[test]
    fn equality_and_hash_follow_contents() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let (a, b) = (Symbol::new("BTCUSDT"), Symbol::new("BTCUSDT"));
        assert_eq!(a, b);
        let h = BuildHasherDefault::<FxHasher>::default();
        assert_eq!(h.hash_one(&a), h.hash_one(&b));
        assert!(Symbol::new("A") < Symbol::new("B"));
    }
}

/// A fast, non-cryptographic hasher (the multiply-rotate scheme of rustc's `FxHasher`) for the
/// small, trusted key sets of hot maps (symbols, portfolio ids). Not DoS-resistant: never key it
/// with data an attacker chooses in bulk.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl std::hash::Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` with [`FxHasher`], for hot maps keyed by ids.
pub type FastMap<K, V> = std::collections::HashMap<K, V, std::hash::BuildHasherDefault<FxHasher>>;
