//! Liquidation of perpetual positions: when an account's equity (balances plus unrealised PnL
//! at the marks) falls below its maintenance margin (Σ |notional at the mark| × the
//! instrument's maintenance margin rate), the venue cancels the account's open orders and
//! closes every perpetual position at its mark price, charging the taker fee. Each close is
//! reported as [`ReportKind::Liquidated`] under a client order id of the venue's own
//! (`liq-<portfolio>-<n>`), so the books record it as a liquidation, never as a fill of one of
//! our orders.

use super::SimExchange;
use chimera_kernel::event::{ExecutionReport, Fill, Liquidity, MarketEvent, ReportKind};
use chimera_kernel::ids::{ClientOrderId, FastMap, PortfolioId, Symbol, TradeId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::{Portfolio, Position};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{fast_cmp, Money, Price};
use chimera_kernel::Decimal;
use rust_decimal::RoundingStrategy;
use std::sync::Arc;

/// Per account, a band of marks around each perpetual position's mark within which the account
/// provably stays above its maintenance margin, so most marks skip the exact check.
///
/// Why it holds: with `H` = equity − maintenance > 0 at the exact check, and `n` open perpetual
/// positions, moving position `i`'s mark by `Δᵢ` changes its unrealised PnL by at most
/// `|qᵢ|·kᵢ·|Δᵢ|` and its maintenance by at most `|qᵢ|·kᵢ·rᵢ·|Δᵢ|` (`k` the multiplier, `r` the
/// maintenance rate). While every `|Δᵢ| < H / (n·|qᵢ|·kᵢ·(1 + rᵢ))`, the account loses less
/// than `H` in all and cannot be under. Bands are built only for accounts whose balances are all
/// in the reporting asset (other balances are valued at marks the bands do not cover), are
/// dropped whenever the venue touches the account (a fill, a deposit, a liquidation) or funding
/// is paid, and are a cache: never serialised, rebuilt after a restore.
#[derive(Debug, Default)]
pub(super) struct SafeBands(FastMap<PortfolioId, Vec<Band>>);

#[derive(Debug)]
struct Band {
    symbol: Symbol,
    low: Decimal,
    high: Decimal,
}

impl SafeBands {
    /// Forgets `portfolio`'s bands: its account is about to change.
    pub(super) fn forget(&mut self, portfolio: &PortfolioId) {
        if !self.0.is_empty() {
            self.0.remove(portfolio);
        }
    }

    /// Forgets every account's bands.
    pub(super) fn clear(&mut self) {
        self.0.clear();
    }

    /// Whether every open position of `account` still has its mark inside its band (all of
    /// them, not only the symbol that just moved: book updates move marks without a check).
    /// `moved` is the symbol just marked and its mark, which saves looking its position up.
    fn hold(&self, account: &Portfolio, moved: (&Symbol, Option<Price>)) -> bool {
        self.0.get(&account.id).is_some_and(|bands| {
            bands.iter().all(|b| {
                let mark = if b.symbol == *moved.0 {
                    moved.1
                } else {
                    account.position(&b.symbol).and_then(|p| p.mark)
                };
                mark.is_some_and(|mark| {
                    fast_cmp(&b.low, &mark.get()).is_lt() && fast_cmp(&mark.get(), &b.high).is_lt()
                })
            })
        })
    }

    /// Whether `account` (`id`), whose open perpetual on `moved.0` was just marked at
    /// `moved.1`, is under its maintenance margin: its bands answer when they hold, else the
    /// exact check, keeping the bands it allows.
    fn under(
        &mut self,
        id: &PortfolioId,
        account: &Portfolio,
        moved: (&Symbol, Option<Price>),
        instruments: &FastMap<Symbol, Arc<Instrument>>,
    ) -> bool {
        if self.hold(account, moved) {
            return false;
        }
        match standing(account, instruments) {
            Standing::Under => return true,
            Standing::Above(bands) if bands.is_empty() => self.forget(id),
            Standing::Above(bands) => {
                self.0.insert(id.clone(), bands);
            }
        }
        false
    }
}

/// Where an account stands against its maintenance margin.
enum Standing {
    /// Under it: to be liquidated.
    Under,
    /// Above it, with these safe bands (empty when none can be built).
    Above(Vec<Band>),
}

fn open_perps(account: &Portfolio) -> impl Iterator<Item = &Position> {
    account
        .positions
        .values()
        .filter(|p| p.kind == MarketKind::Perp && !p.is_flat())
}

/// The exact check (decimal arithmetic, as the accounting does it), and the bands it allows.
fn standing(account: &Portfolio, instruments: &FastMap<Symbol, Arc<Instrument>>) -> Standing {
    let rate = |p: &Position| {
        instruments
            .get(&p.symbol)
            .map(|i| i.maintenance_margin_rate)
    };
    let maintenance: Decimal = open_perps(account)
        .filter_map(|p| Some(p.notional().get().abs() * rate(p)?))
        .sum();
    let headroom = account.equity().get() - maintenance;
    if maintenance > Decimal::ZERO && headroom < Decimal::ZERO {
        return Standing::Under;
    }
    let only_reporting_cash = account
        .balances
        .iter()
        .all(|(asset, amount)| amount.is_zero() || *asset == account.reporting_asset);
    if !only_reporting_cash || headroom <= Decimal::ZERO {
        return Standing::Above(Vec::new());
    }
    let open = Decimal::from(open_perps(account).count());
    let bands = open_perps(account).map(|p| {
        let mark = p.mark?.get();
        let sensitivity = p.qty.abs().get() * p.multiplier * (Decimal::ONE + rate(p)?) * open;
        let width = headroom.checked_div(sensitivity)?;
        // Narrowed to the mark's own decimal places (low up, high down): still inside the
        // proven band, and marks of that scale then compare as integers (`fast_cmp`).
        Some(Band {
            symbol: p.symbol.clone(),
            low: mark
                .checked_sub(width)?
                .round_dp_with_strategy(mark.scale(), RoundingStrategy::ToPositiveInfinity),
            high: mark
                .checked_add(width)?
                .round_dp_with_strategy(mark.scale(), RoundingStrategy::ToNegativeInfinity),
        })
    });
    Standing::Above(bands.collect::<Option<Vec<Band>>>().unwrap_or_default())
}

impl SimExchange {
    /// Liquidates the accounts holding a perpetual position on `symbol` that are under their
    /// maintenance margin (after funding is paid; market events go through
    /// [`Self::mark_and_check`]).
    pub(super) fn check_liquidations(&mut self, symbol: &Symbol, at: Timestamp) {
        let mut under: Vec<PortfolioId> = Vec::new();
        for (id, account) in &self.accounts {
            let Some(position) = account.position(symbol) else {
                continue;
            };
            if position.kind != MarketKind::Perp || position.is_flat() {
                continue;
            }
            let moved = (symbol, position.mark);
            if self.safe_bands.under(id, account, moved, &self.instruments) {
                under.push(id.clone());
            }
        }
        for portfolio in under {
            self.liquidate(&portfolio, at);
        }
    }

    /// Marks the accounts with a position on `event`'s symbol at the event's mark price and,
    /// with `check`, liquidates those of them now under their maintenance margin.
    ///
    /// One pass over the accounts and one position look-up each: this runs for every market
    /// event the venue reads, and marking first then checking looked each position up three or
    /// four times (most of what feeding the venue a bar cost). The same accounts are marked,
    /// checked and liquidated, in the same order, as marking all then checking all: an
    /// account's standing depends on its own positions only, and liquidation waits for the
    /// pass to end.
    pub(super) fn mark_and_check(&mut self, event: &MarketEvent, check: bool, at: Timestamp) {
        let symbol = event.symbol();
        // The mark (a quote's mid costs a decimal division) computed once, when first needed.
        let mut mark = None;
        let mut under: Vec<PortfolioId> = Vec::new();
        for (id, account) in &mut self.accounts {
            let Some(position) = account.positions.get_mut(symbol) else {
                continue;
            };
            if let Some(price) = *mark.get_or_insert_with(|| event.mark_price()) {
                position.mark = Some(price);
            }
            if !check || position.kind != MarketKind::Perp || position.is_flat() {
                continue;
            }
            let moved = (symbol, position.mark);
            if self.safe_bands.under(id, account, moved, &self.instruments) {
                under.push(id.clone());
            }
        }
        for portfolio in under {
            self.liquidate(&portfolio, at);
        }
    }

    fn liquidate(&mut self, portfolio: &PortfolioId, at: Timestamp) {
        let resting: Vec<u64> = self
            .resting
            .iter()
            .filter(|(_, w)| w.order.intent.portfolio_id == *portfolio)
            .map(|(id, _)| *id)
            .collect();
        for id in resting {
            if let Some(working) = self.resting.remove(id) {
                self.resting_index
                    .remove(&working.order.intent.client_order_id);
                self.emit(working.order, at, ReportKind::Canceled);
            }
        }
        let positions: Vec<_> = self
            .account(portfolio)
            .positions
            .values()
            .filter(|p| p.kind == MarketKind::Perp && !p.is_flat())
            .map(|p| (p.symbol.clone(), p.qty, p.mark))
            .collect();
        for (symbol, qty, mark) in positions {
            let Some(instrument) = self.instruments.get(&symbol).cloned() else {
                continue;
            };
            let Some(price) = mark else { continue };
            let side = if qty.is_negative() {
                Side::Buy
            } else {
                Side::Sell
            };
            let size = qty.abs();
            self.liquidations += 1;
            let id = ClientOrderId::new(format!("liq-{portfolio}-{}", self.liquidations));
            let fill = Fill {
                trade_id: TradeId::new(format!("{id}.1")),
                price,
                qty: size,
                fee: Money::new(
                    instrument.notional(price, size) * instrument.taker_fee.get(),
                    instrument.quote.clone(),
                ),
                liquidity: Liquidity::Taker,
            };
            let _ = self.account(portfolio).apply_fill(&symbol, side, &fill);
            self.reports.push_back(ExecutionReport {
                portfolio_id: portfolio.clone(),
                client_order_id: id,
                venue_order_id: None,
                symbol,
                ts: at,
                kind: ReportKind::Liquidated { side, fill },
            });
        }
    }
}
