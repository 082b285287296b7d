//! The kernel's hot path for one portfolio: a market event in, features, strategy, decision
//! pipeline (gates and rules), sizing, pre-trade risk and the position manager, an order intent
//! out. Prints p50 / p99 / p99.9 per event and events per second, for the whole pipeline and,
//! as the floor measured in the same run, for the same strategy with nothing configured.
//!
//! `cargo bench -p chimera-kernel --bench hot_path` (optionally `-- 500000` bars).

use chimera_kernel::decision::{DecisionPolicy, GateConfig, RuleSet};
use chimera_kernel::engine::{Command, Output, PortfolioEngine, PortfolioSet};
use chimera_kernel::event::{Bar, ExecutionReport, Fill, Liquidity, MarketEvent, ReportKind};
use chimera_kernel::ids::{Asset, PortfolioId, Symbol, TradeId};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::position_manager::ManagerConfig;
use chimera_kernel::risk::RiskLimits;
use chimera_kernel::rng::SeededRng;
use chimera_kernel::sizing::SizingRule;
use chimera_kernel::strategy::{build_strategy, StrategyParams};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Money, Price, Quantity};
use chimera_kernel::Decimal;
use std::time::Instant;

const RULES: &str = r#"
rule frozen priority 100 when regime == "FROZEN" then skip_entry
rule flat priority 90 when abs(signal_value) < 0.0001 * atr(14) then skip_entry
rule volatile priority 50 when regime == "EXTREME" or rv(20) > 1.5 then size_mult 0.5, sl_mult 1.5
rule weekend priority 10 when weekday == "sat" or weekday == "sun" then size_mult 0.5
"#;

fn bars(n: usize) -> Vec<MarketEvent> {
    let mut rng = SeededRng::new(42);
    let mut price = 40_000.0_f64;
    (0..n)
        .map(|i| {
            let open = price;
            price *= 1.0 + rng.next_gaussian() * 0.001;
            let (hi, lo) = (open.max(price) * 1.0004, open.min(price) * 0.9996);
            let p =
                |x: f64| Price::new(Decimal::new((x * 100.0).round() as i64, 2)).expect("price");
            MarketEvent::Bar(Bar {
                symbol: Symbol::new("BTCUSDT"),
                ts: Timestamp(1_640_995_200_000 + i as i64 * 60_000),
                open: p(open),
                high: p(hi),
                low: p(lo),
                close: p(price),
                volume: Quantity::new(Decimal::from(10)).expect("qty"),
            })
        })
        .collect()
}

