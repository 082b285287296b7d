//! The graded kill switch inside one engine: what each mode refuses, cancels and closes, on a
//! perpetual and on spot, per symbol, across a snapshot, and that repeating a state does nothing.

use chimera_kernel::engine::{
    Command, Control, Input, Output, PortfolioEngine, RefusalReason, FLATTEN_RETRY_MS, FLATTEN_TAG,
};
use chimera_kernel::event::{ExecutionReport, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::{OrderIntent, OrderKind, Side};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::risk::{KillMode, KillState};
use chimera_kernel::strategy::OrderRequest;
use chimera_kernel::testing::{
    bar, btc_perp, btc_spot, drain, fill_report, px, qty, Script, ScriptSteps,
};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, SignedQty};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

struct Rig {
    engine: PortfolioEngine,
    steps: ScriptSteps,
    minute: i64,
    trades: u32,
}

impl Rig {
    fn new(instrument: Instrument) -> Self {
        let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
        p.deposit(Asset::new("USDT"), Amount::new(dec!(1000000)));
        p.add_instrument(instrument);
        let (script, steps) = Script::new();
        Self {
            engine: PortfolioEngine::new(p, Box::new(script)),
            steps,
            minute: 0,
            trades: 0,
        }
    }

    /// One bar at 100, the strategy submitting `orders` on it; every output.
    fn bar(&mut self, orders: Vec<OrderRequest>) -> Vec<Output> {
        self.steps
            .lock()
            .expect("steps")
            .push_back(Box::new(move |out| {
                for o in orders {
                    out.submit(o);
                }
            }));
        self.minute += 1;
        let event = bar("BTCUSDT", self.minute, dec!(100));
        self.engine
            .handle(Input::Market(&event), Timestamp(self.minute * 60_000));
        drain(&mut self.engine)
    }

    fn report(&mut self, report: &ExecutionReport) -> Vec<Output> {
        self.engine
            .handle(Input::Execution(report), Timestamp(self.minute * 60_000));
        drain(&mut self.engine)
    }

    fn fill(&mut self, intent: &OrderIntent) -> Vec<Output> {
        self.trades += 1;
        let trade = format!("t{}", self.trades);
        let report = fill_report(
            &intent.client_order_id,
            &trade,
            dec!(100),
            intent.qty.get(),
            Decimal::ZERO,
            true,
        );
        self.report(&report)
    }

    fn canceled(&mut self, id: &ClientOrderId) -> Vec<Output> {
        let mut report = fill_report(id, "unused", dec!(100), dec!(1), Decimal::ZERO, true);
        report.kind = ReportKind::Canceled;
        self.report(&report)
    }

    fn kill(&mut self, state: &KillState) -> Vec<Output> {
        let control = Control::KillSwitch {
            state: state.clone(),
        };
        self.engine
            .handle(Input::Control(&control), Timestamp(self.minute * 60_000));
        drain(&mut self.engine)
    }

    fn position(&self) -> SignedQty {
        self.engine
            .portfolio()
            .position(&Symbol::new("BTCUSDT"))
            .map_or(SignedQty::ZERO, |p| p.qty)
    }

    /// Opens a long of `size` and leaves a non-reduce-only buy limit and a reduce-only sell
    /// limit working; returns the two working intents.
    fn long_with_orders(&mut self, size: Decimal) -> (OrderIntent, OrderIntent) {
        let out = self.bar(vec![market(Side::Buy, size)]);
        let entry = submitted(&out).remove(0);
        self.fill(&entry);
        let out = self.bar(vec![
            limit(Side::Buy, dec!(90), dec!(1)),
            limit(Side::Sell, dec!(120), size).reduce_only(),
        ]);
        let mut working = submitted(&out);
        assert_eq!(working.len(), 2);
        let take_profit = working.remove(1);
        (working.remove(0), take_profit)
    }
}

fn market(side: Side, size: Decimal) -> OrderRequest {
    OrderRequest::market(Symbol::new("BTCUSDT"), side, qty(size), "test")
}

