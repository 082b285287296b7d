//! The position manager: its pure levels (trailing, ladder, liquidation), then the engine
//! placing, trailing and cancelling protective orders and making add-ons.

use chimera_kernel::engine::{Command, Output, PortfolioEngine, PortfolioSet};
use chimera_kernel::ids::{Asset, PortfolioId};
use chimera_kernel::order::{OrderIntent, OrderKind, Side};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::position_manager::{
    liquidation_distance_pct, liquidation_price, trail, ManagerConfig, TakeProfitLevel,
};
use chimera_kernel::strategy::OrderRequest;
use chimera_kernel::testing::{bar, btc_perp, fill_report, qty, Script, ScriptSteps};
use chimera_kernel::value::Amount;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

#[test]
fn a_trailing_stop_only_moves_in_the_positions_favour() {
    let cases = [
        (Side::Buy, None, dec!(110), dec!(5), Some(dec!(105))),
        (
            Side::Buy,
            Some(dec!(104)),
            dec!(110),
            dec!(5),
            Some(dec!(105)),
        ),
        (Side::Buy, Some(dec!(106)), dec!(110), dec!(5), None),
        (Side::Buy, Some(dec!(105)), dec!(110), dec!(5), None),
        (Side::Sell, None, dec!(90), dec!(5), Some(dec!(95))),
        (
            Side::Sell,
            Some(dec!(96)),
            dec!(90),
            dec!(5),
            Some(dec!(95)),
        ),
        (Side::Sell, Some(dec!(94)), dec!(90), dec!(5), None),
    ];
    for (side, current, best, distance, expected) in cases {
        assert_eq!(
            trail(side, current, best, distance),
            expected,
            "{side:?} {current:?}"
        );
    }
}

#[test]
fn liquidation_price_and_distance_follow_margin_and_maintenance() {
    // 10× long at 100 with 0.4 % maintenance: 100 · (1 − 0.1 + 0.004).
    assert_eq!(
        liquidation_price(Side::Buy, dec!(100), dec!(10), dec!(0.004)),
        Some(dec!(90.4))
    );
    assert_eq!(
        liquidation_price(Side::Sell, dec!(100), dec!(10), dec!(0.004)),
        Some(dec!(109.6))
    );
    assert_eq!(
        liquidation_price(Side::Buy, dec!(100), dec!(1), dec!(0.004)),
        None,
        "unlevered long"
    );
    assert_eq!(
        liquidation_distance_pct(dec!(100), dec!(90.4)),
        Some(dec!(9.6))
    );
}

#[test]
fn the_ladder_scales_with_tp_mult_and_bad_configs_list_every_problem() {
    let config = ManagerConfig {
        take_profit: vec![
            TakeProfitLevel {
                pct: Some(dec!(1)),
                atr: None,
                fraction: dec!(0.5),
            },
            TakeProfitLevel {
                pct: None,
                atr: Some(dec!(2)),
                fraction: dec!(0.5),
            },
        ],
        ..ManagerConfig::default()
    };
    assert_eq!(
        config.ladder(Side::Sell, dec!(100), Some(dec!(3)), dec!(2)),
        vec![(dec!(98), dec!(0.5)), (dec!(88), dec!(0.5))]
    );
    assert_eq!(
        config.ladder(Side::Buy, dec!(100), None, dec!(1)).len(),
        1,
        "the ATR rung waits"
    );
    let bad = ManagerConfig {
        stop_pct: Some(dec!(0)),
        stop_atr: Some(dec!(1)),
        take_profit: vec![
            TakeProfitLevel {
                pct: None,
                atr: None,
                fraction: dec!(0.7),
            },
            TakeProfitLevel {
                pct: Some(dec!(1)),
                atr: None,
                fraction: dec!(0.7),
            },
        ],
        max_adds: 2,
        ..ManagerConfig::default()
    };
    let problems = bad.problems("manage");
    for needle in [
        "stop_pct: must be above 0",
        "give one, not both",
        "take_profit[0]: give pct or atr",
        "add up to 1.4",
        "add_spacing_atr: needed",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle}: {problems:?}"
        );
    }
}

fn managed(config: ManagerConfig) -> (PortfolioSet, ScriptSteps) {
    let mut p = Portfolio::new(PortfolioId::new("p1"), Asset::new("USDT"));
    p.deposit(Asset::new("USDT"), Amount::new(dec!(100000)));
    p.add_instrument(btc_perp());
    let (script, steps) = Script::new();
    let mut set = PortfolioSet::new();
    set.add(PortfolioEngine::new(p, Box::new(script)).with_manager(config));
    (set, steps)
}

