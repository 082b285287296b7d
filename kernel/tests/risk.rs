//! Pre-trade risk checks: the pure checks table by table, then the engine refusing a
//! strategy's orders with the check's reason and letting reducing orders through.

use chimera_kernel::engine::{Command, Input, Output, PortfolioEngine, RefusalReason};
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::risk::{OrderCheck, PortfolioCheck, RiskCheck, RiskLimits};
use chimera_kernel::strategy::{Actions, OrderRequest};
use chimera_kernel::testing::{bar, btc_perp, drain, fill_report, qty};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

fn order(side: Side, q: Decimal, limit: Option<Decimal>) -> OrderCheck {
    OrderCheck {
        side,
        qty: q,
        limit_price: limit,
        price: limit.or(Some(dec!(100))),
        mid: Some(dec!(100)),
        multiplier: Decimal::ONE,
    }
}

fn book(position: Decimal, open_orders: usize) -> PortfolioCheck {
    PortfolioCheck {
        position,
        equity: dec!(10000),
        open_orders,
    }
}

#[test]
fn each_check_refuses_what_it_should_and_passes_the_rest() {
    let limits = RiskLimits {
        max_position_ratio: Some(dec!(2)),
        max_order_notional: Some(dec!(15000)),
        max_open_orders: Some(3),
        price_band_bps: Some(dec!(50)),
        max_orders_per_window: Some(5),
        rate_window_ms: Some(1_000),
        ..RiskLimits::default()
    };
    let cases = [
        (
            "within every limit",
            order(Side::Buy, dec!(100), None),
            book(dec!(0), 0),
            0,
            Ok(()),
        ),
        (
            "position of 210 at 100 is 2.1 × equity",
            order(Side::Buy, dec!(110), None),
            book(dec!(100), 0),
            0,
            Err(RiskCheck::PositionRatio),
        ),
        (
            "a short counts by its size",
            order(Side::Sell, dec!(201), None),
            book(dec!(0), 0),
            0,
            Err(RiskCheck::PositionRatio),
        ),
        (
            "reducing an oversized position is always allowed",
            order(Side::Sell, dec!(190), None),
            book(dec!(300), 0),
            0,
            Ok(()),
        ),
        (
            "flipping through zero is not reducing (to −210)",
            order(Side::Sell, dec!(510), None),
            book(dec!(300), 0),
            0,
            Err(RiskCheck::PositionRatio),
        ),
        (
            "15 000.01 of notional",
            OrderCheck {
                price: Some(dec!(100.0001)),
                ..order(Side::Buy, dec!(150), None)
            },
            book(dec!(-100), 0),
            0,
            Err(RiskCheck::OrderNotional),
        ),
        (
            "a fourth working order",
            order(Side::Buy, dec!(1), None),
            book(dec!(0), 3),
            0,
            Err(RiskCheck::OpenOrders),
        ),
        (
            "a limit 0.6 % from the mid",
            order(Side::Buy, dec!(1), Some(dec!(100.6))),
            book(dec!(0), 0),
            0,
            Err(RiskCheck::PriceBand),
        ),
        (
            "a limit 0.5 % from the mid",
            order(Side::Buy, dec!(1), Some(dec!(99.5))),
            book(dec!(0), 0),
            0,
            Ok(()),
        ),
        (
            "a sixth order in the window",
            order(Side::Buy, dec!(1), None),
            book(dec!(0), 0),
            5,
            Err(RiskCheck::OrderRate),
        ),
    ];
    for (what, o, p, recent, want) in cases {
        assert_eq!(limits.check(&o, &p, recent), want, "{what}");
    }
    assert_eq!(
        RiskLimits::default().check(&order(Side::Buy, dec!(1e9), None), &book(dec!(0), 99), 99),
        Ok(()),
        "no limits, no refusals"
    );
}

type Step = chimera_kernel::testing::ScriptStep;

fn market(side: Side, q: Decimal) -> Step {
    Box::new(move |out: &mut Actions| {
        out.submit(OrderRequest::market("BTCUSDT".into(), side, qty(q), "t"));
    })
}