fn limit(side: Side, price: Decimal, size: Decimal) -> OrderRequest {
    OrderRequest::new(
        Symbol::new("BTCUSDT"),
        side,
        qty(size),
        OrderKind::Limit {
            price: px(price),
            post_only: false,
        },
        "test",
    )
}

fn submitted(out: &[Output]) -> Vec<OrderIntent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Command(Command::Submit(i)) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn cancelled(out: &[Output]) -> Vec<ClientOrderId> {
    out.iter()
        .filter_map(|o| match o {
            Output::Command(Command::Cancel(c)) => Some(c.client_order_id.clone()),
            _ => None,
        })
        .collect()
}

fn refusals(out: &[Output]) -> Vec<RefusalReason> {
    out.iter()
        .filter_map(|o| match o {
            Output::Refused(r) => Some(r.reason),
            _ => None,
        })
        .collect()
}

fn all(mode: KillMode) -> KillState {
    let mut state = KillState::default();
    state.engage_all(mode);
    state
}

#[test]
fn halt_entries_refuses_new_exposure_and_lets_reductions_through_reduce_only() {
    let mut rig = Rig::new(btc_perp());
    rig.long_with_orders(dec!(1));
    let out = rig.kill(&all(KillMode::HaltEntries));
    assert!(out.is_empty(), "nothing to cancel or close: {out:?}");
    let out = rig.bar(vec![
        market(Side::Buy, dec!(0.5)),
        market(Side::Sell, dec!(0.4)),
    ]);
    assert_eq!(refusals(&out), vec![RefusalReason::KillSwitch]);
    let sent = submitted(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].side, sent[0].reduce_only), (Side::Sell, true));
    // Selling more than the position would open a short: refused too.
    let out = rig.bar(vec![market(Side::Sell, dec!(5))]);
    assert_eq!(refusals(&out), vec![RefusalReason::KillSwitch]);
    // Released: entries go again.
    rig.kill(&KillState::default());
    let out = rig.bar(vec![market(Side::Buy, dec!(0.5))]);
    assert_eq!(submitted(&out).len(), 1);
}

#[test]
fn reduce_only_cancels_what_could_add_and_keeps_protective_orders() {
    let mut rig = Rig::new(btc_perp());
    let (buy, take_profit) = rig.long_with_orders(dec!(1));
    let out = rig.kill(&all(KillMode::ReduceOnly));
    assert_eq!(cancelled(&out), vec![buy.client_order_id.clone()]);
    assert!(!cancelled(&out).contains(&take_profit.client_order_id));
    // The same state again: nothing more.
    assert!(rig.kill(&all(KillMode::ReduceOnly)).is_empty());
    // Milder after harder: nothing is undone or redone.
    assert!(rig.kill(&all(KillMode::HaltEntries)).is_empty());
}

#[test]
fn cancel_all_cancels_every_order_and_keeps_the_position() {
    let mut rig = Rig::new(btc_perp());
    let (buy, take_profit) = rig.long_with_orders(dec!(1));
    let out = rig.kill(&all(KillMode::CancelAll));
    let mut got = cancelled(&out);
    got.sort();
    let mut want = vec![buy.client_order_id, take_profit.client_order_id];
    want.sort();
    assert_eq!(got, want);
    assert!(submitted(&out).is_empty());
    assert_eq!(rig.position().get(), dec!(1));
}

