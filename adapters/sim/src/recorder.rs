//! [`Recorder`]: what a run remembers about one portfolio: a sampled equity curve, its
//! drawdown, the fills and the venue's rejections, and the final [`BacktestSummary`].

use chimera_kernel::engine::PortfolioEngine;
use chimera_kernel::event::{ExecutionReport, Liquidity, ReportKind};
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol, TradeId};
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{fast_cmp, Price, Quantity};
use chimera_kernel::Decimal;
use serde::Serialize;

/// One point of an equity curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EquityPoint {
    /// Market time.
    pub ts: Timestamp,
    /// Equity in the reporting asset.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub equity: Decimal,
}

/// One fill, as written to `fills.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillRow {
    /// Portfolio.
    pub portfolio_id: PortfolioId,
    /// Fill time.
    pub ts: Timestamp,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Quantity.
    pub qty: Quantity,
    /// Price.
    pub price: Price,
    /// Fee amount.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub fee: Decimal,
    /// Fee asset.
    pub fee_asset: String,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Order.
    pub client_order_id: ClientOrderId,
    /// Venue trade id.
    pub trade_id: TradeId,
    /// Transaction costs (market at send, slippage, latency), when the order's send was seen.
    pub costs: Option<crate::FillCosts>,
}

/// A portfolio's results. Decimals are strings in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BacktestSummary {
    /// Portfolio.
    pub portfolio_id: PortfolioId,
    /// Strategy name.
    pub strategy: String,
    /// Equity before the first event (at the first marks).
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub initial_equity: Decimal,
    /// Equity after the last event.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub final_equity: Decimal,
    /// `final / initial − 1`.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub total_return: Decimal,
    /// Σ realised PnL.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub realized_pnl: Decimal,
    /// Open PnL at the end.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub unrealized_pnl: Decimal,
    /// Σ fees.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub fees: Decimal,
    /// Σ funding.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub funding: Decimal,
    /// Largest peak-to-trough equity fall as a fraction of the peak (0.1 = 10%), over the
    /// sampled curve.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub max_drawdown: Decimal,
    /// Orders sent.
    pub orders: u64,
    /// Fills received.
    pub fills: u64,
    /// Strategy requests refused before reaching the venue.
    pub refusals: u64,
    /// Orders the venue rejected.
    pub rejections: u64,
    /// Market events processed (all symbols).
    pub events: u64,
    /// Final balance per asset (cash, and the base asset on spot), as decimal strings, so a run
    /// can be compared line by line with another framework's account.
    pub balances: std::collections::BTreeMap<String, String>,
}

/// Equity curves per portfolio.
pub type EquityCurves = Vec<(PortfolioId, Vec<EquityPoint>)>;

/// Records one portfolio's run.
#[derive(Debug, Clone)]
pub struct Recorder {
    sample_ms: i64,
    curve: Vec<EquityPoint>,
    last_sample: Option<Timestamp>,
    initial_equity: Option<Decimal>,
    peak: Decimal,
    trough: Decimal,
    max_drawdown: Decimal,
    rejections: u64,
}

impl Recorder {
    /// A recorder sampling equity at most once per `sample_ms` of market time.
    pub fn new(sample_ms: i64) -> Self {
        Self {
            sample_ms: sample_ms.max(0),
            curve: Vec::new(),
            last_sample: None,
            initial_equity: None,
            peak: Decimal::ZERO,
            trough: Decimal::ZERO,
            max_drawdown: Decimal::ZERO,
            rejections: 0,
        }
    }

