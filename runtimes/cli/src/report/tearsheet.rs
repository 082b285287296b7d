//! What users of other frameworks expect from a tearsheet: round-trip trades rebuilt from the
//! fills, and per portfolio Sharpe, Sortino, Calmar, win rate, profit factor, average trade,
//! exposure and turnover.
//!
//! Conventions (those of pyfolio and quantstats): returns are the equity curve's sample to
//! sample returns, annualised with the curve's sampling rate (365-day years, crypto trades
//! every day), risk-free rate 0; Sortino's downside deviation is the root mean square of the
//! negative returns; Calmar is the annualised return over the maximum drawdown. A trade runs
//! from flat to flat (a reversal closes one and opens the next); its PnL is net of the fees
//! of its fills. Money stays in decimals; ratios are floats.

use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::to_f64_fast;
use chimera_kernel::Decimal;
use chimera_sim::{EquityPoint, FillRow};
use rust_decimal::prelude::ToPrimitive;
use std::collections::BTreeMap;

const YEAR_MS: f64 = 365.0 * 86_400_000.0;

/// One round trip.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trade {
    pub(crate) portfolio: PortfolioId,
    pub(crate) symbol: Symbol,
    /// Long (`Buy`) or short.
    pub(crate) side: Side,
    pub(crate) opened: Timestamp,
    pub(crate) closed: Timestamp,
    /// Net of fees.
    pub(crate) pnl: Decimal,
}

/// A fill's role in its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Opened or increased the position.
    Entry,
    /// Reduced or closed it (a reversal's fill counts as an exit).
    Exit,
}

/// The round trips in `fills` (in time order) and each fill's role; a position still open at
/// the end is not a trade.
pub(crate) fn trades(
    fills: &[FillRow],
    multiplier: &dyn Fn(&Symbol) -> Decimal,
) -> (Vec<Trade>, Vec<Role>) {
    #[derive(Default)]
    struct Open {
        qty: Decimal,
        avg: Decimal,
        pnl: Decimal,
        since: Option<Timestamp>,
    }
    let mut books: BTreeMap<(PortfolioId, Symbol), Open> = BTreeMap::new();
    let mut out = Vec::new();
    let mut roles = Vec::with_capacity(fills.len());
    for f in fills {
        let book = books
            .entry((f.portfolio_id.clone(), f.symbol.clone()))
            .or_default();
        let m = multiplier(&f.symbol);
        let signed = f.side.sign() * f.qty.get();
        let price = f.price.get();
        // Fees are in the quote (`BTCUSDT` paying USDT) or, on spot buys, in the base (valued
        // at the fill's price); a third asset (a discount token) has no price here.
        let symbol = f.symbol.as_str();
        let fee = if symbol.ends_with(f.fee_asset.as_str()) {
            f.fee
        } else if symbol.starts_with(f.fee_asset.as_str()) {
            f.fee * price
        } else {
            Decimal::ZERO
        };
        book.pnl -= fee;
        if book.qty.is_zero() || book.qty.is_sign_positive() == signed.is_sign_positive() {
            let total = book.qty + signed;
            if !total.is_zero() {
                book.avg = (book.avg * book.qty.abs() + price * signed.abs()) / total.abs();
            }
            book.qty = total;
            book.since.get_or_insert(f.ts);
            roles.push(Role::Entry);
            continue;
        }
        roles.push(Role::Exit);
        let closing = signed.abs().min(book.qty.abs());
        let direction = if book.qty.is_sign_negative() {
            Decimal::NEGATIVE_ONE
        } else {
            Decimal::ONE
        };
        book.pnl += direction * closing * (price - book.avg) * m;
        let rest = signed.abs() - closing;
        book.qty += direction * -closing;
        if book.qty.is_zero() {
            out.push(Trade {
                portfolio: f.portfolio_id.clone(),
                symbol: f.symbol.clone(),
                side: if direction.is_sign_positive() {
                    Side::Buy
                } else {
                    Side::Sell
                },
                opened: book.since.unwrap_or(f.ts),
                closed: f.ts,
                pnl: book.pnl,
            });
            *book = Open::default();
            if !rest.is_zero() {
                book.qty = f.side.sign() * rest;
                book.avg = price;
                book.since = Some(f.ts);
            }
        }
    }
    (out, roles)
}

/// A portfolio's tearsheet figures (`None`: not enough data).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tearsheet {
    pub(crate) portfolio: PortfolioId,
    pub(crate) sharpe: Option<f64>,
    pub(crate) sortino: Option<f64>,
    pub(crate) calmar: Option<f64>,
    pub(crate) annual_return_pct: Option<f64>,
    pub(crate) trades: usize,
    pub(crate) win_rate_pct: Option<f64>,
    pub(crate) profit_factor: Option<f64>,
    pub(crate) avg_trade: Option<Decimal>,
    /// Share of the run with a position open.
    pub(crate) exposure_pct: Option<f64>,
    /// Traded notional over the starting equity.
    pub(crate) turnover: Option<Decimal>,
}

