//! Decoding an [`OrderKind`] with its `"type"` read first ([`crate::tagged`]): every order
//! intent carries one, and serde's derived decoder for an internally tagged enum copied the
//! kind's fields into an intermediate tree first (one allocation per intent, on the
//! gateway's path to each order). The variants' fields are read through one struct per shape;
//! what is accepted and refused is the derived decoder's, as the tests below check against it.

use super::{OrderKind, TrailingKind, TriggerSource};
use crate::value::Price;
use serde::{Deserialize, Deserializer};

/// The tag's values.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum KindTag {
    Market,
    Limit,
    StopMarket,
    StopLimit,
    TakeProfitMarket,
    TakeProfitLimit,
    TrailingStop,
}

/// A market order has no fields (others are ignored, as the derived decoder did).
#[derive(Deserialize)]
struct NoFields {}

#[derive(Deserialize)]
struct LimitFields {
    price: Price,
    post_only: bool,
}

#[derive(Deserialize)]
struct StopFields {
    stop_price: Price,
    #[serde(default)]
    trigger: TriggerSource,
}

#[derive(Deserialize)]
struct StopLimitFields {
    stop_price: Price,
    price: Price,
    #[serde(default)]
    trigger: TriggerSource,
}

#[derive(Deserialize)]
struct TrailingFields {
    flavour: TrailingKind,
    delta_bips: u32,
    activation: Option<Price>,
    price: Option<Price>,
    #[serde(default)]
    trigger: TriggerSource,
}

impl crate::tagged::TagFirst for OrderKind {
    const TAG: &'static str = "type";
    const EXPECTING: &'static str = "an order kind: an object with its type in \"type\"";
    type Kind = KindTag;

    fn read<'de, D: Deserializer<'de>>(kind: KindTag, fields: D) -> Result<Self, D::Error> {
        Ok(match kind {
            KindTag::Market => {
                NoFields::deserialize(fields)?;
                OrderKind::Market
            }
            KindTag::Limit => {
                let LimitFields { price, post_only } = LimitFields::deserialize(fields)?;
                OrderKind::Limit { price, post_only }
            }
            KindTag::StopMarket => {
                let StopFields {
                    stop_price,
                    trigger,
                } = StopFields::deserialize(fields)?;
                OrderKind::StopMarket {
                    stop_price,
                    trigger,
                }
            }
            KindTag::TakeProfitMarket => {
                let StopFields {
                    stop_price,
                    trigger,
                } = StopFields::deserialize(fields)?;
                OrderKind::TakeProfitMarket {
                    stop_price,
                    trigger,
                }
            }
            KindTag::StopLimit => {
                let f = StopLimitFields::deserialize(fields)?;
                OrderKind::StopLimit {
                    stop_price: f.stop_price,
                    price: f.price,
                    trigger: f.trigger,
                }
            }
            KindTag::TakeProfitLimit => {
                let f = StopLimitFields::deserialize(fields)?;
                OrderKind::TakeProfitLimit {
                    stop_price: f.stop_price,
                    price: f.price,
                    trigger: f.trigger,
                }
            }
            KindTag::TrailingStop => {
                let f = TrailingFields::deserialize(fields)?;
                OrderKind::TrailingStop {
                    flavour: f.flavour,
                    delta_bips: f.delta_bips,
                    activation: f.activation,
                    price: f.price,
                    trigger: f.trigger,
                }
            }
        })
    }
}

