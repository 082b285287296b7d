//! Liquidation of perpetual positions: when an account's equity (balances plus unrealised PnL
//! at the marks) falls below its maintenance margin (Σ |notional at the mark| × the
//! instrument's maintenance margin rate), the venue cancels the account's open orders and
//! closes every perpetual position at its mark price, charging the taker fee. Each close is
//! reported as [`ReportKind::Liquidated`] under a client order id of the venue's own
//! (`liq-<portfolio>-<n>`), so the books record it as a liquidation, never as a fill of one of
//! our orders.

use super::SimExchange;
use chimera_kernel::event::{ExecutionReport, Fill, Liquidity, ReportKind};
use chimera_kernel::ids::{ClientOrderId, FastMap, PortfolioId, Symbol, TradeId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::{Portfolio, Position};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Money, Price};
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
///
/// For speed on the common case, each symbol also gets an envelope: the marks inside every
/// band on it, when each account holding it has a band and no other open perpetual position.
/// A mark inside its symbol's envelope is then checked in one comparison for all accounts.
#[derive(Debug, Default)]
pub(super) struct SafeBands {
    bands: FastMap<PortfolioId, Vec<Band>>,
    /// Per symbol: `Some((low, high))`, or `None` when some account must be checked on its
    /// own. Rebuilt lazily after any change to the bands.
    envelopes: FastMap<Symbol, Option<(Decimal, Decimal)>>,
}

#[derive(Debug)]
struct Band {
    symbol: Symbol,
    low: Decimal,
    high: Decimal,
}

impl SafeBands {
    /// Forgets `portfolio`'s bands: its account is about to change.
    pub(super) fn forget(&mut self, portfolio: &PortfolioId) {
        if !self.bands.is_empty() || !self.envelopes.is_empty() {
            self.bands.remove(portfolio);
            self.envelopes.clear();
        }
    }

    /// Forgets every account's bands.
    pub(super) fn clear(&mut self) {
        self.bands.clear();
        self.envelopes.clear();
    }

    fn insert(&mut self, portfolio: PortfolioId, bands: Vec<Band>) {
        self.bands.insert(portfolio, bands);
        self.envelopes.clear();
    }

    /// Whether every open position of `account` still has its mark inside its band (all of
    /// them, not only the symbol that just moved: book updates move marks without a check).
    fn hold(&self, account: &Portfolio) -> bool {
        self.bands.get(&account.id).is_some_and(|bands| {
            bands.iter().all(|b| {
                account
                    .position(&b.symbol)
                    .and_then(|p| p.mark)
                    .is_some_and(|mark| b.low < mark.get() && mark.get() < b.high)
            })
        })
    }

    /// Whether `mark`, `symbol`'s new mark, is inside its envelope.
    fn envelope_holds(
        &mut self,
        accounts: &std::collections::BTreeMap<PortfolioId, Portfolio>,
        symbol: &Symbol,
        mark: Decimal,
    ) -> bool {
        let envelope = if let Some(envelope) = self.envelopes.get(symbol) {
            *envelope
        } else {
            let envelope = self.envelope(accounts, symbol);
            self.envelopes.insert(symbol.clone(), envelope);
            envelope
        };
        envelope.is_some_and(|(low, high)| low < mark && mark < high)
    }

    fn envelope(
        &self,
        accounts: &std::collections::BTreeMap<PortfolioId, Portfolio>,
        symbol: &Symbol,
    ) -> Option<(Decimal, Decimal)> {
        let (mut low, mut high) = (Decimal::MIN, Decimal::MAX);
        for account in accounts.values() {
            let holds = account
                .position(symbol)
                .is_some_and(|p| p.kind == MarketKind::Perp && !p.is_flat());
            if !holds {
                continue;
            }
            if open_perps(account).nth(1).is_some() {
                return None; // its other marks move apart: checked on its own
            }
            let band = self
                .bands
                .get(&account.id)?
                .iter()
                .find(|b| b.symbol == *symbol)?;
            low = low.max(band.low);
            high = high.min(band.high);
        }
        Some((low, high))
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
        Some(Band {
            symbol: p.symbol.clone(),
            // Narrowed to the mark's own decimals (never widened), so that comparing a mark
            // with them needs no rescaling.
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
    /// Liquidates the accounts holding a perpetual position on `symbol` (whose mark just
    /// moved) that are under their maintenance margin.
    ///
    /// `mark` is the mark the accounts holding `symbol` were just given, if any.
    pub(super) fn check_liquidations(
        &mut self,
        symbol: &Symbol,
        mark: Option<Price>,
        at: Timestamp,
    ) {
        if let Some(mark) = mark {
            if self
                .safe_bands
                .envelope_holds(&self.accounts, symbol, mark.get())
            {
                return;
            }
        }
        let mut under: Vec<PortfolioId> = Vec::new();
        for (id, account) in &self.accounts {
            let Some(position) = account.position(symbol) else {
                continue;
            };
            if position.kind != MarketKind::Perp || position.is_flat() {
                continue;
            }
            if self.safe_bands.hold(account) {
                continue;
            }
            match standing(account, &self.instruments) {
                Standing::Under => under.push(id.clone()),
                Standing::Above(bands) if bands.is_empty() => self.safe_bands.forget(id),
                Standing::Above(bands) => self.safe_bands.insert(id.clone(), bands),
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