/// The drawdown (fraction below the running peak, ≤ 0) at each point of `curve`.
pub(crate) fn drawdowns(curve: &[EquityPoint]) -> Vec<(i64, f64)> {
    let mut peak = f64::MIN;
    curve
        .iter()
        .map(|p| {
            let e = to_f64_fast(p.equity);
            peak = peak.max(e);
            (p.ts.0, if peak > 0.0 { e / peak - 1.0 } else { 0.0 })
        })
        .collect()
}

/// The tearsheet of each curve's portfolio.
pub(crate) fn tearsheets(
    curves: &[(PortfolioId, Vec<EquityPoint>)],
    fills: &[FillRow],
    trades: &[Trade],
    multiplier: &dyn Fn(&Symbol) -> Decimal,
) -> Vec<Tearsheet> {
    curves
        .iter()
        .map(|(id, curve)| {
            let mine: Vec<&Trade> = trades.iter().filter(|t| &t.portfolio == id).collect();
            let (sharpe, sortino, annual, calmar) = ratios(curve);
            let wins: Vec<Decimal> = mine
                .iter()
                .map(|t| t.pnl)
                .filter(|p| *p > Decimal::ZERO)
                .collect();
            let losses: Decimal = mine
                .iter()
                .map(|t| t.pnl)
                .filter(|p| *p < Decimal::ZERO)
                .sum();
            let gross_win: Decimal = wins.iter().sum();
            let total: Decimal = mine.iter().map(|t| t.pnl).sum();
            let n = mine.len();
            let first = curve.first().map(|p| p.equity);
            let traded: Decimal = fills
                .iter()
                .filter(|f| &f.portfolio_id == id)
                .map(|f| f.qty.get() * f.price.get() * multiplier(&f.symbol))
                .sum();
            Tearsheet {
                portfolio: id.clone(),
                sharpe,
                sortino,
                calmar,
                annual_return_pct: annual.map(|a| a * 100.0),
                trades: n,
                win_rate_pct: (n > 0).then(|| wins.len() as f64 / n as f64 * 100.0),
                profit_factor: (losses < Decimal::ZERO)
                    .then(|| (gross_win / -losses).to_f64())
                    .flatten(),
                avg_trade: (n > 0).then(|| (total / Decimal::from(n)).round_dp(4)),
                exposure_pct: exposure(id, curve, fills),
                turnover: first
                    .filter(|e| *e > Decimal::ZERO)
                    .map(|e| (traded / e).round_dp(2)),
            }
        })
        .collect()
}

/// Sharpe, Sortino, annualised return and Calmar of an equity curve.
fn ratios(curve: &[EquityPoint]) -> (Option<f64>, Option<f64>, Option<f64>, Option<f64>) {
    let equity: Vec<f64> = curve.iter().map(|p| to_f64_fast(p.equity)).collect();
    if equity.len() < 3 || equity.iter().any(|e| *e <= 0.0) {
        return (None, None, None, None);
    }
    let returns: Vec<f64> = equity.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let span = (curve[curve.len() - 1].ts.0 - curve[0].ts.0) as f64;
    if span <= 0.0 {
        return (None, None, None, None);
    }
    let per_year = returns.len() as f64 / (span / YEAR_MS);
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let var = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let sharpe = (var > 0.0).then(|| mean / var.sqrt() * per_year.sqrt());
    let sortino = (downside > 0.0).then(|| mean / downside * per_year.sqrt());
    let growth = equity[equity.len() - 1] / equity[0];
    let annual = growth.powf(YEAR_MS / span) - 1.0;
    let max_dd = drawdowns(curve).iter().map(|(_, d)| -d).fold(0.0, f64::max);
    let calmar = (max_dd > 0.0 && annual.is_finite()).then(|| annual / max_dd);
    (
        sharpe,
        sortino,
        annual.is_finite().then_some(annual),
        calmar,
    )
}

