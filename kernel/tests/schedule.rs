//! The scheduler's assignment logic: scenarios table by table, then invariants over random
//! sequences of heartbeats, deaths, portfolios, migrations and drains.

use chimera_kernel::ids::PortfolioId;
use chimera_kernel::schedule::{Change, Schedule, ScheduleInput, ScheduleRefusal};
use chimera_kernel::time::Timestamp;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn beat(node: &str, capacity: u32) -> ScheduleInput {
    ScheduleInput::Heartbeat {
        node: node.into(),
        capacity,
    }
}

fn add(p: &str) -> ScheduleInput {
    ScheduleInput::AddPortfolio {
        portfolio: PortfolioId::new(p),
        prefer: None,
    }
}

#[test]
fn a_portfolio_the_database_placed_stays_where_it_runs() {
    let mut s = Schedule::new(3_000);
    s.handle(&beat("n1", 4), Timestamp(0));
    s.handle(&beat("n2", 4), Timestamp(0));
    let prefer = |p: &str, node: &str| ScheduleInput::AddPortfolio {
        portfolio: PortfolioId::new(p),
        prefer: Some(node.into()),
    };
    for p in ["a", "b", "c"] {
        s.handle(&prefer(p, "n2"), Timestamp(1));
    }
    s.handle(&prefer("d", "gone"), Timestamp(1));
    let at = where_is(&s);
    for p in ["a", "b", "c"] {
        assert_eq!(
            at[p].as_deref(),
            Some("n2"),
            "{p} stays on the node it ran on"
        );
    }
    assert_eq!(
        at["d"].as_deref(),
        Some("n1"),
        "an unknown preference places by room"
    );
}

fn where_is(s: &Schedule) -> BTreeMap<String, Option<String>> {
    s.placements()
        .iter()
        .map(|(p, at)| (p.to_string(), at.as_ref().map(|a| a.node.clone())))
        .collect()
}

fn moves(changes: &[Change]) -> usize {
    changes
        .iter()
        .filter(|c| matches!(c, Change::Assigned { .. }))
        .count()
}

#[test]
fn portfolios_spread_over_nodes_and_stay_put() {
    let mut s = Schedule::new(3_000);
    s.handle(&beat("n1", 4), Timestamp(0));
    for p in ["a", "b", "c", "d"] {
        s.handle(&add(p), Timestamp(0));
    }
    assert_eq!(s.load("n1"), 4);
    // A second node joins: the loads even out (2 and 2), two moves, each with a new epoch.
    let changes = s.handle(&beat("n2", 4), Timestamp(100));
    assert_eq!(moves(&changes), 2);
    assert_eq!((s.load("n1"), s.load("n2")), (2, 2));
    // Heartbeats and ticks move nothing.
    let before = where_is(&s);
    assert!(s.handle(&beat("n1", 4), Timestamp(1_000)).is_empty());
    assert!(s.handle(&beat("n2", 4), Timestamp(1_000)).is_empty());
    assert!(s.handle(&ScheduleInput::Tick, Timestamp(2_000)).is_empty());
    assert_eq!(where_is(&s), before);
    // A new portfolio goes where there is most room; nothing else moves.
    let changes = s.handle(&add("e"), Timestamp(2_000));
    assert_eq!(moves(&changes), 1);
}

#[test]
fn a_dead_nodes_portfolios_move_with_new_epochs_and_wait_when_there_is_no_room() {
    let mut s = Schedule::new(3_000);
    s.handle(&beat("n1", 2), Timestamp(0));
    s.handle(&beat("n2", 1), Timestamp(0));
    for p in ["a", "b", "c"] {
        s.handle(&add(p), Timestamp(0));
    }
    assert_eq!((s.load("n1"), s.load("n2")), (2, 1));
    let epochs: BTreeMap<String, u64> = s
        .placements()
        .iter()
        .map(|(p, at)| (p.to_string(), at.as_ref().map_or(0, |a| a.epoch)))
        .collect();
    // n1 keeps beating, n2 goes silent: after 3 s it is dead; its portfolio waits (n1 is full).
    s.handle(&beat("n1", 2), Timestamp(3_500));
    let changes = s.handle(&ScheduleInput::Tick, Timestamp(3_500));
    assert!(changes.contains(&Change::NodeDead { node: "n2".into() }));
    let waiting: Vec<String> = where_is(&s)
        .into_iter()
        .filter(|(_, n)| n.is_none())
        .map(|(p, _)| p)
        .collect();
    assert_eq!(waiting.len(), 1);
    // n1 grows: the waiting portfolio runs again, under a newer epoch than any before.
    s.handle(&beat("n1", 3), Timestamp(4_000));
    let placement = s.placements()[&PortfolioId::new(&waiting[0])]
        .clone()
        .expect("placed");
    assert_eq!(placement.node, "n1");
    assert!(epochs.values().all(|e| placement.epoch > *e));
}