    /// Notes a report about `engine`'s order. Call it *before* the engine handles the report, so
    /// the order is still known. Returns the fill row when the report carries a fill.
    pub fn on_report(
        &mut self,
        engine: &PortfolioEngine,
        report: &ExecutionReport,
        costs: Option<crate::FillCosts>,
    ) -> Option<FillRow> {
        if matches!(report.kind, ReportKind::Rejected { .. }) {
            self.rejections += 1;
        }
        let fill = report.fill()?;
        let side = match report.kind {
            ReportKind::Liquidated { side, .. } => side,
            _ => engine
                .open_orders()
                .find(|o| o.intent.client_order_id == report.client_order_id)
                .map_or(Side::Buy, |o| o.intent.side),
        };
        Some(FillRow {
            portfolio_id: report.portfolio_id.clone(),
            ts: report.ts,
            symbol: report.symbol.clone(),
            side,
            qty: fill.qty,
            price: fill.price,
            fee: fill.fee.amount,
            fee_asset: fill.fee.asset.to_string(),
            liquidity: fill.liquidity,
            client_order_id: report.client_order_id.clone(),
            trade_id: fill.trade_id.clone(),
            costs,
        })
    }

    /// Samples the equity if `sample_ms` passed since the last sample.
    pub fn maybe_sample(&mut self, engine: &PortfolioEngine, now: Timestamp) {
        if self
            .last_sample
            .is_none_or(|t| now.0 - t.0 >= self.sample_ms)
        {
            self.sample(engine, now);
        }
    }

    /// Samples the equity now.
    pub fn sample(&mut self, engine: &PortfolioEngine, now: Timestamp) {
        let equity = engine.portfolio().equity().get();
        self.initial_equity.get_or_insert(equity);
        if fast_cmp(&equity, &self.peak).is_gt() {
            self.peak = equity;
            self.trough = equity;
        } else if fast_cmp(&equity, &self.trough).is_lt() {
            // A new low since the peak: the only time the drawdown can grow.
            self.trough = equity;
            if self.peak > Decimal::ZERO {
                self.max_drawdown = self.max_drawdown.max((self.peak - equity) / self.peak);
            }
        }
        self.last_sample = Some(now);
        self.curve.push(EquityPoint { ts: now, equity });
    }

    /// Final sample, summary and curve.
    pub fn finish(
        &mut self,
        engine: &PortfolioEngine,
        now: Timestamp,
        events: u64,
    ) -> (BacktestSummary, Vec<EquityPoint>) {
        if self.curve.last().is_none_or(|p| p.ts != now) {
            self.sample(engine, now);
        }
        let p = engine.portfolio();
        let stats = engine.stats();
        let initial = self.initial_equity.unwrap_or(Decimal::ZERO);
        let final_equity = p.equity().get();
        let total_return = if initial.is_zero() {
            Decimal::ZERO
        } else {
            final_equity / initial - Decimal::ONE
        };
        let summary = BacktestSummary {
            portfolio_id: p.id.clone(),
            strategy: engine.strategy_name().to_owned(),
            initial_equity: initial,
            final_equity,
            total_return: total_return.round_dp(8),
            realized_pnl: p.realized_pnl.get(),
            unrealized_pnl: p.unrealized_pnl().get(),
            fees: p.fees.get(),
            funding: p.funding.get(),
            max_drawdown: self.max_drawdown.round_dp(8),
            orders: stats.orders,
            fills: stats.fills,
            refusals: stats.refusals,
            rejections: self.rejections,
            events,
            balances: p
                .balances
                .iter()
                .map(|(asset, amount)| (asset.to_string(), amount.to_string()))
                .collect(),
        };
        (summary, std::mem::take(&mut self.curve))
    }
}

/// Finishes every portfolio of a run: summaries and equity curves, in the given order.
pub fn finish_all<'a>(
    runs: impl IntoIterator<Item = (&'a PortfolioEngine, &'a mut Recorder)>,
    now: Timestamp,
    events: u64,
) -> (Vec<BacktestSummary>, EquityCurves) {
    let mut summaries = Vec::new();
    let mut curves = Vec::new();
    for (engine, recorder) in runs {
        let (summary, curve) = recorder.finish(engine, now, events);
        curves.push((summary.portfolio_id.clone(), curve));
        summaries.push(summary);
    }
    (summaries, curves)
}
