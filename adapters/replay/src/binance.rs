//! [`BinanceCaptureReader`]: raw Binance WebSocket captures, one `<receive ns> <json>` per line.
//!
//! Understood messages: `depthUpdate` (spot and futures, with `pu` when present) →
//! [`BookDelta`]; `bookTicker` → [`Quote`] (its `u` kept as the update id); `trade` and
//! `aggTrade` → [`Trade`] (aggressor = seller when the buyer is the maker); REST depth snapshots
//! (`lastUpdateId`) → [`BookSnapshot`]; `markPriceUpdate` → [`MarkPrice`]. Event time is the
//! message's `E` (or `T`), else the local receive time. A snapshot takes its `symbol` when it
//! names one (`chimera record` writes it), else the symbol of the last message seen, else the
//! file name's prefix (`btcusdt_...` → `BTCUSDT`).
//! Other message types are skipped.

use crate::error::ReadError;
use crate::fast_decimal;
use crate::lines::Lines;
use chimera_kernel::event::{
    BookDelta, BookLevel, BookSnapshot, MarkPrice, MarketEvent, Quote, Trade,
};
use chimera_kernel::ids::{Symbol, TradeId};
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use serde::Deserialize;
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    data: Option<Data<'a>>,
    #[serde(rename = "lastUpdateId")]
    last_update_id: Option<u64>,
    #[serde(rename = "E")]
    event_time: Option<i64>,
    /// Written by `chimera record` next to a snapshot (Binance's REST answer has none).
    #[serde(borrow)]
    symbol: Option<&'a str>,
    #[serde(default)]
    bids: Levels,
    #[serde(default)]
    asks: Levels,
}

/// Price levels `[["price", "qty"], ...]`, parsed straight into [`BookLevel`]s while the JSON
/// is read: no intermediate strings, no buffering (depth messages are most of a capture).
#[derive(Default)]
struct Levels(Vec<BookLevel>);

impl<'de> Deserialize<'de> for Levels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_seq(SideVisitor)
            .and_then(|side| match side {
                SideField::Levels(levels) => Ok(levels),
                SideField::Price(_) => Err(serde::de::Error::custom("expected price levels")),
            })
    }
}

/// A depth message's `b`/`a` (price levels) or a bookTicker's `b`/`a` (one price).
enum SideField {
    Levels(Levels),
    Price(Price),
}

impl<'de> Deserialize<'de> for SideField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SideVisitor)
    }
}

struct SideVisitor;

impl<'de> serde::de::Visitor<'de> for SideVisitor {
    type Value = SideField;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a price string or a list of [price, quantity] pairs")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<SideField, E> {
        price(text, "price")
            .map(SideField::Price)
            .map_err(E::custom)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<SideField, A::Error> {
        let mut levels = Vec::with_capacity(seq.size_hint().unwrap_or(16));
        while let Some([p, q]) = seq.next_element::<[&'de str; 2]>()? {
            levels.push(BookLevel {
                price: price(p, "level price").map_err(serde::de::Error::custom)?,
                qty: quantity(q, "level quantity").map_err(serde::de::Error::custom)?,
            });
        }
        Ok(SideField::Levels(Levels(levels)))
    }
}

#[derive(Deserialize)]
#[allow(non_snake_case, reason = "field names are Binance's")]
struct Data<'a> {
    #[serde(borrow)]
    e: Option<&'a str>,
    E: Option<i64>,
    T: Option<i64>,
    #[serde(borrow)]
    s: Option<&'a str>,
    U: Option<u64>,
    u: Option<u64>,
    pu: Option<u64>,
    b: Option<SideField>,
    a: Option<SideField>,
    #[serde(borrow)]
    B: Option<&'a str>,
    #[serde(borrow, rename = "A")]
    ask_qty: Option<&'a str>,
    #[serde(borrow)]
    p: Option<&'a str>,
    #[serde(borrow)]
    q: Option<&'a str>,
    t: Option<u64>,
    m: Option<bool>,
}

/// Reads a (decompressed) Binance capture.
pub struct BinanceCaptureReader<R> {
    lines: Lines<R>,
    symbol: Option<Symbol>,
}

fn price(text: &str, what: &str) -> Result<Price, String> {
    let d = fast_decimal::parse(text).ok_or_else(|| format!("{what} `{text}` is not a number"))?;
    Price::new(d).map_err(|e| format!("{what}: {e}"))
}

fn quantity(text: &str, what: &str) -> Result<Quantity, String> {
    let d = fast_decimal::parse(text).ok_or_else(|| format!("{what} `{text}` is not a number"))?;
    Quantity::new(d).map_err(|e| format!("{what}: {e}"))
}

fn side_levels(field: Option<SideField>) -> Result<Vec<BookLevel>, String> {
    match field {
        Some(SideField::Levels(levels)) => Ok(levels.0),
        Some(SideField::Price(_)) => Err("expected price levels".into()),
        None => Ok(Vec::new()),
    }
}

fn side_price(field: Option<&SideField>, what: &str) -> Result<Price, String> {
    match field {
        Some(SideField::Price(p)) => Ok(*p),
        _ => Err(format!("missing {what}")),
    }
}

impl<R: BufRead> BinanceCaptureReader<R> {
    /// A reader of `input` (named `path` in errors).
    pub fn new(input: R, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let symbol = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split(['_', '.']).next())
            .filter(|s| !s.is_empty())
            .map(|s| Symbol::new(s.to_ascii_uppercase()));
        Self {
            lines: Lines::new(input, path),
            symbol,
        }
    }
}