fn engine(full: bool) -> PortfolioEngine {
    let mut portfolio = Portfolio::new(PortfolioId::new("bench"), Asset::new("USDT"));
    portfolio.deposit(Asset::new("USDT"), Amount::new(Decimal::from(1_000_000)));
    portfolio.add_instrument(chimera_kernel::testing::btc_perp());
    let params: StrategyParams = [
        ("fast", "10"),
        ("slow", "30"),
        ("qty", "0.1"),
        ("entries", "cross"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let strategy = build_strategy("ema-cross", &params).expect("strategy");
    let engine = PortfolioEngine::new(portfolio, strategy);
    if !full {
        return engine;
    }
    engine
        .with_risk(RiskLimits {
            max_position_ratio: Some(Decimal::from(3)),
            max_order_notional: Some(Decimal::from(500_000)),
            max_open_orders: Some(50),
            price_band_bps: Some(Decimal::from(200)),
            max_orders_per_window: Some(100),
            rate_window_ms: Some(60_000),
            ..RiskLimits::default()
        })
        .with_policy(DecisionPolicy {
            gates: GateConfig::default(),
            rules: RuleSet::parse(RULES).expect("rules"),
            model: None,
            sizing: Some(SizingRule::VolTarget {
                risk: Decimal::from(200),
                atr_mult: Decimal::from(2),
            }),
            config_rev: 1,
        })
        .with_manager(ManagerConfig {
            stop_atr: Some(Decimal::from(2)),
            trail_atr: Some(Decimal::from(3)),
            trail_min_step_pct: Some(Decimal::new(1, 1)),
            ..ManagerConfig::default()
        })
}

fn fill(intent: &chimera_kernel::order::OrderIntent, price: Price, n: u64) -> ExecutionReport {
    ExecutionReport {
        portfolio_id: intent.portfolio_id.clone(),
        client_order_id: intent.client_order_id.clone(),
        venue_order_id: None,
        symbol: intent.symbol.clone(),
        ts: intent.created_at,
        kind: ReportKind::Filled(Fill {
            trade_id: TradeId::new(format!("t{n}")),
            price,
            qty: intent.qty,
            fee: Money::new(Decimal::ZERO, Asset::new("USDT")),
            liquidity: Liquidity::Taker,
        }),
    }
}

fn report(
    of: (
        &chimera_kernel::ids::PortfolioId,
        &chimera_kernel::ids::ClientOrderId,
        &Symbol,
        Timestamp,
    ),
    kind: ReportKind,
) -> ExecutionReport {
    ExecutionReport {
        portfolio_id: of.0.clone(),
        client_order_id: of.1.clone(),
        venue_order_id: None,
        symbol: of.2.clone(),
        ts: of.3,
        kind,
    }
}

/// The venue's side, outside the measured time, until nothing more is asked: orders
/// accepted, cancels confirmed, market orders filled at the close, resting stops left alone
/// (a bar may trigger them: ignored here).
fn venue(
    set: &mut PortfolioSet,
    mut submits: Vec<chimera_kernel::order::OrderIntent>,
    mut cancels: Vec<chimera_kernel::order::CancelRequest>,
    price: Price,
    trades: &mut u64,
) {
    while !submits.is_empty() || !cancels.is_empty() {
        for intent in std::mem::take(&mut submits) {
            let of = (
                &intent.portfolio_id,
                &intent.client_order_id,
                &intent.symbol,
                intent.created_at,
            );
            set.on_report(&report(of, ReportKind::Accepted));
            if intent.kind.stop_price().is_none() {
                *trades += 1;
                set.on_report(&fill(&intent, price, *trades));
            }
        }
        for c in std::mem::take(&mut cancels) {
            let of = (&c.portfolio_id, &c.client_order_id, &c.symbol, c.created_at);
            set.on_report(&report(of, ReportKind::Canceled));
        }
        while let Some((_, output)) = set.poll_output() {
            match output {
                Output::Command(Command::Submit(intent)) => submits.push(intent),
                Output::Command(Command::Cancel(c)) => cancels.push(c),
                _ => {}
            }
        }
    }
}

struct Figures {
    p50: u128,
    p99: u128,
    p999: u128,
    per_sec: f64,
    intents: usize,
    intent_p99: u128,
    quiet_p99: u128,
}

fn run(events: &[MarketEvent], full: bool) -> Figures {
    let mut set = PortfolioSet::new();
    set.add(engine(full));
    let mut times = Vec::with_capacity(events.len());
    let mut intent_times = Vec::new();
    let mut quiet_times = Vec::new();
    let mut trades = 0;
    let mut reasons = std::collections::BTreeMap::<&'static str, usize>::new();
    let started = Instant::now();
    for event in events {
        let t = Instant::now();
        set.on_market(event);
        let mut submits = Vec::new();
        let mut cancels = Vec::new();
        while let Some((_, output)) = set.poll_output() {
            match output {
                Output::Command(Command::Submit(intent)) => submits.push(intent),
                Output::Command(Command::Cancel(c)) => cancels.push(c),
                Output::Decision(d) => *reasons.entry(d.decision.reason.code()).or_insert(0) += 1,
                Output::Refused(r) => *reasons.entry(r.reason.as_str()).or_insert(0) += 1,
                _ => {}
            }
        }
        let ns = t.elapsed().as_nanos();
        times.push(ns);
        let price = event.mark_price().expect("bar price");
        if submits.is_empty() && cancels.is_empty() {
            quiet_times.push(ns);
        }
        intent_times.extend(
            submits
                .iter()
                .filter(|i| i.kind.stop_price().is_none())
                .map(|_| ns),
        );
        venue(&mut set, submits, cancels, price, &mut trades);
    }
    let elapsed = started.elapsed().as_secs_f64();
    if !reasons.is_empty() {
        println!("  decisions and refusals: {reasons:?}");
    }
    times.sort_unstable();
    intent_times.sort_unstable();
    quiet_times.sort_unstable();
    let q = |v: &[u128], q: f64| {
        v.get(((v.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0)
    };
    Figures {
        p50: q(&times, 0.5),
        p99: q(&times, 0.99),
        p999: q(&times, 0.999),
        per_sec: events.len() as f64 / elapsed,
        intents: intent_times.len(),
        intent_p99: q(&intent_times, 0.99),
        quiet_p99: q(&quiet_times, 0.99),
    }
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let events = bars(n);
    // Warm the caches and the allocator once.
    let _ = run(&events[..n.min(20_000)], true);
    println!("kernel hot path, one portfolio, {n} one-minute bars (ema-cross 10/30 on crossings)");
    println!(
        "{:<52} {:>7} {:>7} {:>9} {:>10} {:>8} {:>10} {:>14}",
        "pipeline",
        "p50 ns",
        "p99 ns",
        "p99.9 ns",
        "events/s",
        "intents",
        "intent p99",
        "no-order p99"
    );
    for (label, full) in [
        ("floor: strategy only", false),
        ("features + gates + rules + sizing + risk + manager", true),
    ] {
        let f = run(&events, full);
        println!(
            "{label:<52} {:>7} {:>7} {:>9} {:>10.0} {:>8} {:>10} {:>14}",
            f.p50, f.p99, f.p999, f.per_sec, f.intents, f.intent_p99, f.quiet_p99
        );
    }
}
