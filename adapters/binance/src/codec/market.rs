//! Market-data frames: the combined-stream envelope `{"stream": ..., "data": ...}` around
//! `depthUpdate` (spot `U`/`u`, futures also `pu`), `bookTicker` (spot sends it without `e`),
//! `trade`, `aggTrade` and `markPriceUpdate`, and the REST depth snapshot. Each becomes a
//! kernel [`MarketEvent`]; a frame that does not decode is a [`DecodeError`] with its bytes.

use super::DecodeError;
use chimera_kernel::event::{
    BookDelta, BookLevel, BookSnapshot, MarkPrice, MarketEvent, Quote, Trade,
};
use chimera_kernel::ids::{Symbol, TradeId};
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use rust_decimal::Decimal;
use serde::Deserialize;

/// `[["price", "qty"], ...]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawLevels(Vec<(String, String)>);

impl RawLevels {
    fn levels(&self) -> Result<Vec<BookLevel>, String> {
        self.0
            .iter()
            .map(|(p, q)| {
                let price = p
                    .parse::<Decimal>()
                    .map_err(|e| format!("level price `{p}`: {e}"))?;
                let qty = q
                    .parse::<Decimal>()
                    .map_err(|e| format!("level qty `{q}`: {e}"))?;
                Ok(BookLevel {
                    price: Price::new(price).map_err(|e| format!("level price `{p}`: {e}"))?,
                    qty: Quantity::new(qty).map_err(|e| format!("level qty `{q}`: {e}"))?,
                })
            })
            .collect()
    }
}

/// The REST depth snapshot (`GET /api/v3/depth`, `GET /fapi/v1/depth`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepthSnapshot {
    /// The last update id the snapshot includes.
    pub last_update_id: u64,
    /// Futures: message output time.
    #[serde(default, rename = "E")]
    pub event_time: Option<i64>,
    /// Bids, best first.
    pub bids: RawLevels,
    /// Asks, best first.
    pub asks: RawLevels,
}

impl DepthSnapshot {
    /// The snapshot as a kernel event for `symbol`, stamped `now` unless it carries a time.
    ///
    /// # Errors
    /// A price or quantity that is not a valid decimal.
    pub fn to_event(&self, symbol: &str, now: i64) -> Result<BookSnapshot, String> {
        Ok(BookSnapshot {
            symbol: Symbol::new(symbol),
            ts: Timestamp(self.event_time.unwrap_or(now)),
            last_update_id: self.last_update_id,
            bids: self.bids.levels()?,
            asks: self.asks.levels()?,
        })
    }
}

#[derive(Deserialize)]
#[allow(
    non_snake_case,
    reason = "Binance's one-letter field names differ only by case"
)]
struct Frame {
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    E: Option<i64>,
    #[serde(default)]
    T: Option<i64>,
    s: String,
    #[serde(default)]
    U: Option<u64>,
    #[serde(default)]
    u: Option<u64>,
    #[serde(default)]
    pu: Option<u64>,
    #[serde(default)]
    b: Option<serde_json::Value>,
    #[serde(default)]
    a: Option<serde_json::Value>,
    #[serde(default)]
    B: Option<String>,
    #[serde(default)]
    A: Option<String>,
    #[serde(default)]
    p: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    t: Option<u64>,
    #[serde(default)]
    m: Option<bool>,
    #[serde(default)]
    r: Option<String>,
}

/// What a stream frame carried.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A market event.
    Market(MarketEvent),
    /// A futures mark-price update: the mark event plus the funding rate it announces and
    /// when that rate settles.
    Mark {
        /// The mark.
        mark: MarkPrice,
        /// The announced rate.
        rate: Decimal,
        /// When it settles (epoch ms).
        next_funding_ms: i64,
    },
    /// A reply to a subscribe request, or a frame of a kind the connector does not use.
    Ignored,
}

fn dec(field: &str, text: Option<&str>) -> Result<Decimal, String> {
    let text = text.ok_or_else(|| format!("`{field}` missing"))?;
    text.parse::<Decimal>()
        .map_err(|e| format!("`{field}` = `{text}`: {e}"))
}

