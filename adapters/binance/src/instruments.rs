//! exchangeInfo → kernel [`Instrument`]s: tick from `PRICE_FILTER`, lot from `LOT_SIZE`,
//! minimum notional from `NOTIONAL` (spot) or `MIN_NOTIONAL.notional` (futures). Symbols not
//! `TRADING`, and futures that are not perpetuals, are left out.

use crate::codec::rest::{ExchangeInfo, Filter, SymbolInfo};
use crate::config::Product;
use chimera_kernel::ids::Asset;
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::value::{Notional, Price, Quantity};

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
    for f in &s.filters {
        match f {
            Filter::PriceFilter { tick_size, .. } => i.tick_size = Price::new(*tick_size).ok()?,
            Filter::LotSize { step_size, .. } => i.lot_size = Quantity::new(*step_size).ok()?,
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
            _ => {}
        }
    }
    Some(i)
}