#[test]
fn migrations_and_drains_are_checked_and_refused_with_a_reason() {
    let mut s = Schedule::new(3_000);
    s.handle(&beat("n1", 2), Timestamp(0));
    s.handle(&beat("n2", 1), Timestamp(0));
    s.handle(&add("a"), Timestamp(0));
    s.handle(&add("b"), Timestamp(0));
    let on_n2 = s
        .placements()
        .iter()
        .find(|(_, at)| at.as_ref().is_some_and(|a| a.node == "n2"));
    assert!(on_n2.is_some(), "balanced: one each");
    let cases = [
        (
            ScheduleInput::Migrate {
                portfolio: PortfolioId::new("zz"),
                to: "n1".into(),
            },
            ScheduleRefusal::UnknownPortfolio,
        ),
        (
            ScheduleInput::Migrate {
                portfolio: PortfolioId::new("a"),
                to: "n9".into(),
            },
            ScheduleRefusal::NodeUnavailable,
        ),
        (
            ScheduleInput::RemovePortfolio {
                portfolio: PortfolioId::new("zz"),
            },
            ScheduleRefusal::UnknownPortfolio,
        ),
        (
            ScheduleInput::Drain { node: "n9".into() },
            ScheduleRefusal::NodeUnavailable,
        ),
    ];
    for (input, reason) in cases {
        let changes = s.handle(&input.clone(), Timestamp(10));
        assert_eq!(changes, vec![Change::Refused { input, reason }]);
    }
    // n2 is full: moving the other portfolio there is refused.
    let on_n1 = where_is(&s)
        .into_iter()
        .find(|(_, n)| n.as_deref() == Some("n1"))
        .expect("one on n1")
        .0;
    let to_full = ScheduleInput::Migrate {
        portfolio: PortfolioId::new(&on_n1),
        to: "n2".into(),
    };
    assert!(matches!(
        &s.handle(&to_full, Timestamp(10))[..],
        [Change::Refused {
            reason: ScheduleRefusal::NodeFull,
            ..
        }]
    ));
    // Draining n2 moves its portfolio to n1 and gives n2 nothing new.
    let changes = s.handle(&ScheduleInput::Drain { node: "n2".into() }, Timestamp(20));
    assert_eq!(moves(&changes), 1);
    assert_eq!((s.load("n1"), s.load("n2")), (2, 0));
    s.handle(&add("c"), Timestamp(30));
    assert_eq!(s.load("n2"), 0, "a draining node takes nothing");
    let to_draining = ScheduleInput::Migrate {
        portfolio: PortfolioId::new("a"),
        to: "n2".into(),
    };
    assert!(matches!(
        &s.handle(&to_draining, Timestamp(40))[..],
        [Change::Refused {
            reason: ScheduleRefusal::NodeDraining,
            ..
        }]
    ));
}

