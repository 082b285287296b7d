//! One side of an L2 book: price levels ordered by an integer key, so the searches a busy
//! feed makes on every update compare two machine words instead of two decimals of possibly
//! different scales. The key is the price in units of 10⁻¹⁸ (market prices never carry more
//! decimals; beyond that, prices are ordered by their first 18 decimals). The level keeps its
//! exact [`Price`]. Serialised as before, a map from price to size.

use super::market::BookLevel;
use crate::value::{Price, Quantity};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// The ordering key of a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key(i128);

const KEY_SCALE: u32 = 18;

impl Key {
    fn of(price: Price) -> Self {
        let d = price.get();
        let mantissa = d.mantissa();
        let scale = d.scale();
        Key(if scale <= KEY_SCALE {
            mantissa.saturating_mul(10_i128.pow(KEY_SCALE - scale))
        } else {
            mantissa / 10_i128.pow(scale - KEY_SCALE)
        })
    }
}

/// Price levels of one side, lowest price first.
#[derive(Debug, Clone, Default)]
pub(super) struct Levels(BTreeMap<Key, BookLevel>);

impl Levels {
    pub(super) fn from_levels(levels: &[BookLevel]) -> Self {
        Levels(levels.iter().map(|l| (Key::of(l.price), *l)).collect())
    }

    /// Sets a level's size; zero deletes it.
    #[inline]
    pub(super) fn set(&mut self, level: &BookLevel) {
        if level.qty.is_zero() {
            self.0.remove(&Key::of(level.price));
        } else {
            self.0.insert(Key::of(level.price), *level);
        }
    }

    pub(super) fn get(&self, price: Price) -> Quantity {
        self.0
            .get(&Key::of(price))
            .map_or(Quantity::ZERO, |l| l.qty)
    }

    pub(super) fn get_mut(&mut self, price: Price) -> Option<&mut Quantity> {
        self.0.get_mut(&Key::of(price)).map(|l| &mut l.qty)
    }

    pub(super) fn remove(&mut self, price: Price) {
        self.0.remove(&Key::of(price));
    }

    /// Removes every level priced above `price`.
    pub(super) fn remove_above(&mut self, price: Price) {
        let key = Key::of(price);
        if self.0.last_key_value().is_some_and(|(k, _)| *k > key) {
            let _ = self.0.split_off(&Key(key.0.saturating_add(1)));
        }
    }

    /// Removes every level priced below `price`.
    pub(super) fn remove_below(&mut self, price: Price) {
        let key = Key::of(price);
        if self.0.first_key_value().is_some_and(|(k, _)| *k < key) {
            self.0 = self.0.split_off(&key);
        }
    }

    /// Lowest price first.
    pub(super) fn ascending(&self) -> impl DoubleEndedIterator<Item = BookLevel> + '_ {
        self.0.values().copied()
    }
}

impl Serialize for Levels {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.values().map(|l| (l.price, l.qty)))
    }
}

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<Price, Quantity>::deserialize(deserializer)?;
        Ok(Levels(
            map.into_iter()
                .map(|(price, qty)| (Key::of(price), BookLevel { price, qty }))
                .collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn p(text: &str) -> Price {
        Price::new(text.parse::<Decimal>().unwrap()).unwrap()
    }

    #[test]
    fn keys_order_like_prices_whatever_the_scale() {
        let prices = [
            "0.000000001",
            "0.5",
            "0.50001",
            "1",
            "1.0",
            "99.99",
            "100",
            "61650.10",
        ];
        for a in prices {
            for b in prices {
                assert_eq!(
                    Key::of(p(a)).cmp(&Key::of(p(b))),
                    p(a).cmp(&p(b)),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn serialises_as_a_price_to_size_map() {
        let levels = Levels::from_levels(&[BookLevel {
            price: p("100.5"),
            qty: Quantity::new(Decimal::ONE).unwrap(),
        }]);
        let json = serde_json::to_string(&levels).unwrap();
        assert_eq!(json, r#"{"100.5":"1"}"#);
        let back: Levels = serde_json::from_str(&json).unwrap();
        assert_eq!(back.get(p("100.50")), Quantity::new(Decimal::ONE).unwrap());
    }

    proptest::proptest! {
        /// The levels keep exactly what an ordered map of prices would.
        #[test]
        fn behaves_like_an_ordered_map(ops in proptest::collection::vec((0_u8..4, 1_i64..60, 0_i64..4), 1..200)) {
            let mut levels = Levels::default();
            let mut model: BTreeMap<Price, Quantity> = BTreeMap::new();
            for (op, tick, q) in ops {
                let price = Price::new(Decimal::new(tick, 1)).unwrap();
                match op {
                    0 | 1 => {
                        let level = BookLevel { price, qty: Quantity::new(Decimal::from(q)).unwrap() };
                        levels.set(&level);
                        if q == 0 { model.remove(&price); } else { model.insert(price, level.qty); }
                    }
                    2 => {
                        levels.remove_above(price);
                        model.retain(|p, _| *p <= price);
                    }
                    _ => {
                        levels.remove_below(price);
                        model.retain(|p, _| *p >= price);
                    }
                }
                let want: Vec<(Price, Quantity)> = model.iter().map(|(p, q)| (*p, *q)).collect();
                let got: Vec<(Price, Quantity)> = levels.ascending().map(|l| (l.price, l.qty)).collect();
                proptest::prop_assert_eq!(got, want);
            }
        }
    }
}