fn price(field: &str, text: Option<&str>) -> Result<Price, String> {
    Price::new(dec(field, text)?).map_err(|e| format!("`{field}`: {e}"))
}

fn qty(field: &str, text: Option<&str>) -> Result<Quantity, String> {
    Quantity::new(dec(field, text)?).map_err(|e| format!("`{field}`: {e}"))
}

fn levels(field: &str, value: Option<&serde_json::Value>) -> Result<Vec<BookLevel>, String> {
    let value = value.ok_or_else(|| format!("`{field}` missing"))?;
    let raw: RawLevels =
        serde_json::from_value(value.clone()).map_err(|e| format!("`{field}`: {e}"))?;
    raw.levels()
}

/// Decodes one stream message (combined envelope or raw).
///
/// # Errors
/// [`DecodeError`] with the frame's bytes.
pub fn decode_frame(bytes: &[u8]) -> Result<StreamItem, DecodeError> {
    let fail = |message: String| DecodeError {
        what: "market-data frame".to_owned(),
        message,
        bytes: bytes.to_vec(),
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))?;
    let stream = value
        .get("stream")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    if stream.is_some() {
        value = value
            .get_mut("data")
            .map(serde_json::Value::take)
            .ok_or_else(|| fail("combined frame without `data`".to_owned()))?;
    }
    // A subscription reply `{"result": null, "id": 1}`.
    if value.get("result").is_some() || value.get("id").is_some() && value.get("s").is_none() {
        return Ok(StreamItem::Ignored);
    }
    let frame: Frame = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
    frame_item(&frame, stream.as_deref()).map_err(fail)
}

fn frame_item(f: &Frame, stream: Option<&str>) -> Result<StreamItem, String> {
    let symbol = Symbol::new(&f.s);
    let ts = Timestamp(f.E.or(f.T).unwrap_or(0));
    let kind = f.e.as_deref().unwrap_or_else(|| {
        // Spot bookTicker frames carry no `e`.
        if stream.is_some_and(|s| s.ends_with("@bookTicker")) || f.B.is_some() {
            "bookTicker"
        } else {
            ""
        }
    });
    let item = match kind {
        "depthUpdate" => MarketEvent::BookDelta(BookDelta {
            symbol,
            ts,
            first_update_id: f.U.ok_or("`U` missing")?,
            final_update_id: f.u.ok_or("`u` missing")?,
            prev_final_update_id: f.pu,
            bids: levels("b", f.b.as_ref())?,
            asks: levels("a", f.a.as_ref())?,
        }),
        "bookTicker" => MarketEvent::Quote(Quote {
            symbol,
            ts,
            bid: price("b", f.b.as_ref().and_then(serde_json::Value::as_str))?,
            bid_qty: qty("B", f.B.as_deref())?,
            ask: price("a", f.a.as_ref().and_then(serde_json::Value::as_str))?,
            ask_qty: qty("A", f.A.as_deref())?,
            update_id: f.u,
        }),
        "trade" | "aggTrade" => MarketEvent::Trade(Trade {
            symbol,
            ts: Timestamp(f.T.or(f.E).unwrap_or(0)),
            price: price("p", f.p.as_deref())?,
            qty: qty("q", f.q.as_deref())?,
            aggressor: f.m.map(|buyer_is_maker| {
                if buyer_is_maker {
                    Side::Sell
                } else {
                    Side::Buy
                }
            }),
            trade_id: f.t.map(|t| TradeId::new(t.to_string())),
        }),
        "markPriceUpdate" => {
            return Ok(StreamItem::Mark {
                mark: MarkPrice {
                    symbol,
                    ts,
                    mark: price("p", f.p.as_deref())?,
                },
                rate: dec("r", f.r.as_deref()).unwrap_or_default(),
                next_funding_ms: f.T.unwrap_or(0),
            })
        }
        _ => return Ok(StreamItem::Ignored),
    };
    Ok(StreamItem::Market(item))
}
