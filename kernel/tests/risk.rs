//! Pre-trade risk checks: the pure checks table by table, then the engine refusing a
//! strategy's orders with the check's reason and letting reducing orders through.

use chimera_kernel::engine::{Command, Input, Output, PortfolioEngine, RefusalReason};
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::order::Side;
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::risk::{OrderCheck, PortfolioCheck, RiskCheck, RiskLimits};
use chimera_kernel::strategy::{Actions, OrderRequest, Strategy, StrategyContext};
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

type Step = Box<dyn FnOnce(&mut Actions) + Send>;

struct Script(Arc<Mutex<VecDeque<Step>>>);

impl Strategy for Script {
    fn name(&self) -> &'static str {
        "script"
    }
    fn on_market(&mut self, _: &MarketEvent, _: &StrategyContext<'_>, out: &mut Actions) {
        if let Some(step) = self.0.lock().expect("script").pop_front() {
            step(out);
        }
    }
}

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
    let steps: Arc<Mutex<VecDeque<Step>>> = Arc::new(Mutex::new(VecDeque::new()));
    let mut engine =
        PortfolioEngine::new(p, Box::new(Script(Arc::clone(&steps)))).with_risk(RiskLimits {
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
