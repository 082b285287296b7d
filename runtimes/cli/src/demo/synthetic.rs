//! Seeded synthetic one-minute bars (and 8-hourly funding for perpetuals).
//!
//! A geometric random walk whose drift and volatility switch regime every few hours, so trend
//! strategies see both trends and chop. Floats are used only to *generate* prices; every price
//! is then rounded to the instrument's tick as an exact decimal.

use chimera_kernel::event::{Bar, FundingRate, MarketEvent};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::rng::SeededRng;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Quantity;
use chimera_kernel::Decimal;

const MINUTE_MS: i64 = 60_000;
const FUNDING_EVERY_MINUTES: u32 = 480;
/// 2024-01-01T00:00:00Z.
pub(crate) const START_MS: i64 = 1_704_067_200_000;

fn decimal(x: f64, dp: u32) -> Decimal {
    let scaled = (x * 10_f64.powi(dp as i32)).round();
    Decimal::new(scaled as i64, dp)
}

/// All events for one instrument, in time order.
pub(crate) fn series(
    instrument: &Instrument,
    start_price: f64,
    minutes: u32,
    seed: u64,
) -> Vec<MarketEvent> {
    let mut rng = SeededRng::new(seed);
    let mut price = start_price;
    let (mut drift, mut vol) = (0.0, 0.001);
    let mut events = Vec::with_capacity(
        minutes as usize + minutes as usize / FUNDING_EVERY_MINUTES as usize + 1,
    );
    for minute in 0..minutes {
        if minute % 240 == 0 {
            drift = (rng.next_f64() - 0.5) * 0.0002;
            vol = 0.0005 + rng.next_f64() * 0.0015;
        }
        let ts = Timestamp(START_MS + i64::from(minute) * MINUTE_MS);
        let open = price;
        let mut high = open;
        let mut low = open;
        for _ in 0..4 {
            price *= (drift / 4.0 + vol / 2.0 * rng.next_gaussian()).exp();
            high = high.max(price);
            low = low.min(price);
        }
        let tick = |x: f64| instrument.round_price(decimal(x, 8));
        let volume =
            Quantity::new(decimal(50.0 + rng.next_f64() * 500.0, 3)).unwrap_or(Quantity::ZERO);
        let (open_p, close_p) = (tick(open), tick(price));
        let bar = Bar {
            symbol: instrument.symbol.clone(),
            ts,
            open: open_p,
            high: tick(high).max(open_p).max(close_p),
            low: tick(low).min(open_p).min(close_p),
            close: close_p,
            volume,
        };
        let close = bar.close;
        events.push(MarketEvent::Bar(bar));
        if instrument.kind == MarketKind::Perp && minute > 0 && minute % FUNDING_EVERY_MINUTES == 0
        {
            let rate = decimal((rng.next_f64() - 0.35) * 0.0003, 6);
            events.push(MarketEvent::Funding(FundingRate {
                symbol: instrument.symbol.clone(),
                ts,
                rate,
                mark_price: close,
            }));
        }
    }
    events
}

/// Merges per-symbol series into one stream ordered by time (stable across symbols).
pub(crate) fn merge(mut all: Vec<Vec<MarketEvent>>) -> Vec<MarketEvent> {
    let mut merged: Vec<MarketEvent> = all.iter_mut().flat_map(std::mem::take).collect();
    merged.sort_by_key(MarketEvent::ts);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_market_and_bars_are_consistent() {
        let btc = Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).unwrap();
        let a = series(&btc, 42_000.0, 1_000, 3);
        assert_eq!(a, series(&btc, 42_000.0, 1_000, 3));
        assert_ne!(a, series(&btc, 42_000.0, 1_000, 4));
        assert_eq!(
            a.iter()
                .filter(|e| matches!(e, MarketEvent::Funding(_)))
                .count(),
            2
        );
        for e in &a {
            if let MarketEvent::Bar(b) = e {
                assert!(
                    b.low <= b.open && b.low <= b.close && b.high >= b.open && b.high >= b.close
                );
            }
        }
    }
}
