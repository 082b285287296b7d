//! The decision pipeline in the engine: gates, rules, the model request with its fallback,
//! sizing and the shared budgets, each ending in one decision record.

use chimera_kernel::decision::{
    DecisionAction, DecisionPolicy, DecisionReason, DecisionRecord, Entry, GateConfig, HealthLevel,
    LocalServices, ModelConfig, RuleSet, TraceStep, TradingWindow,
};
use chimera_kernel::engine::{Command, Control, Input, Output, PortfolioEngine};
use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
use chimera_kernel::order::{OrderIntent, Side};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::request::{Outcome, Request, RequestKind, Response};
use chimera_kernel::risk::KillState;
use chimera_kernel::testing::{bar, btc_perp, drain, fill_report, qty, Script, ScriptSteps};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Amount;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn engine(policy: DecisionPolicy) -> (PortfolioEngine, ScriptSteps) {
    engine_of("p1", policy)
}

fn engine_of(id: &str, policy: DecisionPolicy) -> (PortfolioEngine, ScriptSteps) {
    let mut p = Portfolio::new(PortfolioId::new(id), Asset::new("USDT"));
    p.deposit(Asset::new("USDT"), Amount::new(dec!(100000)));
    p.add_instrument(btc_perp());
    let (script, steps) = Script::new();
    (
        PortfolioEngine::new(p, Box::new(script)).with_policy(policy),
        steps,
    )
}

/// A policy allowing `slots` open positions per symbol across every portfolio.
fn concurrency(slots: u32) -> DecisionPolicy {
    DecisionPolicy {
        gates: GateConfig {
            max_concurrent_per_symbol: Some(slots),
            ..GateConfig::default()
        },
        ..DecisionPolicy::default()
    }
}

fn long(q: Decimal) -> Entry {
    Entry {
        symbol: Symbol::new("BTCUSDT"),
        side: Side::Buy,
        qty: qty(q),
        signal: "cross_up".into(),
        value: Some(dec!(1.5)),
    }
}

/// A bar at `minute` closing at 100, with the strategy asking for `entry`.
fn signal(
    engine: &mut PortfolioEngine,
    steps: &ScriptSteps,
    minute: i64,
    entry: Option<Entry>,
) -> Vec<Output> {
    if let Some(entry) = entry {
        steps
            .lock()
            .expect("steps")
            .push_back(Box::new(move |out| out.enter(entry)));
    }
    let event = bar("BTCUSDT", minute, dec!(100));
    engine.handle(Input::Market(&event), Timestamp(minute * 60_000));
    drain(engine)
}

fn decisions(outputs: &[Output]) -> Vec<&DecisionRecord> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Decision(d) => Some(d.as_ref()),
            _ => None,
        })
        .collect()
}

fn submits(outputs: &[Output]) -> Vec<&OrderIntent> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Command(Command::Submit(i)) => Some(i),
            _ => None,
        })
        .collect()
}

fn requests(outputs: &[Output]) -> Vec<&Request> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn the_default_policy_opens_at_the_strategys_quantity_and_records_it() {
    let (mut engine, steps) = engine(DecisionPolicy::default());
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(0.5))));
    let sent = submits(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].qty, qty(dec!(0.5)));
    assert_eq!(sent[0].tag.as_str(), "entry");
    let d = decisions(&out);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].decision.action, DecisionAction::Open);
    assert_eq!(d[0].decision.reason, DecisionReason::Open);
    assert_eq!(d[0].intent_id.as_ref(), Some(&sent[0].intent_id));
    assert_eq!(d[0].signal_id.as_str(), "p1-sig-0");
    assert_eq!(d[0].signal.as_str(), "cross_up");
    assert_eq!(d[0].t0, Timestamp(60_000));
    let next = signal(&mut engine, &steps, 2, Some(long(dec!(0.5))));
    assert_eq!(
        decisions(&next)[0].signal_id.as_str(),
        "p1-sig-1",
        "ids never repeat"
    );
}