/// Parses one capture line (`<receive ns> <json>`) into the event it carries, `None` for a
/// message kind not understood; `symbol` remembers the last symbol seen (snapshots carry none).
///
/// # Errors
/// The line is not `<receive ns> <json>`, or a field is missing or not a number.
pub fn parse_capture_line(
    text: &str,
    symbol_state: &mut Option<Symbol>,
) -> Result<Option<MarketEvent>, String> {
    let (recv, json) = text
        .split_once(' ')
        .ok_or("expected `<receive ns> <json>`")?;
    let recv_ns: i64 = recv
        .parse()
        .map_err(|_| format!("receive time `{recv}` is not an integer"))?;
    let recv_ts = Timestamp(recv_ns / 1_000_000);
    let line: Line<'_> = serde_json::from_str(json).map_err(|e| format!("bad JSON: {e}"))?;
    if let Some(last_update_id) = line.last_update_id {
        let symbol = match line.symbol {
            Some(named) => Symbol::new(named),
            None => symbol_state
                .clone()
                .ok_or("snapshot before any symbol is known")?,
        };
        return Ok(Some(MarketEvent::BookSnapshot(BookSnapshot {
            symbol,
            ts: line.event_time.map_or(recv_ts, Timestamp),
            last_update_id,
            bids: line.bids.0,
            asks: line.asks.0,
        })));
    }
    let Some(d) = line.data else { return Ok(None) };
    let symbol = Symbol::new(d.s.ok_or("message without symbol `s`")?);
    if symbol_state.as_ref() != Some(&symbol) {
        *symbol_state = Some(symbol.clone());
    }
    let ts = d.E.or(d.T).map_or(recv_ts, Timestamp);
    let kind = d.e.unwrap_or(if d.B.is_some() { "bookTicker" } else { "" });
    let event = match kind {
        "depthUpdate" => MarketEvent::BookDelta(BookDelta {
            symbol,
            ts,
            first_update_id: d.U.ok_or("depthUpdate without `U`")?,
            final_update_id: d.u.ok_or("depthUpdate without `u`")?,
            prev_final_update_id: d.pu,
            bids: side_levels(d.b)?,
            asks: side_levels(d.a)?,
        }),
        "bookTicker" => MarketEvent::Quote(Quote {
            symbol,
            ts,
            bid: side_price(d.b.as_ref(), "bid price")?,
            bid_qty: quantity(d.B.ok_or("missing bid size `B`")?, "bid size")?,
            ask: side_price(d.a.as_ref(), "ask price")?,
            ask_qty: quantity(d.ask_qty.ok_or("missing ask size `A`")?, "ask size")?,
            update_id: d.u,
        }),
        "trade" | "aggTrade" => MarketEvent::Trade(Trade {
            symbol,
            ts: d.T.map_or(ts, Timestamp),
            price: price(d.p.ok_or("trade without price `p`")?, "trade price")?,
            qty: quantity(d.q.ok_or("trade without quantity `q`")?, "trade quantity")?,
            aggressor: d.m.map(|buyer_is_maker| {
                if buyer_is_maker {
                    Side::Sell
                } else {
                    Side::Buy
                }
            }),
            trade_id: d.t.map(|t| TradeId::new(t.to_string())),
        }),
        "markPriceUpdate" => MarketEvent::MarkPrice(MarkPrice {
            symbol,
            ts,
            mark: price(d.p.ok_or("mark price without `p`")?, "mark price")?,
        }),
        _ => return Ok(None),
    };
    Ok(Some(event))
}

impl<R: BufRead> Iterator for BinanceCaptureReader<R> {
    type Item = Result<MarketEvent, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Err(e) = self.lines.advance()? {
                return Some(Err(e));
            }
            let parsed = match self.lines.text() {
                Ok(text) => {
                    parse_capture_line(text, &mut self.symbol).map_err(|m| self.lines.error(m))
                }
                Err(e) => Err(e),
            };
            match parsed {
                Ok(Some(event)) => return Some(Ok(event)),
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_message_kind() {
        let text = r#"1 {"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":5,"s":"BTCUSDT","U":10,"u":12,"pu":9,"b":[["100.0","1.5"]],"a":[["101.0","0.000"]]}}
2 {"stream":"btcusdt@bookTicker","data":{"u":12,"s":"BTCUSDT","b":"100.0","B":"1.5","a":"101.0","A":"2"}}
3000000 {"stream":"btcusdt@trade","data":{"e":"trade","E":7,"s":"BTCUSDT","t":99,"p":"100.5","q":"0.1","T":6,"m":true}}
4000000 {"lastUpdateId":11,"bids":[["100.0","1"]],"asks":[["101.0","1"]]}
5 {"stream":"x","data":{"e":"kline","s":"BTCUSDT"}}
6 not json
"#;
        let out: Vec<_> = BinanceCaptureReader::new(text.as_bytes(), "btcusdt_1.gz").collect();
        assert_eq!(out.len(), 5, "kline skipped");
        assert!(
            matches!(&out[0], Ok(MarketEvent::BookDelta(d)) if d.prev_final_update_id == Some(9) && d.asks[0].qty.is_zero())
        );
        assert!(
            matches!(&out[1], Ok(MarketEvent::Quote(q)) if q.update_id == Some(12) && q.ts.0 == 0)
        );
        assert!(
            matches!(&out[2], Ok(MarketEvent::Trade(t)) if t.aggressor == Some(Side::Sell) && t.ts.0 == 6)
        );
        assert!(
            matches!(&out[3], Ok(MarketEvent::BookSnapshot(s)) if s.symbol.as_str() == "BTCUSDT" && s.ts.0 == 4)
        );
        let err = out[4].as_ref().unwrap_err().to_string();
        assert!(err.contains("btcusdt_1.gz:6"), "{err}");
    }
}
