//! USDⓈ-M mark price and funding on the fake: a `markPriceUpdate` each second of replay
//! (mark = index = the book's mid, the configured rate, the next funding time), and at each
//! funding time the settlement of every open position by the matching core's accounting
//! (`−position × mark × rate`, longs pay a positive rate), recorded as `FUNDING_FEE` income
//! (`GET /fapi/v1/income`) and announced by an `ACCOUNT_UPDATE` with reason `FUNDING_FEE`.

pub use crate::records::Income;
use crate::state::Exchange;
use crate::wire::dec;
use crate::Fake;
use chimera_kernel::event::{FundingRate, MarkPrice, MarketEvent, OrderBook};
use chimera_kernel::ids::Symbol;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Price};
use rust_decimal::Decimal;
use serde_json::json;

/// The first funding time after `now` on a grid of `interval` ms.
pub fn next_funding_after(now: i64, interval: i64) -> i64 {
    let interval = interval.max(1);
    (now / interval + 1) * interval
}

/// Publishes `symbol`'s mark at wall time `now`, settling funding first if it is due.
pub(crate) fn mark_tick(fake: &Fake, symbol: &str, now: i64) {
    let mid = fake.market().book(symbol).and_then(OrderBook::mid);
    let mid = mid.or_else(|| {
        let ex = fake.exchange();
        match ex.sim.top_of_book(&Symbol::new(symbol)) {
            (Some(b), Some(a)) => Some((b.get() + a.get()) / Decimal::TWO),
            _ => None,
        }
    });
    let Some(mark) = mid.and_then(|m| Price::new(m).ok()) else {
        return;
    };
    let rate = fake.config.funding_rate;
    let interval = fake.config.funding_interval_ms;
    let due = {
        let mut market = fake.market();
        let next = market
            .next_funding
            .entry(symbol.to_owned())
            .or_insert_with(|| next_funding_after(now, interval));
        let due = (*next <= now).then_some(*next);
        if due.is_some() {
            *next = next_funding_after(now, interval);
        }
        due
    };
    let mut ex = fake.exchange();
    if let Some(time) = due {
        ex.settle_funding(symbol, rate, mark, time);
    }
    ex.on_market(&MarketEvent::MarkPrice(MarkPrice {
        symbol: Symbol::new(symbol),
        ts: Timestamp(now),
        mark,
    }));
    drop(ex);
    let mut market = fake.market();
    let next = market.next_funding.get(symbol).copied().unwrap_or(0);
    let p = dec(mark.get());
    let data = json!({"e": "markPriceUpdate", "E": now, "s": symbol, "p": p, "ap": p, "P": p,
                      "i": p, "r": rate.normalize().to_string(), "T": next});
    market.publish(&format!("{}@markPrice", symbol.to_ascii_lowercase()), &data);
}

impl Exchange {
    /// Settles funding on `symbol` at `time` for every account holding it (recorded as income
    /// and a settled rate, announced by `ACCOUNT_UPDATE`).
    pub fn settle_funding(&mut self, symbol: &str, rate: Decimal, mark: Price, time: i64) {
        settle(self, symbol, rate, mark, time);
    }
}

fn settle(ex: &mut Exchange, symbol: &str, rate: Decimal, mark: Price, time: i64) {
    let sym = Symbol::new(symbol);
    let accounts = ex.accounts.len();
    let paid_so_far = |ex: &Exchange, n: usize| {
        ex.books(n)
            .and_then(|b| b.positions.get(&sym))
            .map_or(Amount::ZERO, |p| p.funding)
    };
    let before: Vec<Amount> = (0..accounts).map(|n| paid_so_far(ex, n)).collect();
    ex.settled_rates
        .push((symbol.to_owned(), time, rate, mark.get()));
    ex.sim.on_market(&MarketEvent::Funding(FundingRate {
        symbol: sym.clone(),
        ts: Timestamp(time),
        rate,
        mark_price: mark,
    }));
    for (n, was) in before.into_iter().enumerate() {
        let amount = paid_so_far(ex, n).get() - was.get();
        if amount.is_zero() {
            continue;
        }
        let asset = ex
            .instruments
            .get(symbol)
            .map_or_else(|| "USDT".to_owned(), |i| i.quote.as_str().to_owned());
        ex.next_income_id += 1;
        let entry = Income {
            account: n,
            symbol: symbol.to_owned(),
            income_type: "FUNDING_FEE",
            income: amount,
            asset: asset.clone(),
            time,
            tran_id: ex.next_income_id,
        };
        ex.income.push(entry);
        let balance = ex
            .books(n)
            .and_then(|b| b.balances.get(&chimera_kernel::ids::Asset::new(&asset)))
            .map_or(Decimal::ZERO, |a| a.get());
        let frame = json!({"e": "ACCOUNT_UPDATE", "E": time, "T": time, "a": {"m": "FUNDING_FEE",
            "B": [{"a": asset, "wb": dec(balance), "cw": dec(balance), "bc": dec(amount)}], "P": []}});
        ex.send_to(n, &frame.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funding_times_sit_on_the_interval_grid() {
        assert_eq!(next_funding_after(0, 8), 8);
        assert_eq!(next_funding_after(8, 8), 16);
        assert_eq!(next_funding_after(15, 8), 16);
    }
}
