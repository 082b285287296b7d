//! A strategy amending and cancel-replacing its orders through the engine: what the engine
//! checks itself (refusals with their reasons), the commands it sends (numbered amendments,
//! the replacement checked like a new order), and how the venue's answers move the order.

use chimera_kernel::engine::{Command, Control, Input, Output, PortfolioEngine, RefusalReason};
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::execution::ExecSpec;
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId};
use chimera_kernel::order::{Order, OrderKind, Side, TriggerSource};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{Actions, OrderRequest};
use chimera_kernel::testing::{bar, btc_perp, drain, fill_report, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use chimera_kernel::Decimal;
use rust_decimal_macros::dec;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

struct Rig {
    engine: PortfolioEngine,
    steps: chimera_kernel::testing::ScriptSteps,
    minute: i64,
}

impl Rig {
    fn new() -> Self {
        let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
        p.deposit(Asset::new("USDT"), Amount::new(Decimal::from(100_000)));
        p.add_instrument(btc_perp());
        let steps = Arc::new(Mutex::new(VecDeque::new()));
        let engine = PortfolioEngine::new(
            p,
            Box::new(chimera_kernel::testing::Script(Arc::clone(&steps))),
        );
        Self {
            engine,
            steps,
            minute: 0,
        }
    }

    /// Runs `step` on the next bar and returns the outputs.
    fn act(&mut self, step: impl FnOnce(&mut Actions) + Send + 'static) -> Vec<Output> {
        self.steps.lock().expect("script").push_back(Box::new(step));
        self.minute += 1;
        let event = bar("BTCUSDT", self.minute, dec!(100));
        self.engine
            .handle(Input::Market(&event), Timestamp(self.minute * 60_000));
        drain(&mut self.engine)
    }

    fn report(&mut self, id: &ClientOrderId, kind: ReportKind) -> Vec<Output> {
        let report = ExecutionReport {
            portfolio_id: PortfolioId::new("p1"),
            client_order_id: id.clone(),
            venue_order_id: None,
            symbol: "BTCUSDT".into(),
            ts: Timestamp(self.minute * 60_000),
            kind,
        };
        self.engine
            .handle(Input::Execution(&report), Timestamp(self.minute * 60_000));
        drain(&mut self.engine)
    }

    fn order(&self, id: &ClientOrderId) -> Order {
        self.engine
            .open_orders()
            .find(|o| o.intent.client_order_id == *id)
            .cloned()
            .expect("working")
    }

    /// A resting buy limit of 1 at 90, accepted.
    fn resting_bid(&mut self, reduce_only: bool) -> ClientOrderId {
        let outputs = self.act(move |out| {
            let mut request = OrderRequest::limit(
                "BTCUSDT".into(),
                Side::Buy,
                qty(dec!(1)),
                px(dec!(90)),
                false,
                "bid",
            );
            request.reduce_only = reduce_only;
            out.submit(request);
        });
        let id = match &outputs[..] {
            [Output::Command(Command::Submit(intent))] => intent.client_order_id.clone(),
            other => panic!("expected one submit, got {other:?}"),
        };
        self.report(&id, ReportKind::Accepted);
        id
    }
}

/// The signed quantity the engine's working orders add to the position.
fn working(engine: &PortfolioEngine) -> Decimal {
    engine
        .open_orders()
        .map(|o| o.projected_open_qty().get())
        .sum()
}

fn refusal(outputs: &[Output]) -> RefusalReason {
    match outputs {
        [Output::Refused(r)] => r.reason,
        other => panic!("expected one refusal, got {other:?}"),
    }
}

#[test]
fn an_amend_is_numbered_rounded_and_applied_when_the_venue_confirms_it() {
    let mut rig = Rig::new();
    let id = rig.resting_bid(false);
    let target = id.clone();
    let outputs =
        rig.act(move |out| out.amend(target, Some(px(dec!(91.004))), Some(qty(dec!(2.0009)))));
    let [Output::Command(Command::Amend(request))] = &outputs[..] else {
        panic!("expected an amend, got {outputs:?}")
    };
    assert_eq!(request.amendment, 1);
    assert_eq!(request.price, Some(px(dec!(91))), "rounded to the tick");
    assert_eq!(request.qty, qty(dec!(2)), "rounded down to the lot");
    assert_eq!(
        Command::Amend(request.clone()).idempotency_key(),
        format!("amend:{id}:1")
    );
    assert_eq!(
        rig.order(&id).intent.qty,
        qty(dec!(1)),
        "unchanged until confirmed"
    );

    let confirmed = ReportKind::Amended {
        price: request.price,
        qty: request.qty,
        amendment: 1,
    };
    rig.report(&id, confirmed.clone());
    let order = rig.order(&id);
    assert_eq!(order.intent.qty, qty(dec!(2)));
    assert_eq!(order.intent.kind.limit_price(), Some(px(dec!(91))));
    assert_eq!(working(&rig.engine), dec!(2));

    // A second amend, then the first confirmation again and late: nothing moves back.
    let target = id.clone();
    let outputs = rig.act(move |out| out.amend(target, None, Some(qty(dec!(3)))));
    assert!(matches!(&outputs[..], [Output::Command(Command::Amend(r))] if r.amendment == 2));
    rig.report(
        &id,
        ReportKind::Amended {
            price: Some(px(dec!(91))),
            qty: qty(dec!(3)),
            amendment: 2,
        },
    );
    rig.report(&id, confirmed);
    assert_eq!(rig.order(&id).intent.qty, qty(dec!(3)));
    assert!(
        rig.engine.stats().issues == 0,
        "a repeated confirmation is no issue"
    );
}

#[test]
fn a_refused_amend_leaves_the_order_and_the_strategy_hears_of_it() {
    let mut rig = Rig::new();
    let id = rig.resting_bid(false);
    let target = id.clone();
    rig.act(move |out| out.amend(target, Some(px(dec!(80))), None));
    rig.report(
        &id,
        ReportKind::AmendRejected {
            reason: RejectReason::InsufficientBalance,
            message: "-2019 Margin is insufficient.".into(),
            amendment: 1,
        },
    );
    assert_eq!(rig.order(&id).intent.kind.limit_price(), Some(px(dec!(90))));
    // The next amend is number 2: numbers are never reused.
    let target = id.clone();
    let outputs = rig.act(move |out| out.amend(target, Some(px(dec!(85))), None));
    assert!(matches!(&outputs[..], [Output::Command(Command::Amend(r))] if r.amendment == 2));
}

#[test]
fn the_engine_refuses_amends_that_cannot_be() {
    let mut rig = Rig::new();
    let id = rig.resting_bid(false);
    let ghost = ClientOrderId::new("nope");
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(ghost, None, Some(qty(dec!(2)))))),
        RefusalReason::UnknownOrder
    );
    let target = id.clone();
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(target, Some(px(dec!(90))), Some(qty(dec!(1)))))),
        RefusalReason::InvalidAmend,
        "nothing to change"
    );
    rig.report(
        &id,
        fill_report(&id, "t1", dec!(90), dec!(0.5), Decimal::ZERO, false).kind,
    );
    let target = id.clone();
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(target, None, Some(qty(dec!(0.5)))))),
        RefusalReason::InvalidAmend,
        "not at or below what executed"
    );

    let stop = rig.act(|out| {
        out.submit(OrderRequest::new(
            "BTCUSDT".into(),
            Side::Sell,
            qty(dec!(0.1)),
            OrderKind::StopMarket {
                stop_price: px(dec!(80)),
                trigger: TriggerSource::Last,
            },
            "stop",
        ));
    });
    let [Output::Command(Command::Submit(stop))] = &stop[..] else {
        panic!("{stop:?}")
    };
    let stop_id = stop.client_order_id.clone();
    rig.report(&stop_id, ReportKind::Accepted);
    let target = stop_id.clone();
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(target, Some(px(dec!(79))), None))),
        RefusalReason::InvalidAmend,
        "a stop-market has no limit price"
    );

    rig.engine.handle(
        Input::Control(&Control::Pause {
            reason: "ops".into(),
        }),
        Timestamp(0),
    );
    drain(&mut rig.engine);
    let target = id.clone();
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(target, None, Some(qty(dec!(2)))))),
        RefusalReason::TradingPaused,
        "paused: no more quantity"
    );
    let target = id.clone();
    let outputs = rig.act(move |out| out.amend(target, None, Some(qty(dec!(0.8)))));
    assert!(
        matches!(&outputs[..], [Output::Command(Command::Amend(_))]),
        "paused: less is fine, {outputs:?}"
    );
}