impl<'de> Deserialize<'de> for OrderKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::tagged::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::{OrderKind, TrailingKind, TriggerSource};
    use crate::value::Price;
    use serde::Deserialize;

    /// serde's derived decoder for the same enum: what the tag-first one must agree with.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Derived {
        Market,
        Limit {
            price: Price,
            post_only: bool,
        },
        StopMarket {
            stop_price: Price,
            #[serde(default)]
            trigger: TriggerSource,
        },
        StopLimit {
            stop_price: Price,
            price: Price,
            #[serde(default)]
            trigger: TriggerSource,
        },
        TakeProfitMarket {
            stop_price: Price,
            #[serde(default)]
            trigger: TriggerSource,
        },
        TakeProfitLimit {
            stop_price: Price,
            price: Price,
            #[serde(default)]
            trigger: TriggerSource,
        },
        TrailingStop {
            flavour: TrailingKind,
            delta_bips: u32,
            activation: Option<Price>,
            price: Option<Price>,
            #[serde(default)]
            trigger: TriggerSource,
        },
    }

    impl From<Derived> for OrderKind {
        fn from(d: Derived) -> Self {
            match d {
                Derived::Market => OrderKind::Market,
                Derived::Limit { price, post_only } => OrderKind::Limit { price, post_only },
                Derived::StopMarket {
                    stop_price,
                    trigger,
                } => OrderKind::StopMarket {
                    stop_price,
                    trigger,
                },
                Derived::StopLimit {
                    stop_price,
                    price,
                    trigger,
                } => OrderKind::StopLimit {
                    stop_price,
                    price,
                    trigger,
                },
                Derived::TakeProfitMarket {
                    stop_price,
                    trigger,
                } => OrderKind::TakeProfitMarket {
                    stop_price,
                    trigger,
                },
                Derived::TakeProfitLimit {
                    stop_price,
                    price,
                    trigger,
                } => OrderKind::TakeProfitLimit {
                    stop_price,
                    price,
                    trigger,
                },
                Derived::TrailingStop {
                    flavour,
                    delta_bips,
                    activation,
                    price,
                    trigger,
                } => OrderKind::TrailingStop {
                    flavour,
                    delta_bips,
                    activation,
                    price,
                    trigger,
                },
            }
        }
    }

    #[test]
    fn agrees_with_the_derived_decoder_on_good_and_bad_input() {
        let inputs = [
            r#"{"type":"market"}"#,
            r#"{"type":"market","price":"1"}"#,
            r#"{"type":"limit","price":"40000.5","post_only":true}"#,
            r#"{"price":"40000.5","type":"limit","post_only":false}"#,
            r#"{"type":"stop_market","stop_price":"39000"}"#,
            r#"{"type":"stop_market","stop_price":"39000","trigger":"mark"}"#,
            r#"{"type":"stop_limit","stop_price":"39000","price":"38900","trigger":"last"}"#,
            r#"{"type":"take_profit_market","stop_price":"41000"}"#,
            r#"{"type":"take_profit_limit","stop_price":"41000","price":"41100"}"#,
            r#"{"type":"trailing_stop","flavour":"stop_loss","delta_bips":50,"activation":null,"price":null}"#,
            r#"{"type":"trailing_stop","flavour":"take_profit","delta_bips":10,"activation":"42000","price":"41900","trigger":"mark"}"#,
            r#"{"type":"trailing_stop","flavour":"stop_loss","delta_bips":50}"#,
            r#"{"type":"limit","price":"-1","post_only":true}"#,
            r#"{"type":"limit","price":"40000.5"}"#,
            r#"{"type":"limit","price":40000,"post_only":true}"#,
            r#"{"type":"stop_market","stop_price":"1","trigger":"index"}"#,
            r#"{"type":"iceberg"}"#,
            r#"{"price":"1"}"#,
            r#""market""#,
            r"{}",
        ];
        for json in inputs {
            let ours = serde_json::from_str::<OrderKind>(json);
            let derived = serde_json::from_str::<Derived>(json).map(OrderKind::from);
            match (&ours, &derived) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{json}"),
                (Err(_), Err(_)) => {}
                _ => panic!("{json}: ours {ours:?}, derived {derived:?}"),
            }
            // Written tag first, read back.
            if let Ok(kind) = ours {
                let text = serde_json::to_string(&kind).unwrap_or_default();
                assert!(text.starts_with(r#"{"type":"#), "{text}");
                assert_eq!(serde_json::from_str::<OrderKind>(&text).ok(), Some(kind));
            }
        }
    }
}
