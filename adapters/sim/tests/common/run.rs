//! The engine and the simulated venue wired as the backtest wires them, for the execution
//! algorithm scenarios: a scripted or enter-then-protect strategy, synthetic L2 books and
//! trades, and what the venue saw and said.

use super::{level, SYMBOL};
use chimera_kernel::engine::{Command, Input, Output, PortfolioEngine};
use chimera_kernel::event::{
    BookDelta, BookSnapshot, ExecutionReport, Liquidity, MarketEvent, Trade,
};
use chimera_kernel::execution::{ExecProgress, ExecSpec, OcoParams, TwapParams};
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::{OrderIntent, Side, TriggerSource};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{Scripted, ScriptedOrder};
use chimera_kernel::testing::{btc_perp, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use chimera_sim::{SimConfig, SimExchange};
use rust_decimal_macros::dec;

pub(crate) fn engine(spec: &ExecSpec, side: Side, q: Decimal) -> PortfolioEngine {
    let mut portfolio = Portfolio::new(PortfolioId::new("p"), "USDT".into());
    portfolio.add_instrument(btc_perp());
    portfolio.deposit("USDT".into(), Amount::new(Decimal::from(1_000_000)));
    let order = ScriptedOrder {
        at: Timestamp(1_000),
        side,
        qty: qty(q),
    };
    PortfolioEngine::new(portfolio, Box::new(Scripted::new(vec![order], None)))
        .with_execution(spec.clone())
}

pub(crate) fn venue(engine: &PortfolioEngine) -> SimExchange {
    let mut x = SimExchange::new(SimConfig::default());
    for instrument in engine.portfolio().instruments.values() {
        x.add_instrument(instrument.clone());
    }
    x.fund(engine.portfolio());
    x
}

/// A book around `bid` (one tick = 0.1 wide), re-stated every second.
pub(crate) fn book_at(second: i64, bid: Decimal) -> MarketEvent {
    let ts = Timestamp(second * 1000);
    let bids = vec![level(bid, dec!(5)), level(bid - dec!(0.1), dec!(5))];
    let asks = vec![
        level(bid + dec!(0.1), dec!(5)),
        level(bid + dec!(0.2), dec!(5)),
    ];
    if second == 0 {
        MarketEvent::BookSnapshot(BookSnapshot {
            symbol: Symbol::new(SYMBOL),
            ts,
            last_update_id: 1,
            bids,
            asks,
        })
    } else {
        let id = u64::try_from(second).unwrap_or(0) + 1;
        MarketEvent::BookDelta(BookDelta {
            symbol: Symbol::new(SYMBOL),
            ts,
            first_update_id: id,
            final_update_id: id,
            prev_final_update_id: None,
            // Restate every level near the top, removing the ones the price moved past.
            bids: [
                bids,
                (1..=3)
                    .map(|k| level(bid + Decimal::from(k) / dec!(10), Decimal::ZERO))
                    .collect(),
            ]
            .concat(),
            asks: [
                asks,
                (1..=3)
                    .map(|k| level(bid - Decimal::from(k - 1) / dec!(10), Decimal::ZERO))
                    .collect(),
            ]
            .concat(),
        })
    }
}

/// Engine + venue, wired the way the backtest wires them.
pub(crate) struct Run {
    pub(crate) x: SimExchange,
    pub(crate) engine: PortfolioEngine,
    pub(crate) submits: Vec<OrderIntent>,
    pub(crate) progress: Vec<ExecProgress>,
    pub(crate) reports: Vec<ExecutionReport>,
    pub(crate) deliver_twice: bool,
    /// Order lists sent (native OCOs).
    pub(crate) lists: usize,
}

impl Run {
    pub(crate) fn new(spec: &ExecSpec, side: Side, q: Decimal) -> Self {
        Self::around(engine(spec, side, q))
    }

    /// `engine` beside a venue funded and listed from its portfolio, nothing happened yet.
    pub(crate) fn around(engine: PortfolioEngine) -> Self {
        Self {
            x: venue(&engine),
            engine,
            submits: Vec::new(),
            progress: Vec::new(),
            reports: Vec::new(),
            deliver_twice: false,
            lists: 0,
        }
    }

    /// The run as a restarted process sees it: engine and venue serialized and read back (the
    /// engine with a freshly built strategy for the same scripted `side` order of `q`), the
    /// record of what happened so far kept.
    pub(crate) fn restarted(&self, spec: &ExecSpec, side: Side, q: Decimal) -> Run {
        let engine_state = serde_json::to_string(&self.engine.snapshot()).expect("engine state");
        let venue_state = serde_json::to_string(&self.x).expect("venue state");
        let order = ScriptedOrder {
            at: Timestamp(1_000),
            side,
            qty: qty(q),
        };
        Run {
            engine: PortfolioEngine::from_snapshot(
                serde_json::from_str(&engine_state).expect("decode"),
                Box::new(Scripted::new(vec![order], None)),
            )
            .expect("restore")
            .with_execution(spec.clone()),
            x: serde_json::from_str(&venue_state).expect("venue"),
            submits: self.submits.clone(),
            progress: self.progress.clone(),
            reports: self.reports.clone(),
            deliver_twice: false,
            lists: 0,
        }
    }

    pub(crate) fn pump(&mut self) {
        loop {
            let mut sent = false;
            while let Some(output) = self.engine.poll_output() {
                match output {
                    Output::Command(Command::Submit(intent)) => {
                        self.submits.push(intent.clone());
                        let at = intent.created_at;
                        self.x.submit(intent, at);
                        sent = true;
                    }
                    Output::Command(Command::Cancel(request)) => {
                        self.x.cancel(&request, request.created_at);
                        sent = true;
                    }
                    Output::Command(Command::SubmitList(list)) => {
                        self.submits.extend(list.orders.iter().cloned());
                        self.lists += 1;
                        let at = list.orders[0].created_at;
                        self.x.submit_list(&list, at);
                        sent = true;
                    }
                    Output::Command(Command::Amend(request)) => {
                        self.x.amend(&request, request.created_at);
                        sent = true;
                    }
                    Output::Command(Command::CancelReplace(request)) => {
                        self.submits.push(request.replacement.clone());
                        let at = request.replacement.created_at;
                        self.x.cancel_replace(&request, at);
                        sent = true;
                    }
                    Output::Execution(progress) => self.progress.push(progress),
                    _ => {}
                }
            }
            let mut delivered = false;
            while let Some(report) = self.x.pop_report() {
                let at = report.ts;
                self.engine.handle(Input::Execution(&report), at);
                if self.deliver_twice {
                    self.engine.handle(Input::Execution(&report), at);
                }
                self.reports.push(report);
                delivered = true;
            }
            if !sent && !delivered {
                break;
            }
        }
    }

    pub(crate) fn event(&mut self, event: &MarketEvent) {
        let now = event.ts();
        self.engine.handle(Input::Timer, now);
        self.pump();
        self.x.on_market(event);
        self.pump();
        self.engine.handle(Input::Market(event), now);
        self.pump();
    }

    pub(crate) fn fills(&self) -> Vec<(String, Decimal, Decimal, Liquidity)> {
        self.reports
            .iter()
            .filter_map(|r| {
                r.fill().map(|f| {
                    (
                        r.client_order_id.as_str().to_owned(),
                        f.price.get(),
                        f.qty.get(),
                        f.liquidity,
                    )
                })
            })
            .collect()
    }

    pub(crate) fn last(&self) -> &ExecProgress {
        self.progress.last().expect("progress reported")
    }
}

pub(crate) fn twap(horizon_s: i64, interval_s: i64, jitter_pct: u32) -> ExecSpec {
    ExecSpec::Twap(TwapParams {
        horizon_ms: horizon_s * 1000,
        interval_ms: interval_s * 1000,
        jitter_pct,
        seed: 7,
    })
}

pub(crate) fn flat_market(run: &mut Run, seconds: std::ops::Range<i64>) {
    for second in seconds {
        run.event(&book_at(second, dec!(100)));
    }
}

pub(crate) fn trade_at(ms: i64, price: Decimal, q: Decimal, aggressor: Side) -> MarketEvent {
    MarketEvent::Trade(Trade {
        symbol: Symbol::new(SYMBOL),
        ts: Timestamp(ms),
        price: px(price),
        qty: qty(q),
        aggressor: Some(aggressor),
        trade_id: None,
    })
}

pub(crate) fn exits(take_profit: Decimal, stop: Decimal) -> OcoParams {
    OcoParams {
        take_profit: px(take_profit),
        stop: px(stop),
        trigger: TriggerSource::Last,
    }
}

pub(crate) fn position(run: &Run) -> Decimal {
    run.engine
        .portfolio()
        .position(&Symbol::new(SYMBOL))
        .map_or(Decimal::ZERO, |p| p.qty.get())
}

pub(crate) fn live_legs(run: &Run) -> Vec<String> {
    let mut legs: Vec<String> = run
        .x
        .open_orders(&PortfolioId::new("p"))
        .iter()
        .map(|o| o.intent.client_order_id.as_str().to_owned())
        .collect();
    legs.sort();
    legs
}

/// Buys 1 directly at its first event, then at 1 s sends a sell of 1 worked by `exit`.
pub(crate) struct EnterThenProtect {
    exit: ExecSpec,
    step: u8,
}

impl chimera_kernel::strategy::Strategy for EnterThenProtect {
    fn name(&self) -> &'static str {
        "enter-then-protect"
    }

    fn on_market(
        &mut self,
        event: &MarketEvent,
        _ctx: &chimera_kernel::strategy::StrategyContext<'_>,
        out: &mut chimera_kernel::strategy::Actions,
    ) {
        use chimera_kernel::strategy::OrderRequest;
        let symbol = Symbol::new(SYMBOL);
        if self.step == 0 {
            out.submit(
                OrderRequest::market(symbol, Side::Buy, qty(dec!(1)), "entry")
                    .with_exec(ExecSpec::Direct),
            );
            self.step = 1;
        } else if self.step == 1 && event.ts() >= Timestamp(1_000) {
            out.submit(
                OrderRequest::market(symbol, Side::Sell, qty(dec!(1)), "protect")
                    .with_exec(self.exit.clone()),
            );
            self.step = 2;
        }
    }
}

pub(crate) fn protected_run(exit: ExecSpec) -> Run {
    protected_run_on(btc_perp(), exit)
}

/// [`protected_run`] on `instrument` (a spot one trades order lists natively).
pub(crate) fn protected_run_on(instrument: Instrument, exit: ExecSpec) -> Run {
    let mut portfolio = Portfolio::new(PortfolioId::new("p"), "USDT".into());
    portfolio.add_instrument(instrument);
    portfolio.deposit("USDT".into(), Amount::new(Decimal::from(1_000_000)));
    Run::around(PortfolioEngine::new(
        portfolio,
        Box::new(EnterThenProtect { exit, step: 0 }),
    ))
}