#[test]
fn a_reduce_only_order_grows_only_as_far_as_the_position() {
    let mut rig = Rig::new();
    // A short of 1 to reduce.
    let sell = rig.act(|out| {
        out.submit(OrderRequest::market(
            "BTCUSDT".into(),
            Side::Sell,
            qty(dec!(1)),
            "open",
        ));
    });
    let [Output::Command(Command::Submit(sell))] = &sell[..] else {
        panic!("{sell:?}")
    };
    let sell_id = sell.client_order_id.clone();
    rig.report(
        &sell_id,
        fill_report(&sell_id, "t0", dec!(100), dec!(1), Decimal::ZERO, true).kind,
    );
    let id = rig.resting_bid(true);
    let target = id.clone();
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(target, None, Some(qty(dec!(1.5)))))),
        RefusalReason::ReduceOnlyWouldIncrease
    );
}

#[test]
fn an_algorithms_child_is_the_algorithms_to_change() {
    let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
    p.deposit(Asset::new("USDT"), Amount::new(Decimal::from(100_000)));
    p.add_instrument(btc_perp());
    let steps: chimera_kernel::testing::ScriptSteps = Arc::new(Mutex::new(VecDeque::new()));
    let engine = PortfolioEngine::new(
        p,
        Box::new(chimera_kernel::testing::Script(Arc::clone(&steps))),
    )
    .with_execution(ExecSpec::from_params("maker-taker", &[]).expect("spec"));
    let mut rig = Rig {
        engine,
        steps,
        minute: 0,
    };
    let outputs = rig.act(|out| {
        out.submit(OrderRequest::market(
            "BTCUSDT".into(),
            Side::Buy,
            qty(dec!(1)),
            "in",
        ));
    });
    let child = outputs
        .iter()
        .find_map(|o| match o {
            Output::Command(Command::Submit(i)) => Some(i.client_order_id.clone()),
            _ => None,
        })
        .expect("a child order");
    assert_eq!(
        refusal(&rig.act(move |out| out.amend(child, None, Some(qty(dec!(0.5)))))),
        RefusalReason::WorkedByAlgorithm
    );
}