#[test]
fn gates_block_in_order_and_health_scales_the_size() {
    let policy = DecisionPolicy {
        gates: GateConfig {
            window: Some(TradingWindow {
                days: Vec::new(),
                sessions: vec!["00:00-00:10".into()],
            }),
            ..GateConfig::default()
        },
        ..DecisionPolicy::default()
    };
    let (mut engine, steps) = engine(policy);
    let reason = |out: &[Output]| decisions(out)[0].decision.reason;
    engine.handle(
        Input::Control(&Control::KillSwitch { state: halt_all() }),
        Timestamp(0),
    );
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    assert_eq!(reason(&out), DecisionReason::KillSwitch);
    assert!(submits(&out).is_empty());
    assert_eq!(
        decisions(&out)[0].decision.trace,
        vec![TraceStep::GateBlocked {
            gate: chimera_kernel::decision::Gate::KillSwitch
        }]
    );
    engine.handle(
        Input::Control(&Control::KillSwitch {
            state: KillState::default(),
        }),
        Timestamp(0),
    );
    engine.handle(
        Input::Control(&Control::Health {
            level: HealthLevel::Yellow,
        }),
        Timestamp(0),
    );
    let out = signal(&mut engine, &steps, 2, Some(long(dec!(1))));
    assert_eq!(
        submits(&out)[0].qty,
        qty(dec!(0.5)),
        "YELLOW halves by default"
    );
    engine.handle(
        Input::Control(&Control::Health {
            level: HealthLevel::Orange,
        }),
        Timestamp(0),
    );
    assert_eq!(
        reason(&signal(&mut engine, &steps, 3, Some(long(dec!(1))))),
        DecisionReason::Health
    );
    engine.handle(
        Input::Control(&Control::Health {
            level: HealthLevel::Green,
        }),
        Timestamp(0),
    );
    // Minute 11 is past the 00:00-00:10 session.
    assert_eq!(
        reason(&signal(&mut engine, &steps, 11, Some(long(dec!(1))))),
        DecisionReason::TradingWindow
    );
    // A snapshot keeps what the gates were told.
    engine.handle(
        Input::Control(&Control::KillSwitch { state: halt_all() }),
        Timestamp(0),
    );
    assert!(!engine.snapshot().decisions.kill.is_clear());
}

#[test]
fn rules_skip_or_scale_and_their_trace_is_recorded() {
    let rules = RuleSet::parse(
        "rule small priority 5 when signal_value > 1 then size_mult 0.25\n\
         rule late when hour >= 1 then skip_entry",
    )
    .expect("rules");
    let (mut engine, steps) = engine(DecisionPolicy {
        rules,
        config_rev: 7,
        ..DecisionPolicy::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(2))));
    assert_eq!(submits(&out)[0].qty, qty(dec!(0.5)));
    let d = decisions(&out)[0];
    assert_eq!(d.config_rev, 7);
    assert!(matches!(&d.decision.trace[..], [TraceStep::Rule(r)] if r.rule == "small"));
    let out = signal(&mut engine, &steps, 61, Some(long(dec!(2))));
    assert!(submits(&out).is_empty());
    assert_eq!(decisions(&out)[0].decision.reason, DecisionReason::Rule);
}