/// Share of the curve's span with a position open on any symbol.
fn exposure(id: &PortfolioId, curve: &[EquityPoint], fills: &[FillRow]) -> Option<f64> {
    let (start, end) = (curve.first()?.ts.0, curve.last()?.ts.0);
    if end <= start {
        return None;
    }
    let mut positions: BTreeMap<&Symbol, Decimal> = BTreeMap::new();
    let (mut open_since, mut open_ms) = (None::<i64>, 0_i64);
    for f in fills.iter().filter(|f| &f.portfolio_id == id) {
        let q = positions.entry(&f.symbol).or_default();
        *q += f.side.sign() * f.qty.get();
        let any_open = positions.values().any(|q| !q.is_zero());
        match (open_since, any_open) {
            (None, true) => open_since = Some(f.ts.0),
            (Some(since), false) => {
                open_ms += f.ts.0 - since;
                open_since = None;
            }
            _ => {}
        }
    }
    if let Some(since) = open_since {
        open_ms += end - since;
    }
    Some((open_ms as f64 / (end - start) as f64 * 100.0).clamp(0.0, 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chimera_kernel::event::Liquidity;
    use chimera_kernel::ids::{ClientOrderId, TradeId};
    use chimera_kernel::value::{Price, Quantity};
    use rust_decimal_macros::dec;

    fn fill(minute: i64, side: Side, qty: Decimal, price: Decimal) -> FillRow {
        FillRow {
            portfolio_id: PortfolioId::new("p"),
            ts: Timestamp(minute * 60_000),
            symbol: Symbol::new("BTCUSDT"),
            side,
            qty: Quantity::new(qty).expect("qty"),
            price: Price::new(price).expect("price"),
            fee: dec!(1),
            fee_asset: "USDT".into(),
            liquidity: Liquidity::Taker,
            client_order_id: ClientOrderId::new("c"),
            trade_id: TradeId::new(format!("t{minute}")),
            costs: None,
        }
    }

    fn curve(values: &[i64]) -> Vec<EquityPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| EquityPoint {
                ts: Timestamp(i as i64 * 86_400_000),
                equity: Decimal::from(*v),
            })
            .collect()
    }

    #[test]
    fn trades_run_flat_to_flat_net_of_fees_and_a_reversal_starts_the_next() {
        let fills = [
            fill(0, Side::Buy, dec!(1), dec!(100)),
            fill(1, Side::Buy, dec!(1), dec!(110)),
            fill(2, Side::Sell, dec!(3), dec!(120)), // closes 2 (+30), opens 1 short
            fill(3, Side::Buy, dec!(1), dec!(125)),  // closes the short (−5)
            fill(4, Side::Buy, dec!(1), dec!(100)),  // still open at the end
        ];
        let (trades, roles) = trades(&fills, &|_| Decimal::ONE);
        let pnl: Vec<Decimal> = trades.iter().map(|t| t.pnl).collect();
        // Fees: 3 fills in the first trade (the reversal's fee goes to the closing trade).
        assert_eq!(pnl, vec![dec!(27), dec!(-6)]);
        assert_eq!(trades[1].side, Side::Sell);
        assert_eq!(
            roles,
            vec![
                Role::Entry,
                Role::Entry,
                Role::Exit,
                Role::Exit,
                Role::Entry
            ]
        );
    }

    #[test]
    fn fees_in_the_base_are_valued_at_the_fill_price() {
        let mut buy = fill(0, Side::Buy, dec!(1), dec!(100));
        buy.fee = dec!(0.01);
        buy.fee_asset = "BTC".into();
        let mut discount = fill(1, Side::Sell, dec!(1), dec!(110));
        discount.fee_asset = "BNB".into();
        let (trades, _) = trades(&[buy, discount], &|_| Decimal::ONE);
        // +10 on the trade, −1 (0.01 BTC at 100) in fees; the BNB fee has no price here.
        assert_eq!(trades[0].pnl, dec!(9));
    }

    #[test]
    fn ratios_follow_the_usual_conventions() {
        let flat = tearsheets(
            &[(PortfolioId::new("p"), curve(&[100, 100, 100]))],
            &[],
            &[],
            &|_| Decimal::ONE,
        );
        assert_eq!(flat[0].sharpe, None, "no variance, no Sharpe");
        let c = curve(&[100, 110, 99, 120]);
        let (sharpe, sortino, annual, calmar) = ratios(&c);
        // Returns 0.1, −0.1, 0.2121…; daily samples: × √365.
        let r = [0.1, -0.1, 120.0 / 99.0 - 1.0];
        let mean = r.iter().sum::<f64>() / 3.0;
        let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((sharpe.expect("sharpe") - mean / sd * 365f64.sqrt()).abs() < 1e-9);
        let down = (0.01_f64 / 3.0).sqrt();
        assert!((sortino.expect("sortino") - mean / down * 365f64.sqrt()).abs() < 1e-9);
        let annual = annual.expect("annual");
        assert!((annual - (1.2_f64.powf(365.0 / 3.0) - 1.0)).abs() / annual < 1e-9);
        assert!((calmar.expect("calmar") - annual / 0.1).abs() / annual < 1e-9);
    }

    #[test]
    fn exposure_and_turnover_come_from_the_fills() {
        let fills = [
            fill(0, Side::Buy, dec!(1), dec!(100)),
            fill(1440, Side::Sell, dec!(1), dec!(100)),
        ];
        let (trades, _) = trades(&fills, &|_| Decimal::ONE);
        let t = tearsheets(
            &[(
                PortfolioId::new("p"),
                curve(&[1000, 1000, 1000, 1000, 1000]),
            )],
            &fills,
            &trades,
            &|_| Decimal::ONE,
        );
        assert!(
            (t[0].exposure_pct.expect("exposure") - 25.0).abs() < 1e-9,
            "one day of four"
        );
        assert_eq!(t[0].turnover, Some(dec!(0.2)));
        assert_eq!(t[0].trades, 1);
        assert_eq!(t[0].win_rate_pct, Some(0.0));
        assert_eq!(t[0].avg_trade, Some(dec!(-2)));
    }
}
