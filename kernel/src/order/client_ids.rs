//! Client order ids a venue accepts, derived from the intent: every order an intent leads to —
//! the order itself, an algorithm's slices, a bracket's legs, a re-pegged replacement — gets an
//! id computed from the intent id, the leg and its sequence, so a retried, replayed or
//! restarted intent names the same orders again and never opens a second live one.
//!
//! The ids fit the strictest venue rule we target (Binance: 1 to 36 characters of
//! `A-Z a-z 0-9 . : / _ -`). An intent id that is short and plain enough stays readable
//! (`c-<intent>`, `c-<intent>.s3`); any other (too long, a character a venue refuses, or a
//! `.` of its own, which would blur where the leg starts) is replaced by a stable 100-bit hash of it
//! (`h-<20 base-32 characters>`), computed with FNV-1a (no randomness, the same on every
//! platform and Rust version).

use crate::ids::{numbered, ClientOrderId, IntentId};

/// The longest client order id a venue accepts (Binance's limit).
pub const MAX_CLIENT_ORDER_ID: usize = 36;

/// Which order of an intent an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// The intent's one order (a plain market or limit order).
    Whole,
    /// The `n`-th child of an execution algorithm (a TWAP slice, a maker→taker attempt).
    Slice(u32),
    /// A bracket's or OCO's entry.
    Entry,
    /// A take-profit leg (the `n`-th placement of it: a resized leg is a new order).
    TakeProfit(u32),
    /// A stop leg (the `n`-th placement: a trailed stop is a new order).
    Stop(u32),
    /// The `n`-th order list (a native OCO's list id).
    List(u32),
}

impl Leg {
    /// The suffix after the intent part (`""` for [`Leg::Whole`]).
    fn suffix(self) -> String {
        match self {
            Leg::Whole => String::new(),
            Leg::Slice(n) => numbered(&[".s"], u64::from(n)),
            Leg::Entry => ".e".to_owned(),
            Leg::TakeProfit(n) => numbered(&[".t"], u64::from(n)),
            Leg::Stop(n) => numbered(&[".x"], u64::from(n)),
            Leg::List(n) => numbered(&[".l"], u64::from(n)),
        }
    }
}

/// Whether `id` is a client order id every venue we target accepts.
pub fn is_venue_safe(id: &str) -> bool {
    (1..=MAX_CLIENT_ORDER_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-'))
}

/// FNV-1a, 128 bits: stable across platforms and releases, unlike `std`'s hasher.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes.iter().fold(OFFSET, |hash, &b| {
        (hash ^ u128::from(b)).wrapping_mul(PRIME)
    })
}

/// The top 100 bits of `hash` in 20 characters of lowercase base 32.
fn base32_100(hash: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    (0..20)
        .map(|i| char::from(ALPHABET[((hash >> (123 - 5 * i)) & 0x1f) as usize]))
        .collect()
}

impl ClientOrderId {
    /// The client order id of an intent's one order (`c-<intent>`, or a stable hash when that
    /// would not be venue-safe): [`Self::for_leg`] with [`Leg::Whole`].
    pub fn for_intent(intent: &IntentId) -> Self {
        Self::for_leg(intent, Leg::Whole)
    }

    /// The id of `leg` of `intent`: `c-<intent><suffix>` when that is venue-safe, else
    /// `h-<hash of the intent><suffix>`. The same arguments always give the same id; different
    /// legs of one intent never share one.
    pub fn for_leg(intent: &IntentId, leg: Leg) -> Self {
        let suffix = leg.suffix();
        // `.` starts the leg's suffix: an intent with one of its own is hashed, so no intent's
        // readable id can be another's leg.
        if !intent.as_str().contains('.') {
            // Concatenated rather than formatted: an id is minted for every order.
            let readable = ["c-", intent.as_str(), &suffix].concat();
            if is_venue_safe(&readable) {
                return Self::new(readable);
            }
        }
        Self::new(format!(
            "h-{}{suffix}",
            base32_100(fnv1a_128(intent.as_str().as_bytes()))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PortfolioId;

    #[test]
    fn short_plain_intents_keep_readable_ids() {
        let intent = IntentId::for_portfolio(&PortfolioId::new("p1"), 42);
        assert_eq!(
            ClientOrderId::for_leg(&intent, Leg::Whole).as_str(),
            "c-p1-42"
        );
        assert_eq!(
            ClientOrderId::for_leg(&intent, Leg::Slice(3)).as_str(),
            "c-p1-42.s3"
        );
        assert_eq!(
            ClientOrderId::for_leg(&intent, Leg::Whole),
            ClientOrderId::for_intent(&intent),
            "an intent's one order keeps the id it always had"
        );
    }

    #[test]
    fn long_or_unusual_intents_are_hashed_stably() {
        let intent = IntentId::new("portfolio with spaces and a very long name-1234567");
        let id = ClientOrderId::for_leg(&intent, Leg::Stop(12));
        assert!(is_venue_safe(id.as_str()), "{id}");
        // Pinned: the hash must never change between releases (ids are stored and replayed).
        assert_eq!(id.as_str(), "h-ri62frqhdgbebhoj0c7h.x12");
        assert_eq!(fnv1a_128(b""), 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d);
        assert_eq!(fnv1a_128(b"a"), 0xd228_cb69_6f1a_8caf_7891_2b70_4e4a_8964);
    }
}