fn at(
    set: &mut PortfolioSet,
    steps: &ScriptSteps,
    minute: i64,
    close: Decimal,
    order: Option<OrderRequest>,
) -> Vec<Output> {
    if let Some(order) = order {
        steps
            .lock()
            .expect("steps")
            .push_back(Box::new(move |out| out.submit(order)));
    }
    set.on_market(&bar("BTCUSDT", minute, close));
    std::iter::from_fn(|| set.poll_output())
        .map(|(_, o)| o)
        .collect()
}

fn fill(set: &mut PortfolioSet, intent: &OrderIntent, price: Decimal, trade: &str) -> Vec<Output> {
    set.on_report(&fill_report(
        &intent.client_order_id,
        trade,
        price,
        intent.qty.get(),
        Decimal::ZERO,
        true,
    ));
    std::iter::from_fn(|| set.poll_output())
        .map(|(_, o)| o)
        .collect()
}

fn submits(outputs: &[Output]) -> Vec<OrderIntent> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Command(Command::Submit(i)) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn cancels(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Command(Command::Cancel(c)) => Some(c.client_order_id.to_string()),
            _ => None,
        })
        .collect()
}

fn buy(q: Decimal) -> OrderRequest {
    OrderRequest::market("BTCUSDT".into(), Side::Buy, qty(q), "entry")
}

#[test]
fn a_new_position_gets_its_stop_and_ladder_and_the_stop_trails_up() {
    let (mut set, steps) = managed(ManagerConfig {
        stop_pct: Some(dec!(2)),
        trail_pct: Some(dec!(1)),
        take_profit: vec![
            TakeProfitLevel {
                pct: Some(dec!(3)),
                atr: None,
                fraction: dec!(0.5),
            },
            TakeProfitLevel {
                pct: Some(dec!(6)),
                atr: None,
                fraction: dec!(0.5),
            },
        ],
        ..ManagerConfig::default()
    });
    let entry = submits(&at(&mut set, &steps, 1, dec!(100), Some(buy(dec!(1)))))[0].clone();
    let out = fill(&mut set, &entry, dec!(100), "t1");
    let placed = submits(&out);
    let kinds: Vec<(String, Option<Decimal>, Decimal, bool)> = placed
        .iter()
        .map(|i| {
            (
                i.tag.to_string(),
                i.kind.stop_price().map(chimera_kernel::value::Price::get),
                i.qty.get(),
                i.reduce_only,
            )
        })
        .collect();
    // First stop 2 % under the entry, trailed 1 % under the best price (100): 99.
    assert_eq!(
        kinds,
        vec![
            ("stop".to_owned(), Some(dec!(99)), dec!(1), true),
            ("take_profit".to_owned(), Some(dec!(103)), dec!(0.5), true),
            ("take_profit".to_owned(), Some(dec!(106)), dec!(0.5), true),
        ]
    );
    assert!(placed.iter().all(|i| i.side == Side::Sell));
    assert!(matches!(placed[0].kind, OrderKind::StopMarket { .. }) && placed[0].close_position);
    let stop_id = placed[0].client_order_id.to_string();

    // Up to 102: the stop moves to 100.98 (cancel the old one, place the new one).
    let out = at(&mut set, &steps, 2, dec!(102), None);
    assert_eq!(cancels(&out), vec![stop_id]);
    let moved = submits(&out);
    assert_eq!(moved.len(), 1);
    assert_eq!(
        moved[0]
            .kind
            .stop_price()
            .map(chimera_kernel::value::Price::get),
        Some(dec!(100.98))
    );
    assert_eq!(moved[0].tag.as_str(), "trail");
    // Back to 101: never down.
    let out = at(&mut set, &steps, 3, dec!(101), None);
    assert!(submits(&out).is_empty() && cancels(&out).is_empty());
    let managed = &set.engine(0).managed()[&"BTCUSDT".into()];
    assert_eq!(managed.stop, Some(dec!(100.98)));

    // The stop fires: flat, what protected the position is cancelled.
    let out = fill(&mut set, &moved[0], dec!(100.98), "t2");
    let mut cancelled = cancels(&out);
    cancelled.sort();
    let mut ladder: Vec<String> = placed[1..]
        .iter()
        .map(|i| i.client_order_id.to_string())
        .collect();
    ladder.sort();
    assert_eq!(cancelled, ladder);
    assert!(set.engine(0).managed().is_empty());
}