#[test]
fn the_engine_refuses_with_the_checks_reason_and_counts_the_rate_in_engine_time() {
    let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
    p.deposit(Asset::new("USDT"), Amount::new(dec!(10000)));
    p.add_instrument(btc_perp());
    let steps: chimera_kernel::testing::ScriptSteps = Arc::new(Mutex::new(VecDeque::new()));
    let mut engine = PortfolioEngine::new(
        p,
        Box::new(chimera_kernel::testing::Script(Arc::clone(&steps))),
    )
    .with_risk(RiskLimits {
        max_order_notional: Some(dec!(5000)),
        max_orders_per_window: Some(2),
        rate_window_ms: Some(120_000),
        ..RiskLimits::default()
    });
    let run = |engine: &mut PortfolioEngine, step: Step, minute: i64| {
        steps.lock().expect("steps").push_back(step);
        let event = bar("BTCUSDT", minute, dec!(100));
        engine.handle(Input::Market(&event), Timestamp(minute * 60_000));
        drain(engine)
    };
    let refused = |outputs: &[Output]| match outputs {
        [Output::Refused(r)] => Some(r.reason),
        _ => None,
    };
    // Bars close at 100: 51 is a notional of 5 100.
    assert_eq!(
        refused(&run(&mut engine, market(Side::Buy, dec!(51)), 1)),
        Some(RefusalReason::RiskOrderNotional)
    );
    let sent = run(&mut engine, market(Side::Buy, dec!(10)), 2);
    let Some(Output::Command(Command::Submit(first))) = sent.first() else {
        panic!("{sent:?}")
    };
    let fill: ExecutionReport = fill_report(
        &first.client_order_id,
        "t1",
        dec!(100),
        dec!(10),
        Decimal::ZERO,
        true,
    );
    engine.handle(Input::Execution(&fill), Timestamp(120_000));
    drain(&mut engine);
    assert!(matches!(
        &run(&mut engine, market(Side::Buy, dec!(1)), 2)[..],
        [Output::Command(_)]
    ));
    assert_eq!(
        refused(&run(&mut engine, market(Side::Buy, dec!(1)), 3)),
        Some(RefusalReason::RiskOrderRate),
        "a third order within two minutes"
    );
    assert!(
        matches!(
            &run(&mut engine, market(Side::Sell, dec!(1)), 5)[..],
            [Output::Command(_)]
        ),
        "the window moved on"
    );
}

#[test]
fn exits_trigger_on_losses_before_gains_in_percent_and_in_atrs() {
    use chimera_kernel::risk::RiskTrigger as T;
    let limits = RiskLimits {
        stop_loss_pct: Some(dec!(0.02)),
        take_profit_pct: Some(dec!(0.05)),
        stop_loss_atr: Some(dec!(1.5)),
        take_profit_atr: Some(dec!(4)),
        ..RiskLimits::default()
    };
    let cases = [
        ("long, down 2 %", dec!(1), dec!(98), None, Some(T::StopLoss)),
        ("long, down 1.9 %", dec!(1), dec!(98.1), None, None),
        (
            "long, down 1.6 with an ATR of 1",
            dec!(1),
            dec!(98.4),
            Some(1.0),
            Some(T::StopLossAtr),
        ),
        (
            "long, up 4.1 with an ATR of 1",
            dec!(1),
            dec!(104.1),
            Some(1.0),
            Some(T::TakeProfitAtr),
        ),
        (
            "long, up 5 %",
            dec!(1),
            dec!(105),
            None,
            Some(T::TakeProfit),
        ),
        (
            "short, up 2 %",
            dec!(-1),
            dec!(102),
            None,
            Some(T::StopLoss),
        ),
        (
            "short, down 5 %",
            dec!(-1),
            dec!(95),
            None,
            Some(T::TakeProfit),
        ),
        ("flat", dec!(0), dec!(50), None, None),
    ];
    for (what, q, price, atr, want) in cases {
        assert_eq!(
            limits.position_exit(q, dec!(100), price, atr),
            want,
            "{what}"
        );
    }
    let breaker = RiskLimits {
        max_drawdown_pct: Some(dec!(0.1)),
        ..RiskLimits::default()
    };
    assert!(!breaker.drawdown_tripped(dec!(1000), dec!(901)));
    assert!(breaker.drawdown_tripped(dec!(1000), dec!(900)));
}

fn engine_with(
    limits: RiskLimits,
    steps: &chimera_kernel::testing::ScriptSteps,
) -> PortfolioEngine {
    let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
    p.deposit(Asset::new("USDT"), Amount::new(dec!(10000)));
    p.add_instrument(btc_perp());
    PortfolioEngine::new(
        p,
        Box::new(chimera_kernel::testing::Script(Arc::clone(steps))),
    )
    .with_risk(limits)
}

/// Feeds a bar closing at `close` (with one scripted step, if any) and returns the outputs.
fn step(
    engine: &mut PortfolioEngine,
    steps: &chimera_kernel::testing::ScriptSteps,
    minute: i64,
    close: Decimal,
    action: Option<Step>,
) -> Vec<Output> {
    if let Some(action) = action {
        steps.lock().expect("steps").push_back(action);
    }
    let event = bar("BTCUSDT", minute, close);
    engine.handle(Input::Market(&event), Timestamp(minute * 60_000));
    drain(engine)
}

/// Buys `q` at 100 (the strategy's market order, filled).
fn enter(engine: &mut PortfolioEngine, steps: &chimera_kernel::testing::ScriptSteps, q: Decimal) {
    let out = step(engine, steps, 1, dec!(100), Some(market(Side::Buy, q)));
    let Some(Output::Command(Command::Submit(intent))) = out.first() else {
        panic!("{out:?}")
    };
    let fill = fill_report(
        &intent.client_order_id,
        "t-in",
        dec!(100),
        q,
        Decimal::ZERO,
        true,
    );
    engine.handle(Input::Execution(&fill), Timestamp(60_000));
    drain(engine);
}

