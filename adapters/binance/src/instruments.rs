//! exchangeInfo → kernel [`Instrument`]s: tick and price range from `PRICE_FILTER`, lot and
//! maximum from `LOT_SIZE`, market step and maximum from `MARKET_LOT_SIZE`, minimum notional
//! from `NOTIONAL` (spot) or `MIN_NOTIONAL.notional` (futures), the price band from
//! `PERCENT_PRICE` (futures) or `PERCENT_PRICE_BY_SIDE` (spot: the tighter side's). A bound of
//! 0 means none. Symbols not
//! `TRADING`, and futures that are not perpetuals, are left out.

use crate::codec::rest::{ExchangeInfo, Filter, SymbolInfo};
use crate::config::Product;
use chimera_kernel::ids::Asset;
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::value::{Notional, Price, Quantity};
use rust_decimal::Decimal;

/// The tradable instruments of an exchangeInfo answer.
pub fn instruments_from(product: Product, info: &ExchangeInfo) -> Vec<Instrument> {
    info.symbols
        .iter()
        .filter(|s| s.status == "TRADING")
        .filter(|s| product == Product::Spot || s.contract_type.as_deref() == Some("PERPETUAL"))
        .filter_map(|s| instrument(product, s))
        .collect()
}

fn instrument(product: Product, s: &SymbolInfo) -> Option<Instrument> {
    let kind = match product {
        Product::Spot => MarketKind::Spot,
        Product::Usdm => MarketKind::Perp,
    };
    let mut i = Instrument::linear(&s.symbol, &s.quote_asset, kind).ok()?;
    i.base = Asset::new(&s.base_asset);
    let positive = |d: Decimal| (d > Decimal::ZERO).then_some(d);
    for f in &s.filters {
        match f {
            Filter::PriceFilter {
                tick_size,
                min_price,
                max_price,
            } => {
                i.tick_size = Price::new(*tick_size).ok()?;
                i.limits.min_price = positive(*min_price).and_then(|p| Price::new(p).ok());
                i.limits.max_price = positive(*max_price).and_then(|p| Price::new(p).ok());
            }
            Filter::LotSize {
                step_size, max_qty, ..
            } => {
                i.lot_size = Quantity::new(*step_size).ok()?;
                i.limits.max_qty = positive(*max_qty).and_then(|q| Quantity::new(q).ok());
            }
            Filter::MarketLotSize {
                step_size, max_qty, ..
            } => {
                i.limits.market_lot = positive(*step_size).and_then(|q| Quantity::new(q).ok());
                i.limits.market_max_qty = positive(*max_qty).and_then(|q| Quantity::new(q).ok());
            }
            Filter::Notional { min_notional, .. } => {
                i.min_notional = Notional::new(*min_notional).ok()?;
            }
            Filter::MinNotional {
                min_notional,
                notional,
            } => {
                if let Some(n) = notional.or(*min_notional) {
                    i.min_notional = Notional::new(n).ok()?;
                }
            }
            Filter::PercentPrice {
                multiplier_up,
                multiplier_down,
            } => {
                i.limits.percent_up = positive(*multiplier_up);
                i.limits.percent_down = positive(*multiplier_down);
            }
            Filter::PercentPriceBySide {
                bid_multiplier_up,
                bid_multiplier_down,
                ask_multiplier_up,
                ask_multiplier_down,
            } => {
                // One band for both sides: the tighter of the two.
                i.limits.percent_up = positive((*bid_multiplier_up).min(*ask_multiplier_up));
                i.limits.percent_down = positive((*bid_multiplier_down).max(*ask_multiplier_down));
            }
            Filter::Other => {}
        }
    }
    Some(i)
}
