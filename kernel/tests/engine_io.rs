//! The engine's one-entry, one-drain interface: timers from the one table, controls, the stop
//! hook, strategy cancels and reports, and the portfolio set's ordering rules.

use chimera_kernel::engine::{
    Command, Control, Input, Output, PortfolioEngine, PortfolioSet, RefusalReason,
};
use chimera_kernel::event::{ExecutionReport, MarketEvent, ReportKind};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::order::{Order, Side};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::strategy::{build_strategy, Actions, OrderRequest, Strategy, StrategyContext};
use chimera_kernel::testing::{bar, btc_perp, commands_of, drain, fill_report, px, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::Decimal;

/// Places a resting buy limit every `every_ms` on a timer, cancels each after `ttl_ms`, and
/// remembers every report it was told about.
struct Pinger {
    every_ms: i64,
    ttl_ms: i64,
    next: Timestamp,
    told: Vec<String>,
    stopped: bool,
}

impl Strategy for Pinger {
    fn name(&self) -> &'static str {
        "pinger"
    }
    fn on_market(&mut self, _: &MarketEvent, _: &StrategyContext<'_>, _: &mut Actions) {}
    fn next_deadline(&self) -> Option<Timestamp> {
        Some(self.next)
    }
    fn on_timer(&mut self, ctx: &StrategyContext<'_>, out: &mut Actions) {
        for order in ctx.open_orders() {
            if ctx.now.0 - order.intent.created_at.0 >= self.ttl_ms {
                out.cancel(order.intent.client_order_id.clone());
            }
        }
        out.submit(OrderRequest::limit(
            "BTCUSDT".into(),
            Side::Buy,
            qty(Decimal::ONE),
            px(Decimal::from(10)),
            true,
            "ping",
        ));
        self.next = Timestamp(self.next.0 + self.every_ms);
    }
    fn on_report(
        &mut self,
        report: &ExecutionReport,
        _: &Order,
        _: &StrategyContext<'_>,
        _: &mut Actions,
    ) {
        self.told
            .push(format!("{}:{:?}", report.client_order_id, report.kind));
    }
    fn on_stop(&mut self, ctx: &StrategyContext<'_>, out: &mut Actions) {
        self.stopped = true;
        for order in ctx.open_orders() {
            out.cancel(order.intent.client_order_id.clone());
        }
    }
}

fn portfolio(id: &str) -> Portfolio {
    let mut p = Portfolio::new(PortfolioId::new(id), Asset::new("USDT"));
    p.deposit(
        Asset::new("USDT"),
        chimera_kernel::value::Amount::new(Decimal::from(100_000)),
    );
    p.add_instrument(btc_perp());
    p
}

fn pinger() -> Box<dyn Strategy> {
    Box::new(Pinger {
        every_ms: 1_000,
        ttl_ms: 2_500,
        next: Timestamp(500),
        told: Vec::new(),
        stopped: false,
    })
}

fn accepted(command: &Command, ts: i64) -> ExecutionReport {
    let Command::Submit(intent) = command else {
        panic!("not a submit: {command:?}")
    };
    ExecutionReport {
        portfolio_id: intent.portfolio_id.clone(),
        client_order_id: intent.client_order_id.clone(),
        venue_order_id: None,
        symbol: intent.symbol.clone(),
        ts: Timestamp(ts),
        kind: ReportKind::Accepted,
    }
}

#[test]
fn timers_fire_at_their_own_time_before_the_input_that_passes_them() {
    let mut engine = PortfolioEngine::new(portfolio("p1"), pinger());
    assert_eq!(engine.next_deadline(), Some(Timestamp(500)));
    // One input at 3.2 s: the deadlines at 0.5, 1.5 and 2.5 s fire first, each at its time.
    let event = bar("BTCUSDT", 0, Decimal::from(100));
    let late = MarketEvent::Bar(match event {
        MarketEvent::Bar(b) => chimera_kernel::event::Bar {
            ts: Timestamp(3_200),
            ..b
        },
        _ => unreachable!(),
    });
    let commands = commands_of(&mut engine, Input::Market(&late), Timestamp(3_200));
    let created: Vec<i64> = commands
        .iter()
        .map(|c| match c {
            Command::Submit(i) => i.created_at.0,
            Command::Cancel(c) => c.created_at.0,
            Command::Amend(a) => a.created_at.0,
            Command::CancelReplace(r) => r.cancel.created_at.0,
            Command::SubmitList(l) => l.orders[0].created_at.0,
        })
        .collect();
    assert_eq!(created, vec![500, 1_500, 2_500]);
    assert_eq!(engine.next_deadline(), Some(Timestamp(3_500)));
    assert_eq!(engine.clock(), Some(Timestamp(3_200)));
    // A later timer cancels the first order (older than 2.5 s) and places another.
    let commands = commands_of(&mut engine, Input::Timer, Timestamp(3_500));
    assert!(
        matches!(&commands[..], [Command::Cancel(c), Command::Submit(_)] if c.created_at == Timestamp(3_500)),
        "{commands:?}"
    );
    // Asking to cancel the same order again sends nothing more.
    assert!(commands_of(
        &mut engine,
        Input::Control(&Control::CancelAll),
        Timestamp(3_600)
    )
    .iter()
    .all(|c| matches!(c, Command::Cancel(r) if r.client_order_id.as_str() != "p1-1")));
}

#[test]
fn the_strategy_is_told_every_report_and_finished_orders_leave_through_the_drain() {
    let mut engine = PortfolioEngine::new(portfolio("p1"), pinger());
    let commands = commands_of(&mut engine, Input::Timer, Timestamp(500));
    let report = accepted(&commands[0], 600);
    engine.handle(Input::Execution(&report), Timestamp(600));
    engine.handle(Input::Execution(&report), Timestamp(601));
    let Command::Submit(intent) = &commands[0] else {
        unreachable!()
    };
    let fill = fill_report(
        &intent.client_order_id,
        "t1",
        Decimal::from(10),
        Decimal::ONE,
        Decimal::ZERO,
        true,
    );
    let fill = ExecutionReport {
        portfolio_id: intent.portfolio_id.clone(),
        ..fill
    };
    engine.handle(Input::Execution(&fill), Timestamp(700));
    let outputs = drain(&mut engine);
    assert!(
        matches!(outputs.last(), Some(Output::Finished(order)) if order.intent.client_order_id == intent.client_order_id),
        "{outputs:?}"
    );
    assert_eq!(engine.pending_outputs(), 0);
    assert_eq!(engine.open_orders().count(), 0);
    let snapshot = engine.snapshot();
    assert_eq!(snapshot.open_orders.len(), 0);
    assert_eq!(snapshot.stats.fills, 1);
}

#[test]
fn stop_runs_the_hook_once_then_refuses_new_orders() {
    let mut engine = PortfolioEngine::new(portfolio("p1"), pinger());
    let placed = commands_of(&mut engine, Input::Timer, Timestamp(500));
    assert_eq!(placed.len(), 1);
    let cancels = commands_of(&mut engine, Input::Control(&Control::Stop), Timestamp(600));
    assert!(matches!(&cancels[..], [Command::Cancel(_)]), "{cancels:?}");
    assert!(engine.stopped());
    assert_eq!(engine.next_deadline(), None, "no timers after the stop");
    assert!(commands_of(&mut engine, Input::Control(&Control::Stop), Timestamp(700)).is_empty());
    assert!(engine.snapshot().stopped);
}

#[test]
fn ema_cross_closes_its_position_on_stop_unless_told_not_to() {
    for (close, expected) in [("true", 1), ("false", 0)] {
        let params = [
            ("fast", "2"),
            ("slow", "3"),
            ("qty", "1"),
            ("close_on_stop", close),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut engine = PortfolioEngine::new(
            portfolio("p1"),
            build_strategy("ema-cross", &params).unwrap(),
        );
        let mut position_opened = false;
        for minute in 0..6 {
            let event = bar("BTCUSDT", minute, Decimal::from(100 + minute));
            for command in commands_of(&mut engine, Input::Market(&event), event.ts()) {
                let Command::Submit(intent) = command else {
                    continue;
                };
                let fill = fill_report(
                    &intent.client_order_id,
                    "t",
                    Decimal::from(100 + minute),
                    intent.qty.get(),
                    Decimal::ZERO,
                    true,
                );
                let fill = ExecutionReport {
                    portfolio_id: intent.portfolio_id.clone(),
                    ..fill
                };
                engine.handle(Input::Execution(&fill), event.ts());
                position_opened = true;
            }
        }
        assert!(position_opened);
        let stop = commands_of(
            &mut engine,
            Input::Control(&Control::Stop),
            Timestamp(400_000),
        );
        assert_eq!(stop.len(), expected, "close_on_stop={close}: {stop:?}");
        if let [Command::Submit(intent)] = &stop[..] {
            assert!(intent.reduce_only && intent.side == Side::Sell);
            assert_eq!(intent.tag.as_str(), "stop");
        }
    }
}

#[test]
fn pause_refuses_with_a_reason_code_and_cancels_still_go_out() {
    let mut engine = PortfolioEngine::new(portfolio("p1"), pinger());
    commands_of(&mut engine, Input::Timer, Timestamp(500));
    engine.handle(
        Input::Control(&Control::Pause {
            reason: "operator".into(),
        }),
        Timestamp(600),
    );
    engine.handle(Input::Timer, Timestamp(3_500));
    let outputs = drain(&mut engine);
    let refused = outputs
        .iter()
        .filter(|o| matches!(o, Output::Refused(r) if r.reason == RefusalReason::TradingPaused))
        .count();
    let cancels = outputs
        .iter()
        .filter(|o| matches!(o, Output::Command(Command::Cancel(_))))
        .count();
    assert_eq!((refused, cancels), (3, 1), "{outputs:?}");
    let text = serde_json::to_string(&outputs[0]).unwrap();
    assert!(text.contains("\"trading_paused\""), "{text}");
}

#[test]
fn a_portfolio_set_routes_by_interest_and_fires_every_due_timer_first() {
    let mut set = PortfolioSet::new();
    let a = set.add(PortfolioEngine::new(portfolio("a"), pinger()));
    let mut eth = Portfolio::new(PortfolioId::new("b"), Asset::new("USDT"));
    eth.add_instrument(
        chimera_kernel::instrument::Instrument::linear(
            "ETHUSDT",
            "USDT",
            chimera_kernel::instrument::MarketKind::Perp,
        )
        .unwrap(),
    );
    let b = set.add(PortfolioEngine::new(eth, pinger()));
    set.advance(Timestamp(499));
    assert!(set.poll_output().is_none());
    let event = bar("BTCUSDT", 0, Decimal::from(100));
    set.on_market(&MarketEvent::Bar(match event {
        MarketEvent::Bar(bar) => chimera_kernel::event::Bar {
            ts: Timestamp(1_000),
            ..bar
        },
        _ => unreachable!(),
    }));
    let outputs: Vec<(usize, Output)> = std::iter::from_fn(|| set.poll_output()).collect();
    let owners: Vec<usize> = outputs.iter().map(|(i, _)| *i).collect();
    assert_eq!(owners, vec![a, b], "both timers fired, in portfolio order");
    assert_eq!(set.clock(), Some(Timestamp(1_000)));
    // Time never goes back: a report stamped earlier is applied at the set's time.
    let (_, Output::Command(command)) = &outputs[0] else {
        panic!()
    };
    assert!(set.on_report(&accepted(command, 10)));
    assert_eq!(set.engine(a).clock(), Some(Timestamp(1_000)));
    assert_eq!(set.control(None, &Control::CancelAll), 2);
}

#[test]
fn a_liquidation_reaches_the_books_once_and_is_recorded_as_such() {
    let mut engine = PortfolioEngine::new(portfolio("p1"), pinger());
    let mut report = fill_report(
        &chimera_kernel::ids::ClientOrderId::new("liq-p1-1"),
        "liq-p1-1.1",
        Decimal::from(90),
        Decimal::ONE,
        Decimal::ZERO,
        true,
    );
    let ReportKind::Filled(fill) = report.kind.clone() else {
        panic!("a fill report")
    };
    report.kind = ReportKind::Liquidated {
        side: Side::Sell,
        fill,
    };
    engine.handle(Input::Execution(&report), Timestamp(5));
    let outputs = drain(&mut engine);
    assert!(
        matches!(outputs.as_slice(), [Output::Issue(issue)] if issue.kind == chimera_kernel::engine::IssueKind::Liquidation),
        "{outputs:?}"
    );
    let held = |e: &PortfolioEngine| {
        e.portfolio()
            .position(&"BTCUSDT".into())
            .map(|p| p.qty.get())
    };
    assert_eq!(
        held(&engine),
        Some(-Decimal::ONE),
        "the liquidating sell is booked"
    );
    engine.handle(Input::Execution(&report), Timestamp(6));
    assert!(
        drain(&mut engine).is_empty(),
        "a replayed liquidation is ignored"
    );
    assert_eq!(held(&engine), Some(-Decimal::ONE));
}