#[test]
fn cancel_replace_checks_the_replacement_and_survives_a_failed_cancel() {
    let mut rig = Rig::new();
    let id = rig.resting_bid(false);
    let target = id.clone();
    let outputs = rig.act(move |out| {
        out.cancel_replace(
            target,
            OrderRequest::limit(
                "BTCUSDT".into(),
                Side::Buy,
                qty(dec!(1)),
                px(dec!(95)),
                true,
                "bid",
            ),
        );
    });
    let [Output::Command(Command::CancelReplace(request))] = &outputs[..] else {
        panic!("expected a cancel-replace, got {outputs:?}")
    };
    assert_eq!(request.cancel.client_order_id, id);
    let new_id = request.replacement.client_order_id.clone();
    assert_ne!(new_id, id);
    assert!(rig.order(&id).cancel_requested);
    assert_eq!(
        working(&rig.engine),
        dec!(2),
        "both count until the venue answers"
    );

    // The old order filled before the cancel arrived: the cancel fails, the replacement is
    // not placed.
    rig.report(
        &id,
        fill_report(&id, "t1", dec!(90), dec!(1), Decimal::ZERO, true).kind,
    );
    rig.report(
        &id,
        ReportKind::CancelRejected {
            reason: RejectReason::UnknownOrder,
        },
    );
    let outputs = rig.report(
        &new_id,
        ReportKind::Rejected {
            reason: RejectReason::CancelReplaceFailed,
            message: "-2022 Order cancel-replace failed.".into(),
        },
    );
    assert!(outputs
        .iter()
        .any(|o| matches!(o, Output::Finished(order) if order.intent.client_order_id == new_id)));
    assert_eq!(working(&rig.engine), dec!(0));
    assert!(rig.engine.stats().issues == 0, "{:?}", rig.engine.stats());

    // A replacement that would break a rule is refused like a new order would be.
    let id = rig.resting_bid(false);
    let outputs = rig.act(move |out| {
        out.cancel_replace(
            id,
            OrderRequest::market("BTCUSDT".into(), Side::Sell, qty(dec!(5)), "x").reduce_only(),
        );
    });
    assert_eq!(refusal(&outputs), RefusalReason::ReduceOnlyWouldIncrease);
}