#[test]
fn a_node_back_from_the_dead_draws_no_running_portfolio_until_its_probation_ends() {
    let mut s = Schedule::new(3_000);
    s.handle(&beat("n1", 4), Timestamp(0));
    s.handle(&beat("n2", 4), Timestamp(0));
    for p in ["a", "b", "c", "d"] {
        s.handle(&add(p), Timestamp(0));
    }
    // n2 goes silent and is declared dead: its two portfolios move to n1.
    s.handle(&beat("n1", 4), Timestamp(3_500));
    s.handle(&ScheduleInput::Tick, Timestamp(3_500));
    assert_eq!(s.load("n1"), 4);
    // n2 comes back (a thawed process, say): nothing moves onto it yet.
    let changes = s.handle(&beat("n2", 4), Timestamp(4_000));
    assert!(changes.is_empty(), "{changes:?}");
    s.handle(&beat("n1", 4), Timestamp(6_000));
    s.handle(&beat("n2", 4), Timestamp(6_000));
    assert!(s.handle(&ScheduleInput::Tick, Timestamp(6_000)).is_empty());
    // It dies again during its probation: nothing had moved, nothing moves back.
    s.handle(&beat("n1", 4), Timestamp(9_500));
    let changes = s.handle(&ScheduleInput::Tick, Timestamp(9_500));
    assert!(
        matches!(&changes[..], [Change::NodeDead { node }] if node == "n2"),
        "{changes:?}"
    );
    // Back again and healthy through its probation: then the loads are balanced.
    s.handle(&beat("n2", 4), Timestamp(10_000));
    s.handle(&beat("n1", 4), Timestamp(12_000));
    s.handle(&beat("n2", 4), Timestamp(12_000));
    assert!(s.handle(&ScheduleInput::Tick, Timestamp(12_000)).is_empty());
    s.handle(&beat("n1", 4), Timestamp(13_000));
    s.handle(&beat("n2", 4), Timestamp(13_000));
    let changes = s.handle(&ScheduleInput::Tick, Timestamp(13_000));
    assert_eq!(moves(&changes), 2, "{changes:?}");
    assert_eq!((s.load("n1"), s.load("n2")), (2, 2));
}

#[test]
fn a_schedule_survives_being_stored_and_read_back() {
    let mut s = Schedule::new(3_000);
    s.handle(&beat("n1", 5), Timestamp(0));
    s.handle(&add("a"), Timestamp(0));
    let json = serde_json::to_string(&s).expect("json");
    let mut back: Schedule = serde_json::from_str(&json).expect("read");
    assert_eq!(back, s);
    // The epoch counter came back too: the next placement is newer.
    let changes = back.handle(&add("b"), Timestamp(1));
    assert!(matches!(&changes[..], [Change::Assigned { placement, .. }] if placement.epoch == 2));
}

fn input() -> impl Strategy<Value = (ScheduleInput, i64)> {
    let node = prop::sample::select(vec!["n1", "n2", "n3", "n4"]);
    let portfolio = prop::sample::select(vec!["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"]);
    let kind = prop_oneof![
        (node.clone(), 0_u32..5).prop_map(|(n, c)| beat(n, c)),
        Just(ScheduleInput::Tick),
        portfolio.clone().prop_map(add),
        portfolio
            .clone()
            .prop_map(|p| ScheduleInput::RemovePortfolio {
                portfolio: PortfolioId::new(p)
            }),
        (portfolio, node.clone()).prop_map(|(p, n)| ScheduleInput::Migrate {
            portfolio: PortfolioId::new(p),
            to: n.into()
        }),
        node.prop_map(|n| ScheduleInput::Drain { node: n.into() }),
    ];
    (kind, 0_i64..2_000)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn invariants_hold_after_every_input(inputs in prop::collection::vec(input(), 1..60)) {
        let mut s = Schedule::new(3_000);
        let mut now = 0;
        let mut last_epoch = 0;
        for (input, step) in inputs {
            now += step;
            for change in s.handle(&input, Timestamp(now)) {
                if let Change::Assigned { placement, .. } = change {
                    prop_assert!(placement.epoch > last_epoch, "epochs only grow");
                    last_epoch = placement.epoch;
                }
            }
            for (id, node) in s.nodes() {
                prop_assert!(s.load(id) <= node.capacity || node.dead, "{id} over capacity");
                if node.dead {
                    prop_assert_eq!(s.load(id), 0, "nothing runs on a dead node");
                }
            }
            let lapsed = s.nodes().values().any(|n| !n.dead && now - n.last_heartbeat.0 > 3_000);
            let probation_ends = s.nodes().values().any(|n| n.probation_until.is_some_and(|t| t.0 <= now));
            if !lapsed && !probation_ends {
                prop_assert!(s.clone().handle(&ScheduleInput::Tick, Timestamp(now)).is_empty(), "sticky: a quiet tick moves nothing");
            }
            let room = s.nodes().iter().any(|(id, n)| !n.dead && !n.draining && s.load(id) < n.capacity);
            let waiting = s.placements().values().any(Option::is_none);
            prop_assert!(!(room && waiting), "a portfolio waits while {:?} has room", s.nodes());
        }
    }
}