#[test]
fn flatten_on_a_perpetual_closes_after_the_cancels_and_again_when_a_position_reappears() {
    let mut rig = Rig::new(btc_perp());
    let (buy, take_profit) = rig.long_with_orders(dec!(1));
    let out = rig.kill(&all(KillMode::Flatten));
    assert_eq!(cancelled(&out).len(), 2);
    assert!(
        submitted(&out).is_empty(),
        "no close while orders may still fill"
    );
    assert!(submitted(&rig.canceled(&take_profit.client_order_id)).is_empty());
    // The buy filled before its cancel arrived: the position is now 2.
    let out = rig.fill(&buy);
    let close = submitted(&out);
    assert_eq!(close.len(), 1, "{out:?}");
    assert_eq!(
        (close[0].side, close[0].qty.get(), close[0].reduce_only),
        (Side::Sell, dec!(2), true)
    );
    assert_eq!(close[0].tag.as_str(), FLATTEN_TAG);
    assert!(matches!(close[0].kind, OrderKind::Market));
    // Waiting for the close: no second one.
    assert!(submitted(&rig.bar(vec![])).is_empty());
    rig.fill(&close[0]);
    assert!(rig.position().is_zero());
    // Flat and held flat: an entry is refused, nothing else is sent.
    let out = rig.bar(vec![market(Side::Buy, dec!(1))]);
    assert_eq!(refusals(&out), vec![RefusalReason::KillSwitch]);
    assert!(submitted(&out).is_empty());
}

#[test]
fn flatten_closes_while_paused_and_on_spot() {
    let mut rig = Rig::new(btc_spot());
    let out = rig.bar(vec![market(Side::Buy, dec!(0.5))]);
    rig.fill(&submitted(&out)[0]);
    let pause = Control::Pause {
        reason: "operator".into(),
    };
    rig.engine
        .handle(Input::Control(&pause), Timestamp(rig.minute * 60_000));
    drain(&mut rig.engine);
    let out = rig.kill(&all(KillMode::Flatten));
    let close = submitted(&out);
    assert_eq!(close.len(), 1, "{out:?}");
    assert_eq!((close[0].side, close[0].qty.get()), (Side::Sell, dec!(0.5)));
    rig.fill(&close[0]);
    assert!(rig.position().is_zero());
}

#[test]
fn a_symbol_switch_touches_only_its_symbol_and_survives_a_snapshot() {
    let mut rig = Rig::new(btc_perp());
    let mut other = KillState::default();
    other.engage_symbol(Symbol::new("ETHUSDT"), KillMode::Flatten);
    assert!(rig.kill(&other).is_empty());
    let out = rig.bar(vec![market(Side::Buy, dec!(1))]);
    assert_eq!(submitted(&out).len(), 1);

    let mut btc = KillState::default();
    btc.engage_symbol(Symbol::new("BTCUSDT"), KillMode::HaltEntries);
    rig.kill(&btc);
    let snapshot = rig.engine.snapshot();
    let (script, steps) = Script::new();
    rig.engine = PortfolioEngine::from_snapshot(snapshot, Box::new(script)).expect("restores");
    rig.steps = steps;
    assert_eq!(rig.engine.kill_state(), &btc);
    let out = rig.bar(vec![market(Side::Buy, dec!(1))]);
    assert_eq!(refusals(&out), vec![RefusalReason::KillSwitch]);
}

#[test]
fn a_rejected_close_is_tried_again_after_the_retry_time_not_in_a_loop() {
    let mut rig = Rig::new(btc_perp());
    let out = rig.bar(vec![market(Side::Buy, dec!(1))]);
    rig.fill(&submitted(&out)[0]);
    let close = submitted(&rig.kill(&all(KillMode::Flatten)));
    assert_eq!(close.len(), 1);
    assert!(close[0].close_position && close[0].reduce_only);
    let mut rejected = fill_report(
        &close[0].client_order_id,
        "x",
        dec!(100),
        dec!(1),
        Decimal::ZERO,
        true,
    );
    rejected.kind = ReportKind::Rejected {
        reason: chimera_kernel::event::RejectReason::ReduceOnlyWouldIncrease,
        message: "venue says no".into(),
    };
    assert!(submitted(&rig.report(&rejected)).is_empty(), "not at once");
    // The next bar is a minute later (past the retry time): closed again.
    let again = submitted(&rig.bar(vec![]));
    assert_eq!(again.len(), 1);
    assert_ne!(again[0].client_order_id, close[0].client_order_id);
    const { assert!(FLATTEN_RETRY_MS <= 60_000) };
}