#[test]
fn the_model_scales_the_size_and_a_timeout_falls_back_to_the_rules() {
    let mut model = ModelConfig::new("logit");
    model.timeout_ms = 100;
    let (mut engine, steps) = engine(DecisionPolicy {
        model: Some(model),
        ..DecisionPolicy::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    assert!(
        submits(&out).is_empty() && decisions(&out).is_empty(),
        "waits for the score"
    );
    let asked = requests(&out);
    assert!(matches!(&asked[0].kind, RequestKind::ModelScore { model, .. } if model == "logit"));
    let answer = Response {
        portfolio_id: PortfolioId::new("p1"),
        request_id: asked[0].request_id,
        outcome: Outcome::Score { value: dec!(0.8) },
    };
    engine.handle(Input::Response(&answer), Timestamp(60_010));
    let out = drain(&mut engine);
    assert_eq!(
        submits(&out)[0].qty,
        qty(dec!(1.5)),
        "p at p_high maps to 1.5"
    );
    assert_eq!(decisions(&out)[0].model_p, Some(dec!(0.8)));

    // No answer: at the deadline the decision keeps the rules' size and says why.
    let out = signal(&mut engine, &steps, 2, Some(long(dec!(1))));
    assert_eq!(requests(&out).len(), 1);
    engine.handle(Input::Timer, Timestamp(120_000 + 100));
    let out = drain(&mut engine);
    assert_eq!(submits(&out)[0].qty, qty(dec!(1)));
    let d = decisions(&out)[0];
    assert!(d.decision.trace.iter().any(|s| matches!(
        s,
        TraceStep::ModelFallback {
            fallback: chimera_kernel::decision::ModelFallback::TimedOut,
            ..
        }
    )));
    assert_eq!(
        d.t0,
        Timestamp(120_000),
        "t0 is the signal's time, not the answer's"
    );
}

#[test]
fn a_model_scoring_below_its_floor_skips() {
    let mut model = ModelConfig::new("logit");
    model.skip_below = Some(dec!(0.4));
    let (mut engine, steps) = engine(DecisionPolicy {
        model: Some(model),
        ..DecisionPolicy::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    let answer = Response {
        portfolio_id: PortfolioId::new("p1"),
        request_id: requests(&out)[0].request_id,
        outcome: Outcome::Score { value: dec!(0.3) },
    };
    engine.handle(Input::Response(&answer), Timestamp(60_000));
    let out = drain(&mut engine);
    assert!(submits(&out).is_empty());
    assert_eq!(decisions(&out)[0].decision.reason, DecisionReason::Model);
}

/// Answers every request of `outputs` from `services`, feeding the answers back, until the
/// engine asks nothing more; returns everything it produced.
fn serve(
    engine: &mut PortfolioEngine,
    services: &mut LocalServices,
    mut outputs: Vec<Output>,
    now: Timestamp,
) -> Vec<Output> {
    let mut all = Vec::new();
    loop {
        let asked: Vec<Request> = requests(&outputs).into_iter().cloned().collect();
        all.append(&mut outputs);
        if asked.is_empty() {
            return all;
        }
        for request in asked {
            engine.handle(Input::Response(&services.answer(&request)), now);
        }
        outputs = drain(engine);
    }
}

#[test]
fn the_concurrency_budget_is_shared_reserved_by_intent_and_released_when_flat() {
    let policy = concurrency(1);
    let mut services = LocalServices::default();
    let (mut a, steps_a) = engine(policy.clone());
    let (mut b, steps_b) = engine_of("p2", policy);
    let out = signal(&mut a, &steps_a, 1, Some(long(dec!(1))));
    let out = serve(&mut a, &mut services, out, Timestamp(60_000));
    let entry = submits(&out)[0].clone();
    assert!(
        matches!(&requests(&out)[0].kind, RequestKind::RiskReservation { key, .. } if key == entry.intent_id.as_str()),
        "the reservation is keyed by the entry's intent id"
    );
    assert_eq!(services.used("risk:{concurrency}:BTCUSDT"), 1);

    // Another node's portfolio: the budget is exhausted.
    let out = signal(&mut b, &steps_b, 1, Some(long(dec!(1))));
    let out = serve(&mut b, &mut services, out, Timestamp(60_000));
    assert!(submits(&out).is_empty());
    let d = decisions(&out)[0];
    assert_eq!(d.decision.reason, DecisionReason::RiskBudget);
    assert!(d
        .decision
        .trace
        .iter()
        .any(|s| matches!(s, TraceStep::Budget { granted: false, .. })));

    // Asking again under the same key reserves nothing more (a replay after a restart).
    let again = requests(&signal(&mut a, &steps_a, 2, None)).len();
    assert_eq!(again, 0);

    // Fill the entry, then close: flat, the reservation is released.
    let fill = fill_report(
        &entry.client_order_id,
        "t1",
        dec!(100),
        dec!(1),
        Decimal::ZERO,
        true,
    );
    a.handle(Input::Execution(&fill), Timestamp(120_000));
    assert!(
        requests(&drain(&mut a)).is_empty(),
        "still open: nothing released"
    );
    assert_eq!(a.reservations().count(), 1);
    steps_a.lock().expect("steps").push_back(Box::new(|out| {
        out.submit(chimera_kernel::strategy::OrderRequest::market(
            Symbol::new("BTCUSDT"),
            Side::Sell,
            qty(dec!(1)),
            "close",
        ));
    }));
    let out = signal(&mut a, &steps_a, 3, None);
    let close = submits(&out)[0].clone();
    let fill = fill_report(
        &close.client_order_id,
        "t2",
        dec!(100),
        dec!(1),
        Decimal::ZERO,
        true,
    );
    a.handle(Input::Execution(&fill), Timestamp(180_000));
    let drained = drain(&mut a);
    let out = serve(&mut a, &mut services, drained, Timestamp(180_000));
    assert!(
        matches!(&requests(&out)[0].kind, RequestKind::RiskRelease { key, .. } if key == entry.intent_id.as_str())
    );
    assert_eq!(services.used("risk:{concurrency}:BTCUSDT"), 0);
    assert_eq!(a.reservations().count(), 0);

    // Now the other portfolio gets it.
    let out = signal(&mut b, &steps_b, 4, Some(long(dec!(1))));
    let out = serve(&mut b, &mut services, out, Timestamp(240_000));
    assert_eq!(submits(&out).len(), 1);
}

#[test]
fn an_entry_waiting_for_its_reservation_survives_a_restart() {
    let policy = concurrency(2);
    let (mut engine, steps) = engine(policy.clone());
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    let asked = requests(&out)[0].clone();
    let snapshot = serde_json::to_string(&engine.snapshot()).expect("snapshot");
    let (script, _) = Script::new();
    let mut restored = PortfolioEngine::from_snapshot(
        serde_json::from_str(&snapshot).expect("snapshot"),
        Box::new(script),
    )
    .expect("restore")
    .with_policy(policy);
    let mut services = LocalServices::default();
    restored.handle(Input::Response(&services.answer(&asked)), Timestamp(60_000));
    let out = drain(&mut restored);
    let sent = submits(&out);
    assert_eq!(sent.len(), 1);
    let RequestKind::RiskReservation { key, .. } = &asked.kind else {
        panic!()
    };
    assert_eq!(
        sent[0].intent_id.as_str(),
        key,
        "the order takes the reserved intent id"
    );
    assert_eq!(decisions(&out)[0].signal_id.as_str(), "p1-sig-0");
    assert_eq!(restored.reservations().count(), 1);
}

#[test]
fn sizing_rules_size_entries_and_a_refusal_is_a_skip() {
    let (mut engine, steps) = engine(DecisionPolicy {
        sizing: Some(chimera_kernel::sizing::SizingRule::FixedNotional {
            notional: dec!(250),
        }),
        ..DecisionPolicy::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(99))));
    assert_eq!(submits(&out)[0].qty, qty(dec!(2.5)), "250 USDT at 100");
    let (mut engine, steps) = self::engine(DecisionPolicy {
        sizing: Some(chimera_kernel::sizing::SizingRule::VolTarget {
            risk: dec!(100),
            atr_mult: dec!(2),
        }),
        ..DecisionPolicy::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    assert!(submits(&out).is_empty());
    assert_eq!(decisions(&out)[0].decision.reason, DecisionReason::Sizing);
    assert!(matches!(
        decisions(&out)[0].decision.trace[..],
        [TraceStep::SizingRefused {
            refusal: chimera_kernel::sizing::SizingRefusal::NoAtr
        }]
    ));
}

#[test]
fn rules_read_the_drawdown_from_the_peak_equity_which_survives_a_restart() {
    let rules = RuleSet::parse("rule deep when drawdown_pct > 10 then skip_entry").expect("rules");
    let policy = DecisionPolicy {
        rules,
        ..DecisionPolicy::default()
    };
    let (mut engine, steps) = engine(policy.clone());
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(100))));
    let entry = submits(&out)[0].clone();
    let fill = fill_report(
        &entry.client_order_id,
        "t1",
        dec!(100),
        dec!(100),
        Decimal::ZERO,
        true,
    );
    engine.handle(Input::Execution(&fill), Timestamp(60_000));
    drain(&mut engine);
    // 100 BTC from 100 to 300: equity 120 000; then back to 170: 107 000, 10.8 % below the peak.
    for (minute, close) in [(2, dec!(300)), (3, dec!(170))] {
        let event = bar("BTCUSDT", minute, close);
        engine.handle(Input::Market(&event), Timestamp(minute * 60_000));
        drain(&mut engine);
    }
    assert_eq!(engine.snapshot().peak_equity, Some(dec!(120000)));
    let snapshot = engine.snapshot();
    let (script, steps) = Script::new();
    let mut restored = PortfolioEngine::from_snapshot(snapshot, Box::new(script))
        .expect("restore")
        .with_policy(policy);
    steps
        .lock()
        .expect("steps")
        .push_back(Box::new(|out| out.enter(long(dec!(1)))));
    let event = bar("BTCUSDT", 4, dec!(170));
    restored.handle(Input::Market(&event), Timestamp(240_000));
    let out = drain(&mut restored);
    assert_eq!(decisions(&out)[0].decision.reason, DecisionReason::Rule);
}

#[test]
fn a_reversal_hands_its_reservation_to_the_new_position() {
    let policy = concurrency(1);
    let mut services = LocalServices::default();
    let (mut engine, steps) = engine(policy);
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    let out = serve(&mut engine, &mut services, out, Timestamp(60_000));
    let entry = submits(&out)[0].clone();
    let fill = fill_report(
        &entry.client_order_id,
        "t1",
        dec!(100),
        dec!(1),
        Decimal::ZERO,
        true,
    );
    engine.handle(Input::Execution(&fill), Timestamp(60_000));
    drain(&mut engine);
    // Close and go short on the same bar.
    steps.lock().expect("steps").push_back(Box::new(|out| {
        out.submit(
            chimera_kernel::strategy::OrderRequest::market(
                Symbol::new("BTCUSDT"),
                Side::Sell,
                qty(dec!(1)),
                "close",
            )
            .reduce_only(),
        );
        out.enter(Entry {
            side: Side::Sell,
            ..long(dec!(1))
        });
    }));
    let out = signal(&mut engine, &steps, 2, None);
    assert!(requests(&out).is_empty(), "no second reservation");
    assert_eq!(submits(&out).len(), 2);
    let d = decisions(&out)[0];
    assert_eq!(d.decision.reason, DecisionReason::Open);
    assert!(d.decision.trace.iter().any(
        |s| matches!(s, TraceStep::Budget { granted: true, detail: Some(t) } if t.contains("kept"))
    ));
    assert_eq!(services.used("risk:{concurrency}:BTCUSDT"), 1);
    assert_eq!(engine.reservations().count(), 1);
}

#[test]
fn a_decision_record_reads_back_as_written_with_every_kind_of_step() {
    use chimera_kernel::decision::{Gate, ModelFallback};
    let rules = RuleSet::parse("rule r priority 3 when price > 1 then size_mult 0.5, sl_mult 2")
        .expect("rules");
    let (mut engine, steps) = engine(DecisionPolicy {
        rules,
        ..DecisionPolicy::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    let mut record = decisions(&out)[0].clone();
    record.decision.trace.extend([
        TraceStep::GateBlocked {
            gate: Gate::TradingWindow,
        },
        TraceStep::HealthScaled {
            level: HealthLevel::Yellow,
            size_mult: dec!(0.5),
        },
        TraceStep::ModelScored {
            model: "m".into(),
            p: dec!(0.61),
            size_mult: dec!(0.77),
        },
        TraceStep::ModelFallback {
            model: "m".into(),
            fallback: ModelFallback::TimedOut,
        },
        TraceStep::ModelFallback {
            model: "m".into(),
            fallback: ModelFallback::Failed {
                reason: "feature `atr:14` is missing".into(),
            },
        },
        TraceStep::SizingRefused {
            refusal: chimera_kernel::sizing::SizingRefusal::BelowMinNotional,
        },
        TraceStep::Budget {
            granted: false,
            detail: Some("timed_out".into()),
        },
    ]);
    record.model_p = Some(dec!(0.61));
    let json = serde_json::to_string(&record).expect("json");
    assert!(
        json.contains("\"reason\":\"OPEN\"") && json.contains("\"step\":\"model_fallback\""),
        "{json}"
    );
    let back: DecisionRecord = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, record);
}

#[test]
fn an_entry_refused_by_pre_trade_risk_gives_its_reservation_back() {
    let mut services = LocalServices::default();
    let (engine, steps) = engine(concurrency(1));
    let mut engine = engine.with_risk(chimera_kernel::risk::RiskLimits {
        max_order_notional: Some(dec!(50)),
        ..chimera_kernel::risk::RiskLimits::default()
    });
    let out = signal(&mut engine, &steps, 1, Some(long(dec!(1))));
    let out = serve(&mut engine, &mut services, out, Timestamp(60_000));
    assert!(submits(&out).is_empty(), "100 USDT is above the 50 limit");
    assert!(out.iter().any(|o| matches!(o, Output::Refused(_))));
    assert_eq!(decisions(&out)[0].intent_id, None, "no order went out");
    assert_eq!(
        services.used("risk:{concurrency}:BTCUSDT"),
        0,
        "released at once"
    );
    assert_eq!(engine.reservations().count(), 0);
}

fn halt_all() -> KillState {
    let mut state = KillState::default();
    state.engage_all(chimera_kernel::risk::KillMode::HaltEntries);
    state
}
