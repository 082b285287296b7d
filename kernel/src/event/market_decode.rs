//! Decoding a [`MarketEvent`] by hand. Serde's derived decoder for an internally tagged enum
//! first copies every event into an intermediate tree to find its tag, then reads the tree:
//! that cost a node's router about a tenth of its time. When the tag is the first field (as in
//! everything Chimera and serde write), the variant is known at once and its fields are read
//! straight from the input; an event whose tag comes later is still accepted, read through a
//! [`serde_json::Value`] as before.

use super::market::{Bar, BookDelta, BookSnapshot, FundingRate, MarkPrice, Quote, Trade};
use super::MarketEvent;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The values of `"type"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Trade,
    Quote,
    BookSnapshot,
    BookDelta,
    Bar,
    Funding,
    MarkPrice,
}

impl Kind {
    /// The event of this kind whose fields `fields` holds.
    fn read<'de, D: Deserializer<'de>>(self, fields: D) -> Result<MarketEvent, D::Error> {
        Ok(match self {
            Kind::Trade => MarketEvent::Trade(Trade::deserialize(fields)?),
            Kind::Quote => MarketEvent::Quote(Quote::deserialize(fields)?),
            Kind::BookSnapshot => MarketEvent::BookSnapshot(BookSnapshot::deserialize(fields)?),
            Kind::BookDelta => MarketEvent::BookDelta(BookDelta::deserialize(fields)?),
            Kind::Bar => MarketEvent::Bar(Bar::deserialize(fields)?),
            Kind::Funding => MarketEvent::Funding(FundingRate::deserialize(fields)?),
            Kind::MarkPrice => MarketEvent::MarkPrice(MarkPrice::deserialize(fields)?),
        })
    }
}

/// A key of the event's object: the tag, or another field (its name kept for the slow path).
enum Key {
    Tag,
    Field(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(if key == "type" {
                    Key::Tag
                } else {
                    Key::Field(key.to_owned())
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = MarketEvent;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a market event: an object with its kind in \"type\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MarketEvent, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Tag => {
                    let kind: Kind = map.next_value()?;
                    if fields.is_empty() {
                        // The fast path: the rest of the object is the variant's fields.
                        return kind.read(MapAccessDeserializer::new(map));
                    }
                    // Fields came before the tag: read the rest, then all of them.
                    while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
                        fields.insert(name, value);
                    }
                    return kind
                        .read(serde_json::Value::Object(fields))
                        .map_err(de::Error::custom);
                }
                Key::Field(name) => {
                    fields.insert(name, map.next_value()?);
                }
            }
        }
        Err(de::Error::missing_field("type"))
    }
}

impl<'de> Deserialize<'de> for MarketEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use rust_decimal::Decimal;

    #[test]
    fn every_kind_reads_back_what_was_written() {
        let bar = testing::bar("BTCUSDT", 3, Decimal::new(4_000_012, 2));
        let MarketEvent::Bar(b) = &bar else {
            unreachable!("testing::bar makes a bar")
        };
        let events = [
            bar.clone(),
            MarketEvent::Quote(Quote {
                symbol: b.symbol.clone(),
                ts: b.ts,
                bid: b.close,
                bid_qty: b.volume,
                ask: b.close,
                ask_qty: b.volume,
                update_id: Some(42),
            }),
            MarketEvent::MarkPrice(MarkPrice {
                symbol: b.symbol.clone(),
                ts: b.ts,
                mark: b.close,
            }),
        ];
        for event in events {
            let json = serde_json::to_string(&event).unwrap_or_default();
            assert!(
                json.starts_with("{\"type\":"),
                "the tag is written first: {json}"
            );
            let back: MarketEvent =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
            assert_eq!(back, event);
        }
    }

    #[test]
    fn a_tag_after_the_fields_is_read_too() {
        let bar = testing::bar("ETHUSDT", 7, Decimal::new(250_050, 2));
        let mut value = serde_json::to_value(&bar).unwrap_or_default();
        let tag = value
            .as_object_mut()
            .and_then(|o| o.remove("type"))
            .unwrap_or_default();
        let mut late = value.as_object().cloned().unwrap_or_default();
        late.insert("type".into(), tag);
        let json = serde_json::to_string(&late).unwrap_or_default();
        assert!(
            !json.starts_with("{\"type\""),
            "the tag is not first: {json}"
        );
        let back: MarketEvent =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(back, bar);
    }

    #[test]
    fn a_missing_or_unknown_kind_and_bad_fields_are_errors() {
        for json in [
            r#"{"symbol":"BTCUSDT"}"#,
            r#"{"type":"tick","symbol":"BTCUSDT"}"#,
            r#"{"type":"bar","symbol":"BTCUSDT"}"#,
            r#"{"symbol":"BTCUSDT","type":"bar"}"#,
            r#"["bar"]"#,
        ] {
            assert!(
                serde_json::from_str::<MarketEvent>(json).is_err(),
                "{json} is refused"
            );
        }
    }
}
