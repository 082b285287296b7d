//! Decoding a [`MarketEvent`] with its `"type"` read first ([`crate::tagged`]): serde's
//! derived decoder copied every event into an intermediate tree to find its tag, which cost a
//! node's router about a tenth of its time.

use super::market::{Bar, BookDelta, BookSnapshot, FundingRate, MarkPrice, Quote, Trade};
use super::MarketEvent;
use serde::{Deserialize, Deserializer};

/// The values of `"type"`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Trade,
    Quote,
    BookSnapshot,
    BookDelta,
    Bar,
    Funding,
    MarkPrice,
}

impl crate::tagged::TagFirst for MarketEvent {
    const TAG: &'static str = "type";
    const EXPECTING: &'static str = "a market event: an object with its kind in \"type\"";
    type Kind = Kind;

    fn read<'de, D: Deserializer<'de>>(kind: Kind, fields: D) -> Result<Self, D::Error> {
        Ok(match kind {
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

impl<'de> Deserialize<'de> for MarketEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::tagged::deserialize(deserializer)
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