#[test]
fn add_ons_follow_the_spacing_and_the_size_schedule() {
    let (mut set, steps) = managed(ManagerConfig {
        max_adds: 2,
        add_spacing_atr: Some(dec!(2)),
        add_sizes: vec![dec!(0.5), dec!(0.25)],
        atr_period: Some(1),
        ..ManagerConfig::default()
    });
    at(&mut set, &steps, 0, dec!(99), None);
    let entry = submits(&at(&mut set, &steps, 1, dec!(100), Some(buy(dec!(2)))))[0].clone();
    assert!(submits(&fill(&mut set, &entry, dec!(100), "t1")).is_empty());
    // ATR(1) = the last true range. 100 → 101: ATR 1, 1 above the entry < 2 ATRs.
    assert!(submits(&at(&mut set, &steps, 2, dec!(101), None)).is_empty());
    // 101 → 103: ATR 2, 3 above < 4.
    assert!(submits(&at(&mut set, &steps, 3, dec!(103), None)).is_empty());
    // 103 → 104: ATR 1, 4 above ≥ 2: first add, half the entry.
    let adds = submits(&at(&mut set, &steps, 4, dec!(104), None));
    assert_eq!(adds.len(), 1);
    assert_eq!(
        (adds[0].tag.as_str(), adds[0].qty.get(), adds[0].side),
        ("add", dec!(1), Side::Buy)
    );
    assert!(
        submits(&fill(&mut set, &adds[0], dec!(104), "t2")).is_empty(),
        "spaced from the add"
    );
    // 104 → 105 (ATR 1, 1 above the add) and → 107 (ATR 2, 3 above < 4): nothing.
    assert!(submits(&at(&mut set, &steps, 5, dec!(105), None)).is_empty());
    assert!(submits(&at(&mut set, &steps, 6, dec!(107), None)).is_empty());
    // 107 → 108: ATR 1, 4 above the add: second add, a quarter.
    let adds = submits(&at(&mut set, &steps, 7, dec!(108), None));
    assert_eq!(adds[0].qty.get(), dec!(0.5));
    fill(&mut set, &adds[0], dec!(108), "t3");
    // The limit is reached.
    assert!(submits(&at(&mut set, &steps, 8, dec!(120), None)).is_empty());
    assert_eq!(set.engine(0).managed()[&"BTCUSDT".into()].adds, 2);
}

#[test]
fn a_trailing_stop_moves_only_by_its_minimum_step() {
    let (mut set, steps) = managed(ManagerConfig {
        trail_pct: Some(dec!(1)),
        trail_min_step_pct: Some(dec!(1)),
        ..ManagerConfig::default()
    });
    let entry = submits(&at(&mut set, &steps, 1, dec!(100), Some(buy(dec!(1)))))[0].clone();
    let first = submits(&fill(&mut set, &entry, dec!(100), "t1"));
    assert_eq!(
        first[0]
            .kind
            .stop_price()
            .map(chimera_kernel::value::Price::get),
        Some(dec!(99))
    );
    // 102: the stop would rise 1.98, more than 1 % of 102: moved.
    let moved = submits(&at(&mut set, &steps, 2, dec!(102), None));
    assert_eq!(
        moved[0]
            .kind
            .stop_price()
            .map(chimera_kernel::value::Price::get),
        Some(dec!(100.98))
    );
    // 103: it would rise 0.99, less than 1.03: kept.
    let out = at(&mut set, &steps, 3, dec!(103), None);
    assert!(submits(&out).is_empty() && cancels(&out).is_empty());
    // 104.5: 2.475 more: moved.
    assert_eq!(
        submits(&at(&mut set, &steps, 4, dec!(104.5), None)).len(),
        1
    );
}

#[test]
fn a_perpetual_positions_roe_and_liquidation_distance() {
    use chimera_kernel::portfolio::Position;
    use chimera_kernel::position_manager::PositionRisk;
    let instrument = chimera_kernel::instrument::Instrument {
        leverage: dec!(10),
        ..btc_perp()
    };
    let mut position = Position::flat("BTCUSDT".into(), instrument.kind, dec!(1), dec!(10));
    assert_eq!(PositionRisk::of(&position, &instrument), None, "flat");
    position.apply_fill(
        Side::Buy,
        qty(dec!(2)),
        chimera_kernel::testing::px(dec!(100)),
    );
    position.mark = Some(chimera_kernel::testing::px(dec!(105)));
    let risk = PositionRisk::of(&position, &instrument).expect("open");
    // Margin at entry 200 / 10 = 20; unrealised 10: ROE 0.5.
    assert_eq!(risk.roe, Some(dec!(0.5)));
    // 100 · (1 − 0.1 + 0.004) = 90.4, 13.9048 % under the mark of 105.
    assert_eq!(risk.liquidation_price, Some(dec!(90.4)));
    assert_eq!(risk.liquidation_distance_pct, Some(dec!(13.9048)));
}