fn risk_closes(outputs: &[Output]) -> Vec<(chimera_kernel::risk::RiskTrigger, String)> {
    let trigger = outputs.iter().find_map(|o| match o {
        Output::Risk(a) => Some(a.trigger),
        _ => None,
    });
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Command(Command::Submit(i)) if i.close_position => {
                Some((trigger?, i.tag.to_string()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_stop_loss_closes_the_position_once() {
    use chimera_kernel::risk::RiskTrigger as T;
    let steps = Arc::new(Mutex::new(VecDeque::new()));
    let mut engine = engine_with(
        RiskLimits {
            stop_loss_pct: Some(dec!(0.02)),
            ..RiskLimits::default()
        },
        &steps,
    );
    enter(&mut engine, &steps, dec!(1));
    assert!(risk_closes(&step(&mut engine, &steps, 2, dec!(98.5), None)).is_empty());
    assert_eq!(
        risk_closes(&step(&mut engine, &steps, 3, dec!(97.9), None)),
        [(T::StopLoss, "risk:stop_loss".to_owned())]
    );
    assert!(
        step(&mut engine, &steps, 4, dec!(97), None).is_empty(),
        "the close is working: nothing sent again"
    );
}

#[test]
fn the_drawdown_breaker_closes_everything_and_pauses_the_portfolio() {
    use chimera_kernel::risk::RiskTrigger as T;
    let steps = Arc::new(Mutex::new(VecDeque::new()));
    let mut engine = engine_with(
        RiskLimits {
            max_drawdown_pct: Some(dec!(0.1)),
            ..RiskLimits::default()
        },
        &steps,
    );
    enter(&mut engine, &steps, dec!(50));
    // 50 at 100 on 10 000: at 79.5 equity is 8 975, 10.25 % below the peak.
    assert!(risk_closes(&step(&mut engine, &steps, 2, dec!(81), None)).is_empty());
    let out = step(&mut engine, &steps, 3, dec!(79.5), None);
    assert_eq!(
        risk_closes(&out),
        [(T::DrawdownBreaker, "risk:drawdown_breaker".to_owned())]
    );
    assert!(engine.halted().is_some_and(|r| r.contains("drawdown")));
    let refused = step(
        &mut engine,
        &steps,
        4,
        dec!(79),
        Some(market(Side::Buy, dec!(1))),
    );
    assert!(
        matches!(&refused[..], [Output::Refused(r)] if r.reason == RefusalReason::TradingPaused),
        "{refused:?}"
    );
}

#[test]
fn atr_exits_read_the_atr_the_portfolio_set_computes() {
    use chimera_kernel::engine::PortfolioSet;
    let steps = Arc::new(Mutex::new(VecDeque::new()));
    let engine = engine_with(
        RiskLimits {
            stop_loss_atr: Some(dec!(2)),
            atr_period: Some(3),
            ..RiskLimits::default()
        },
        &steps,
    );
    assert_eq!(
        engine.features().wanted(),
        [("BTCUSDT".into(), "atr:3".parse().expect("spec"))],
        "the risk's ATR is asked for"
    );
    let mut set = PortfolioSet::new();
    set.add(engine);
    steps
        .lock()
        .expect("steps")
        .push_back(market(Side::Buy, dec!(1)));
    // Flat bars closing at 99 and 101 in turn: true ranges of 2, so ATR(3) = 2 once warm.
    for minute in 0..5 {
        let close = if minute % 2 == 0 { dec!(99) } else { dec!(101) };
        set.on_market(&bar("BTCUSDT", minute, close));
    }
    let submitted = std::iter::from_fn(|| set.poll_output())
        .find_map(|(_, o)| match o {
            Output::Command(Command::Submit(i)) => Some(i),
            _ => None,
        })
        .expect("entry");
    let mut fill = fill_report(
        &submitted.client_order_id,
        "t-in",
        dec!(100),
        dec!(1),
        Decimal::ZERO,
        true,
    );
    fill.ts = Timestamp(5 * 60_000);
    set.on_report(&fill);
    while set.poll_output().is_some() {}
    // From 99 to 97: TR 2, ATR stays 2; 3 below the entry is less than 2 ATRs (4).
    set.on_market(&bar("BTCUSDT", 6, dec!(97)));
    let quiet: Vec<Output> = std::iter::from_fn(|| set.poll_output())
        .map(|(_, o)| o)
        .collect();
    assert!(
        risk_closes(&quiet).is_empty(),
        "3 below, 2 ATRs are 4: {quiet:?}"
    );
    // To 95.5: TR 1.5, ATR (2·2 + 1.5)/3 ≈ 1.83, 2 ATRs ≈ 3.67 < 4.5 below the entry.
    set.on_market(&bar("BTCUSDT", 7, dec!(95.5)));
    let outputs: Vec<Output> = std::iter::from_fn(|| set.poll_output())
        .map(|(_, o)| o)
        .collect();
    assert_eq!(
        risk_closes(&outputs),
        [(
            chimera_kernel::risk::RiskTrigger::StopLossAtr,
            "risk:stop_loss_atr".to_owned()
        )],
        "{outputs:?}"
    );
}
